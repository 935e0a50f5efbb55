// Opening a database, its connections, offline sync and conflicts, and its change feed as a Flow.
package dev.tidepool

import dev.tidepool.ffi.ChangeListener as FfiChangeListener
import dev.tidepool.ffi.TableChange as FfiTableChange
import dev.tidepool.ffi.Database as FfiDatabase
import dev.tidepool.ffi.DatabaseOptions as FfiOptions
import dev.tidepool.ffi.SyncReport as FfiSyncReport
import dev.tidepool.ffi.SyncStatus as FfiSyncStatus
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlin.time.Duration

/**
 * Settings for a [Database]. Every `null` keeps the core's default: connect timeout 10 s,
 * request timeout 30 s, total timeout (with retries) 60 s, 4 attempts for requests that are safe
 * to retry, the bundled webpki TLS roots, protobuf encoding; for local databases 4 reader
 * connections beside the writer and a busy timeout of 5 s.
 */
data class DatabaseOptions(
    val authToken: String? = null,
    val connectTimeout: Duration? = null,
    val requestTimeout: Duration? = null,
    val totalTimeout: Duration? = null,
    val maxAttempts: Int? = null,
    /** Trust only these PEM CA certificates. */
    val caPem: String? = null,
    val forceJson: Boolean = false,
    val readConnections: Int? = null,
    val busyTimeout: Duration? = null,
    /** Replica: sync this often in the background (default: only when [Database.sync] is called). */
    val syncInterval: Duration? = null,
) {
    internal fun toFfi() = FfiOptions(
        authToken = authToken,
        connectTimeoutMs = connectTimeout?.inWholeMilliseconds?.toULong(),
        requestTimeoutMs = requestTimeout?.inWholeMilliseconds?.toULong(),
        totalTimeoutMs = totalTimeout?.inWholeMilliseconds?.toULong(),
        maxAttempts = maxAttempts?.let { uint(it, "maxAttempts") },
        caPem = caPem,
        forceJson = forceJson,
        readConnections = readConnections?.let { uint(it, "readConnections") },
        busyTimeoutMs = busyTimeout?.inWholeMilliseconds?.toULong(),
        syncIntervalMs = syncInterval?.inWholeMilliseconds?.toULong(),
    )
}

private fun uint(n: Int, name: String): UInt {
    if (n < 0) throw TidepoolException.Usage("INVALID_CONFIG", null, "$name must not be negative")
    return n.toUInt()
}

/** What one [Database.sync] did. */
data class SyncReport(
    /** Rows copied whole (the first sync, new or changed tables). */
    val rowsCopied: Long,
    val tablesCopied: Long,
    val tablesDropped: Long,
    /** Row changes pulled and applied. */
    val changesApplied: Long,
    /** The replica's position in the server's change stream after the sync. */
    val position: Long,
    /** The server's position when the sync began. */
    val serverPosition: Long,
    /** Offline: local changes pushed to the server. */
    val changesPushed: Long = 0,
    /** Offline: conflicts and rejected changes this sync recorded ([Database.conflicts]). */
    val conflicts: Long = 0,
    /** Tables whose rows this sync changed on the device, sorted. */
    val tablesChanged: List<String> = emptyList(),
)

/** A replica's sync state. */
data class SyncStatus(
    /** Whether the first copy has completed (reads before it see an empty database). */
    val bootstrapped: Boolean,
    val position: Long,
    val serverPosition: Long,
    val lastSyncedAt: java.time.Instant?,
    /** The code and message of the last sync's error, if it failed. */
    val lastErrorCode: String?,
    val lastErrorMessage: String?,
    val syncing: Boolean,
    val syncs: Long,
    /** Offline: local changes waiting to be pushed, as of the last sync. */
    val pendingChanges: Long = 0,
    /** Offline: unresolved conflicts, as of the last sync. */
    val conflicts: Long = 0,
)

private fun FfiSyncReport.toPublic() = SyncReport(
    rowsCopied.toLong(), tablesCopied.toLong(), tablesDropped.toLong(), changesApplied.toLong(), position, serverPosition,
    changesPushed.toLong(), conflicts.toLong(), tablesChanged,
)

private fun FfiSyncStatus.toPublic() = SyncStatus(
    bootstrapped, position, serverPosition, lastSyncedAt, lastErrorCode, lastErrorMessage, syncing, syncs.toLong(),
    pendingChanges.toLong(), conflicts.toLong(),
)

/**
 * A database: a remote one (`http://`, `https://`, `ws://`, `wss://`, `libsql://`) or a local
 * file (`file:path`, [Database.local]) or `:memory:`, shared by all its connections. Close it
 * (or use `use {}`) to free the native handle; connections keep what they need alive.
 */
class Database private constructor(private val inner: FfiDatabase) : AutoCloseable {
    init {
        NativeSetup.ensure()
    }

