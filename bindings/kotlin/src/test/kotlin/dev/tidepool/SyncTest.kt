// Replicas: a local file mirroring the reference server, kept up to date by sync, readable when
// the server is gone, and writes that fail offline with a typed network error.
package dev.tidepool

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.nio.file.Files
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds

class SyncTest {
    private fun replicaPath() = Files.createTempDirectory("tidepool-kotlin-replica").resolve("replica.db").toString()

    private suspend fun names(conn: Connection, t: String) = conn.query("SELECT name FROM $t ORDER BY id").map { it.getString(0) }

    @Test
    fun `a replica copies the server, pulls changes and reads its writes`() = runBlocking {
        val server = TestServer.startNew()
        try {
            val t = uniqueTable("replica")
            Database.open(server.httpUrl).use { remote ->
                remote.connect().use { rc ->
                    rc.execute("CREATE TABLE $t (id INTEGER PRIMARY KEY, name TEXT)")
                    rc.execute("INSERT INTO $t (name) VALUES ('Rockpool'), ('Lagoon')")
                }
                Database.replica(replicaPath(), server.httpUrl).use { replica ->
                    assertTrue(replica.isReplica)
                    assertFalse(replica.syncStatus()!!.bootstrapped)
                    val changes = Channel<TableChange>(Channel.UNLIMITED)
                    val listener = replica.addChangeListener { changes.trySend(it) }

                    val first = replica.sync()
                    assertTrue(first.rowsCopied >= 2, "$first")
                    val copied = withTimeout(30_000) { changes.receive() }
                    assertEquals(ChangeOrigin.REMOTE, copied.origin)
                    assertTrue(t in copied.tables, "$copied")
                    assertEquals(first.tablesChanged, copied.tables)
                    val status = replica.syncStatus()!!
                    assertTrue(status.bootstrapped)
                    assertEquals(1, status.syncs)
                    assertNotNull(status.lastSyncedAt)
                    assertNull(status.lastErrorCode)

                    replica.connect().use { local ->
                        assertEquals(listOf("Rockpool", "Lagoon"), names(local, t))
                        // Another client writes on the server: the replica sees it after a sync.
                        remote.connect().use { rc -> rc.execute("UPDATE $t SET name = 'Tidepool' WHERE id = 1") }
                        assertEquals(listOf("Rockpool", "Lagoon"), names(local, t))
                        val pulled = replica.sync()
                        assertTrue(pulled.changesApplied >= 1, "$pulled")
                        assertEquals(listOf("Tidepool", "Lagoon"), names(local, t))
                        assertEquals(pulled.serverPosition, pulled.position)
                        // A write through the replica runs on the server and is read back at once.
                        local.execute("INSERT INTO $t (name) VALUES (?)", "Estuary")
                        assertEquals(listOf("Tidepool", "Lagoon", "Estuary"), names(local, t))
                        remote.connect().use { rc -> assertEquals(3L, rc.query("SELECT count(*) FROM $t").single().getLong(0)) }
                    }
                    listener.close()
                }
            }
        } finally {
            server.stop()
        }
    }

    @Test
    fun `offline, a replica still reads and a write fails with a network error`() = runBlocking {
        val server = TestServer.startNew()
        val path = replicaPath()
        val t = uniqueTable("offline")
        val options = DatabaseOptions(maxAttempts = 1, connectTimeout = 2.seconds, totalTimeout = 5.seconds)
        try {
            Database.open(server.httpUrl).use { remote ->
                remote.connect().use { it.executeBatch("CREATE TABLE $t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO $t (name) VALUES ('Shore');") }
            }
            Database.replica(path, server.httpUrl, options).use { it.sync() }
        } finally {
            server.stop()
        }
        // The server is gone: the file still answers reads; writes and syncs fail, typed.
        Database.replica(path, server.httpUrl, options).use { replica ->
            replica.connect().use { local ->
                assertEquals(listOf("Shore"), names(local, t))
                val write = assertFailsWith<TidepoolException.Network> { local.execute("INSERT INTO $t (name) VALUES ('Reef')") }
                assertEquals("CONNECT_FAILED", write.code)
                assertTrue(write.isRetryable)
                val sync = assertFailsWith<TidepoolException.Network> { replica.sync() }
                assertEquals("CONNECT_FAILED", sync.code)
                assertEquals("CONNECT_FAILED", replica.syncStatus()!!.lastErrorCode)
                assertEquals(listOf("Shore"), names(local, t))
            }
        }
    }

    @Test
    fun `sync on a database that is not a replica is unsupported`() = runBlocking {
        Database.open(":memory:").use { db ->
            assertNull(db.syncStatus())
            assertFalse(db.isReplica)
            assertEquals("UNSUPPORTED", assertFailsWith<TidepoolException.Usage> { db.sync() }.code)
        }
    }
}
