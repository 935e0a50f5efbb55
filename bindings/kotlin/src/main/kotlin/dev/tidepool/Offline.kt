// Offline mode as Kotlin sees it: conflict policies and the resolver of an offline database,
// conflicts and their resolutions, and the change feed's records.
package dev.tidepool

import dev.tidepool.ffi.ChangeOrigin as FfiChangeOrigin
import dev.tidepool.ffi.Conflict as FfiConflict
import dev.tidepool.ffi.ConflictKind as FfiConflictKind
import dev.tidepool.ffi.ConflictOutcome as FfiConflictOutcome
import dev.tidepool.ffi.ConflictPolicy as FfiConflictPolicy
import dev.tidepool.ffi.ConflictResolver as FfiConflictResolver
import dev.tidepool.ffi.ConflictRule as FfiConflictRule
import dev.tidepool.ffi.NamedValue as FfiNamedValue
import dev.tidepool.ffi.OfflineOptions as FfiOfflineOptions
import dev.tidepool.ffi.Resolution as FfiResolution
import dev.tidepool.ffi.TableChange as FfiTableChange
import java.time.Instant

/** How a table's conflicts are decided when no [ConflictResolver] is set. [wireName] is the stable name. */
enum class ConflictPolicy(val wireName: String) {
    /** Per column, the later write wins (hybrid logical clocks). The default. */
    COLUMN_LWW("column_lww"),

    /** The server's version stays; the device's conflicting write is recorded and dropped. */
    SERVER_WINS("server_wins"),

    /** The device's write is applied over the server's version. */
    CLIENT_WINS("client_wins"),
    ;

    internal fun toFfi() = when (this) {
        COLUMN_LWW -> FfiConflictPolicy.COLUMN_LWW
        SERVER_WINS -> FfiConflictPolicy.SERVER_WINS
        CLIENT_WINS -> FfiConflictPolicy.CLIENT_WINS
    }
}

/** What a conflict was between. [wireName] is the core's stable name (`update_update`, ...). */
enum class ConflictKind(val wireName: String) {
    /** Both sides changed the same columns of a row. */
    UPDATE_UPDATE("update_update"),

    /** Both sides created a row with the same key, with different values. */
    INSERT_INSERT("insert_insert"),

    /** The device updated (or created) a row the server had deleted. */
    UPDATE_DELETED("update_deleted"),

    /** The device deleted a row the server had changed. */
    DELETE_UPDATED("delete_updated"),

    /** The server refused the change ([Conflict.errorCode] says why); it was not applied. */
    REJECTED("rejected"),
}

/** Which rule decided a conflict. [wireName] is the core's stable name (`column_lww`, ...). */
enum class ConflictRule(val wireName: String) {
    COLUMN_LWW("column_lww"),
    SERVER_WINS("server_wins"),
    CLIENT_WINS("client_wins"),

    /** The application's [ConflictResolver]. */
    RESOLVER("resolver"),

    /** Nothing decided it: the server refused the change. */
    REJECTED("rejected"),
}

/** Whose version the row has after the conflict was decided. [wireName]: `local`, `remote`, `merged`. */
enum class ConflictOutcome(val wireName: String) {
    /** The device's write took effect. */
    LOCAL("local"),

    /** The server's version stayed. */
    REMOTE("remote"),

    /** Some columns from each side, or the resolver's merged row. */
    MERGED("merged"),
}

/**
 * A conflict, or a change the server refused, kept on the device until it is resolved
 * ([Database.resolveConflict]). Rows are column → value maps in the table's column order.
 */
data class Conflict(
    /** Its id for [Database.resolveConflict] (0 while a [ConflictResolver] decides it). */
    val id: Long,
    val table: String,
    /** The row's key values (the primary key's columns, or the rowid). */
    val key: List<Value>,
    val kind: ConflictKind,
    val rule: ConflictRule,
    val outcome: ConflictOutcome,
    /** The columns both sides wrote (all of the row's for inserts and deletes). */
    val columns: List<String>,
    /** The device's version of the row; `null` for a delete. */
    val local: Map<String, Value>?,
    /** The server's version when the change arrived; `null` if it had no such row. */
    val remote: Map<String, Value>?,
    /** The row as the device had it before its write; `null` for an insert. */
    val base: Map<String, Value>?,
    /** A rejected change: the server's error code (`SQLITE_CONSTRAINT`, ...) and message. */
    val errorCode: String?,
    val errorMessage: String?,
    /** When the device made its write. */
    val writtenAt: Instant,
)

/** How the application settles a conflict. */
sealed class Resolution {
    /** The device's version (written again as a new change, pushed by the next sync). */
    object KeepLocal : Resolution() {
        override fun toString() = "KeepLocal"
    }

    /** The server's version (nothing to write). */
    object KeepRemote : Resolution() {
        override fun toString() = "KeepRemote"
    }