    companion object {
        /** Validates [url] and [options]; does no I/O (the first statement connects). */
        fun open(url: String, options: DatabaseOptions = DatabaseOptions()): Database =
            Database(native { FfiDatabase(url, options.toFfi()) })

        /** A local database in the file at [path], created on first use. */
        fun local(path: String, options: DatabaseOptions = DatabaseOptions()): Database =
            Database(native { FfiDatabase.local(path, options.toFfi()) })

        /**
         * A replica of the server database at [url] in the local file at [path]: reads run on the
         * file, writes and transactions on the server (the replica catches up before a write
         * returns), and [sync] pulls what others changed.
         */
        fun replica(path: String, url: String, options: DatabaseOptions = DatabaseOptions()): Database =
            Database(native { FfiDatabase.replica(path, url, options.toFfi()) })

        /**
         * An offline-first database: a replica of the server database at [url] in the local file
         * at [path] that the app also writes to. Every statement runs on the file, so writes
         * commit with or without a network; [sync] pushes them (exactly once), records conflicts
         * and refused changes ([conflicts]) and pulls the server's changes. The first [sync] must
         * reach the server (it copies the server's tables: the schema is the server's). With
         * [DatabaseOptions.syncInterval] it also syncs in the background, soon after each local
         * write. Does no I/O; `INVALID_CONFIG` for `:memory:` or a URL that is not a server's.
         */
        fun offline(
            path: String,
            url: String,
            options: DatabaseOptions = DatabaseOptions(),
            offline: OfflineOptions = OfflineOptions(),
        ): Database = Database(
            native { FfiDatabase.offline(path, url, options.toFfi(), offline.toFfi(), offline.resolver?.let(::ResolverBridge)) },
        )
    }

    /** Whether the database is a local replica of a server's (offline databases are). */
    val isReplica: Boolean get() = inner.isReplica()

    /** Whether the database takes writes on the device ([offline]). */
    val isOffline: Boolean get() = inner.isOffline()

    /**
     * Replica: pulls what changed on the server since the last sync (the first copies
     * everything). Offline: first pushes the local changes, deciding conflicts. Throws with code
     * `UNSUPPORTED` on a database that is not a replica.
     */
    suspend fun sync(): SyncReport = native { inner.sync() }.toPublic()

    /** Replica: the sync state; `null` for a database that is not a replica. */
    fun syncStatus(): SyncStatus? = inner.syncStatus()?.toPublic()

    /** Replica or offline: waits for the next sync (background or explicit) to finish and returns the status. */
    suspend fun waitForSync(): SyncStatus = native { inner.waitForSync() }.toPublic()

    /** Offline: how many local changes wait to be pushed. */
    suspend fun pendingChanges(): Long = native { inner.pendingChanges() }.toLong()

    /** Offline: the conflicts and refused changes syncs recorded, oldest first, until resolved. */
    suspend fun conflicts(): List<Conflict> = native { inner.conflicts() }.map { it.toPublic() }

    /**
     * Offline: settles a recorded conflict. [Resolution.KeepRemote] accepts the row as it is;
     * [Resolution.KeepLocal] and [Resolution.Merge] write that version as a new local change,
     * which the next sync pushes. `INVALID_ARGUMENT` for an unknown id.
     */
    suspend fun resolveConflict(id: Long, resolution: Resolution) = native { inner.resolveConflict(id, resolution.toFfi()) }

    /** The server URL without credentials, or the local `file:` URL (`:memory:`). */
    val url: String get() = inner.url()

    /** Whether the database is on this device. */
    val isLocal: Boolean get() = inner.isLocal()

    /** A new connection. Cheap: no I/O until its first statement. */
    fun connect(): Connection = Connection(inner.connect())

    /**
     * Calls [listener] after each change, on a thread of the library's, until the returned
     * handle is closed. Replica or offline: the tables changed by each local commit on the
     * database ([ChangeOrigin.LOCAL]) and by each sync that changed rows ([ChangeOrigin.REMOTE]).
     * Local or remote: each committed write made through this database's connections (a
     * statement, batch or script outside a transaction, or a transaction's commit; never a
     * rollback), [ChangeOrigin.LOCAL] with [TableChange.tables] empty (not known there).
     */
    fun addChangeListener(listener: (TableChange) -> Unit): AutoCloseable {
        val handle = native {
            inner.addChangeListener(
                object : FfiChangeListener {
                    override fun onChange(change: FfiTableChange) {
                        try {
                            listener(change.toPublic())
                        } catch (e: Throwable) {
                            // The feed goes on; the failure is reported like any uncaught exception.
                            val thread = Thread.currentThread()
                            thread.uncaughtExceptionHandler?.uncaughtException(thread, e)
                        }
                    }
                },
            )
        }
        return AutoCloseable {
            handle.cancel()
            handle.close()
        }
    }

    /** Changes as they happen, while the flow is collected (see [addChangeListener]). */
    fun changes(): Flow<TableChange> = callbackFlow {
        val subscription = addChangeListener { trySend(it) }
        awaitClose { subscription.close() }
    }.buffer(Channel.UNLIMITED)

    override fun close() = inner.close()
}