    /** This row; columns left out keep their current value. */
    data class Merge(val row: Map<String, Value>) : Resolution()

    companion object {
        /** A [Merge] from plain Kotlin values (see [Value.of]). */
        fun merge(vararg columns: Pair<String, Any?>): Merge = Merge(columns.associate { (c, v) -> c to Value.of(v) })
    }

    internal fun toFfi(): FfiResolution = when (this) {
        KeepLocal -> FfiResolution.KeepLocal
        KeepRemote -> FfiResolution.KeepRemote
        is Merge -> FfiResolution.Merge(row.map { (c, v) -> FfiNamedValue(c, v.toFfi()) })
    }
}

/**
 * Decides the conflicts of an offline database during sync, in place of the policies: called
 * once per conflict (never for a rejected change) on a thread of the native library's, while
 * `sync()` (or the background sync) waits for the answer. Keep it quick and do not call the
 * database from it. If it throws, the server's row is kept ([Resolution.KeepRemote]).
 */
fun interface ConflictResolver {
    fun resolve(conflict: Conflict): Resolution
}

/** Settings of an offline database ([Database.offline]). */
data class OfflineOptions(
    /** How conflicts are decided in tables without a policy of their own. */
    val defaultPolicy: ConflictPolicy = ConflictPolicy.COLUMN_LWW,
    /** Per-table policies. */
    val tablePolicies: Map<String, ConflictPolicy> = emptyMap(),
    /** Decides every conflict (rejected changes excepted) in place of the policies. */
    val resolver: ConflictResolver? = null,
) {
    internal fun toFfi() = FfiOfflineOptions(
        defaultPolicy.toFfi(),
        tablePolicies.mapValues { it.value.toFfi() },
    )
}

/** Where a [TableChange] came from. */
enum class ChangeOrigin {
    /** A write committed on this device. */
    LOCAL,

    /** Changes a sync brought from the server. */
    REMOTE,
}

/**
 * Tables changed by a committed local write or by a sync: refresh what shows them. [tables] is
 * empty for the writes of a local or remote database (see [Database.addChangeListener]).
 */
data class TableChange(val tables: List<String>, val origin: ChangeOrigin)

internal fun FfiTableChange.toPublic() = TableChange(
    tables,
    when (origin) {
        FfiChangeOrigin.LOCAL -> ChangeOrigin.LOCAL
        FfiChangeOrigin.REMOTE -> ChangeOrigin.REMOTE
    },
)

private fun List<FfiNamedValue>.toRow(): Map<String, Value> = associateTo(LinkedHashMap()) { it.name to it.value.toPublic() }

internal fun FfiConflict.toPublic() = Conflict(
    id = id,
    table = table,
    key = key.map { it.toPublic() },
    kind = when (kind) {
        FfiConflictKind.UPDATE_UPDATE -> ConflictKind.UPDATE_UPDATE
        FfiConflictKind.INSERT_INSERT -> ConflictKind.INSERT_INSERT
        FfiConflictKind.UPDATE_DELETED -> ConflictKind.UPDATE_DELETED
        FfiConflictKind.DELETE_UPDATED -> ConflictKind.DELETE_UPDATED
        FfiConflictKind.REJECTED -> ConflictKind.REJECTED
    },
    rule = when (rule) {
        FfiConflictRule.COLUMN_LWW -> ConflictRule.COLUMN_LWW
        FfiConflictRule.SERVER_WINS -> ConflictRule.SERVER_WINS
        FfiConflictRule.CLIENT_WINS -> ConflictRule.CLIENT_WINS
        FfiConflictRule.RESOLVER -> ConflictRule.RESOLVER
        FfiConflictRule.REJECTED -> ConflictRule.REJECTED
    },
    outcome = when (outcome) {
        FfiConflictOutcome.LOCAL -> ConflictOutcome.LOCAL
        FfiConflictOutcome.REMOTE -> ConflictOutcome.REMOTE
        FfiConflictOutcome.MERGED -> ConflictOutcome.MERGED
    },
    columns = columns,
    local = local?.toRow(),
    remote = remote?.toRow(),
    base = base?.toRow(),
    errorCode = errorCode,
    errorMessage = errorMessage,
    writtenAt = writtenAt,
)

/** The application's resolver as the native library calls it: whatever it throws keeps the server's row. */
internal class ResolverBridge(private val resolver: ConflictResolver) : FfiConflictResolver {
    override fun resolve(conflict: FfiConflict): FfiResolution = try {
        resolver.resolve(conflict.toPublic()).toFfi()
    } catch (e: Throwable) {
        System.err.println("tidepool: the conflict resolver threw on ${conflict.table} (${conflict.id}); keeping the server's row: $e")
        FfiResolution.KeepRemote
    }
}
