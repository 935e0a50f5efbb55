// Offline databases against the reference server: writes with the server away, sync, conflicts
// between two devices decided by column LWW, resolved later, or by a Kotlin resolver, refused
// changes, and the misuse errors.
package dev.tidepool

import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds

/** A server with an `items` table, and a directory for the devices' files. */
internal class OfflineFixture : AutoCloseable {
    val server = TestServer.startNew()
    val dir: Path = Files.createTempDirectory("tidepool-kotlin-offline")
    private val opened = mutableListOf<AutoCloseable>()

    suspend fun setUp(): OfflineFixture {
        primary { it.executeBatch(SCHEMA) }
        return this
    }

    fun device(name: String, offline: OfflineOptions = OfflineOptions(), options: DatabaseOptions = DatabaseOptions()): Database =
        Database.offline(dir.resolve("$name.db").toString(), server.httpUrl, options, offline).also { opened += it }

    suspend fun <T> primary(block: suspend (Connection) -> T): T =
        Database.open(server.httpUrl).use { db -> db.connect().use { block(it) } }

    override fun close() {
        opened.reversed().forEach { it.close() }
        server.stop()
        dir.toFile().deleteRecursively()
    }

    companion object {
        const val SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, code TEXT UNIQUE);" +
            "INSERT INTO items (id, name, qty) VALUES (1, 'apple', 1), (2, 'pear', 2);"
        const val ITEMS = "SELECT id, name, qty FROM items ORDER BY id"
    }
}

internal suspend fun dump(conn: Connection, sql: String = OfflineFixture.ITEMS): List<List<Any?>> =
    conn.query(sql).map { row -> row.values.map { it.toAny() } }

internal fun offlineTest(block: suspend OfflineFixture.() -> Unit) = runBlocking {
    OfflineFixture().use { it.setUp().block() }
}

class OfflineTest {
    @Test
    fun `writes commit offline and the next sync pushes them`() {
        val server = TestServer.startNew()
        val path = Files.createTempDirectory("tidepool-kotlin-offline").resolve("device.db").toString()
        val options = DatabaseOptions(maxAttempts = 1, connectTimeout = 2.seconds, totalTimeout = 5.seconds)
        try {
            runBlocking {
                Database.open(server.httpUrl).use { it.connect().use { c -> c.executeBatch(OfflineFixture.SCHEMA) } }
                Database.offline(path, server.httpUrl, options).use { db ->
                    assertTrue(db.isOffline && db.isReplica)
                    db.sync()
                    db.connect().use { conn ->
                        conn.execute("INSERT INTO items (id, name, qty) VALUES (3, 'plum', 3)")
                        conn.execute("UPDATE items SET qty = 10 WHERE id = 1")
                        assertEquals(2L, db.pendingChanges())
                        val report = db.sync()
                        assertEquals(2L, report.changesPushed)
                        assertEquals(0L, report.conflicts)
                        assertEquals(0L, db.pendingChanges())
                        assertEquals(0L, db.syncStatus()!!.pendingChanges)
                    }
                }
            }
        } finally {
            server.stop()
        }
        // The server is gone: writes still commit on the device and wait in the outbox.
        runBlocking {
            Database.offline(path, server.httpUrl, options).use { db ->
                db.connect().use { conn ->
                    conn.execute("UPDATE items SET name = 'offline pear' WHERE id = 2")
                    assertEquals(listOf(2L, "offline pear", 2L), dump(conn)[1])
                    assertEquals(1L, db.pendingChanges())
                    val e = assertFailsWith<TidepoolException.Network> { db.sync() }
                    assertEquals("CONNECT_FAILED", e.code)
                    assertEquals("CONNECT_FAILED", db.syncStatus()!!.lastErrorCode)
                    assertEquals(1L, db.pendingChanges())
                }
            }
        }
    }

    @Test
    fun `the later write wins and the device that made it records the conflict`() = offlineTest {
        val a = device("a")
        val b = device("b")
        a.sync()
        b.sync()
        a.connect().use { ca ->
            b.connect().use { cb ->
                ca.execute("UPDATE items SET qty = 20 WHERE id = 2")
                delay(5)
                cb.execute("UPDATE items SET qty = 30 WHERE id = 2")
                assertEquals(0L, a.sync().conflicts)
                val report = b.sync()
                assertEquals(1L, report.conflicts)
                assertEquals(listOf("items"), report.tablesChanged.filter { it == "items" })
                a.sync()
                val expected = listOf(listOf(1L, "apple", 1L), listOf(2L, "pear", 30L))
                assertEquals(expected, primary { dump(it) })
                assertEquals(expected, dump(ca))
                assertEquals(expected, dump(cb))
                val c = b.conflicts().single()
                assertEquals("items", c.table)
                assertEquals(listOf<Value>(Value.Integer(2)), c.key)
                assertEquals(ConflictKind.UPDATE_UPDATE, c.kind)
                assertEquals("update_update", c.kind.wireName)
                assertEquals(ConflictRule.COLUMN_LWW, c.rule)
                assertEquals(ConflictOutcome.LOCAL, c.outcome)
                assertEquals("local", c.outcome.wireName)
                assertEquals(listOf("qty"), c.columns)
                assertEquals(Value.Integer(20), c.remote!!["qty"])
                assertEquals(Value.Integer(30), c.local!!["qty"])
                assertNull(c.errorCode)
                assertEquals(1L, b.syncStatus()!!.conflicts)
                assertTrue(a.conflicts().isEmpty())
            }
        }
    }

    @Test
    fun `the losing device shows the server's row and keep-local resolves it everywhere`() = offlineTest {
        val a = device("a")
        val b = device("b")
        a.sync()
        b.sync()
        val nameOf2 = "SELECT name FROM items WHERE id = 2"
        a.connect().use { ca ->
            b.connect().use { cb ->
                cb.execute("UPDATE items SET name = 'b-pear' WHERE id = 2")
                delay(5)
                ca.execute("UPDATE items SET name = 'a-pear' WHERE id = 2")
                a.sync()
                assertEquals(1L, b.sync().conflicts)
                assertEquals(listOf(listOf<Any?>("a-pear")), dump(cb, nameOf2))
                val c = b.conflicts().single()
                assertEquals(ConflictOutcome.REMOTE, c.outcome)
                assertEquals(Value.Text("b-pear"), c.local!!["name"])
                assertEquals(
                    mapOf("id" to Value.Integer(2), "name" to Value.Text("pear"), "qty" to Value.Integer(2), "code" to Value.Null),
                    c.base,
                )
                assertEquals(listOf("id", "name", "qty", "code"), c.base!!.keys.toList())

                val unknown = assertFailsWith<TidepoolException.Usage> { b.resolveConflict(9999, Resolution.KeepLocal) }
                assertEquals("INVALID_ARGUMENT", unknown.code)
                b.resolveConflict(c.id, Resolution.KeepLocal)
                assertTrue(b.conflicts().isEmpty())
                assertEquals(listOf(listOf<Any?>("b-pear")), dump(cb, nameOf2))
                assertEquals(0L, b.sync().conflicts)
                a.sync()
                assertEquals(listOf(listOf<Any?>("b-pear")), dump(ca, nameOf2))
                assertEquals(listOf(listOf<Any?>("b-pear")), primary { dump(it, nameOf2) })
            }
        }
    }

    @Test
    fun `a Kotlin resolver merges the two versions`() = offlineTest {
        val seen = mutableListOf<Conflict>()
        val resolver = ConflictResolver { conflict ->
            synchronized(seen) { seen += conflict }
            val local = conflict.local!!
            val remote = conflict.remote!!
            Resolution.merge(
                "name" to "${(remote["name"] as Value.Text).value}+${(local["name"] as Value.Text).value}",
                "qty" to 100,
            )
        }
        val a = device("a")
        val b = device("b", OfflineOptions(resolver = resolver))
        a.sync()
        b.sync()
        a.connect().use { ca -> ca.execute("UPDATE items SET name = 'a-apple' WHERE id = 1") }
        b.connect().use { cb -> cb.execute("UPDATE items SET name = 'b-apple' WHERE id = 1") }
        a.sync()
        assertEquals(1L, b.sync().conflicts)
        val asked = synchronized(seen) { seen.single() }
        assertEquals(ConflictKind.UPDATE_UPDATE, asked.kind)
        assertEquals(ConflictRule.RESOLVER, asked.rule)
        assertEquals(listOf("name"), asked.columns)
        assertEquals(Value.Text("a-apple"), asked.remote!!["name"])
        assertEquals(listOf(1L, "a-apple+b-apple", 100L), primary { dump(it) }[0])
        b.connect().use { cb -> assertEquals(listOf(1L, "a-apple+b-apple", 100L), dump(cb)[0]) }
        val recorded = b.conflicts().single()
        assertEquals(ConflictRule.RESOLVER, recorded.rule)
        assertEquals(ConflictOutcome.MERGED, recorded.outcome)
        a.sync()
        a.connect().use { ca -> assertEquals(listOf(1L, "a-apple+b-apple", 100L), dump(ca)[0]) }
    }

    @Test
    fun `a resolver that throws keeps the server's row`() = offlineTest {
        val a = device("a")
        val b = device("b", OfflineOptions(resolver = { error("the resolver fails") }))
        a.sync()
        b.sync()
        a.connect().use { ca -> ca.execute("UPDATE items SET qty = 7 WHERE id = 1") }
        b.connect().use { cb -> cb.execute("UPDATE items SET qty = 8 WHERE id = 1") }
        a.sync()
        assertEquals(1L, b.sync().conflicts)
        b.connect().use { cb -> assertEquals(listOf(1L, "apple", 7L), dump(cb)[0]) }
        assertEquals(listOf(1L, "apple", 7L), primary { dump(it) }[0])
        assertEquals(ConflictOutcome.REMOTE, b.conflicts().single().outcome)
    }

    @Test
    fun `policies decide per table`() = offlineTest {
        val a = device("a")
        val b = device("b", OfflineOptions(defaultPolicy = ConflictPolicy.CLIENT_WINS, tablePolicies = mapOf("items" to ConflictPolicy.SERVER_WINS)))
        a.sync()
        b.sync()
        // b writes later, so column LWW would keep its value; the table's policy keeps the server's.
        a.connect().use { ca -> ca.execute("UPDATE items SET qty = 7 WHERE id = 1") }
        delay(5)
        b.connect().use { cb -> cb.execute("UPDATE items SET qty = 8 WHERE id = 1") }
        a.sync()
        b.sync()
        assertEquals(listOf(1L, "apple", 7L), primary { dump(it) }[0])
        val c = b.conflicts().single()
        assertEquals(ConflictRule.SERVER_WINS, c.rule)
        assertEquals(ConflictOutcome.REMOTE, c.outcome)
    }

    @Test
    fun `a change the server refuses is recorded with its SQLite code and the rest goes through`() = offlineTest {
        val a = device("a")
        val b = device("b")
        a.sync()
        b.sync()
        a.connect().use { it.execute("INSERT INTO items VALUES (10, 'ten', 1, 'X')") }
        b.connect().use { cb ->
            cb.execute("INSERT INTO items VALUES (20, 'twenty', 1, 'X')")
            cb.execute("UPDATE items SET qty = 99 WHERE id = 1")
            a.sync()
            val report = b.sync()
            assertEquals(2L, report.changesPushed)
            assertEquals(1L, report.conflicts)
            val c = b.conflicts().single()
            assertEquals(ConflictKind.REJECTED, c.kind)
            assertEquals(ConflictRule.REJECTED, c.rule)
            assertEquals("rejected", c.kind.wireName)
            val code = assertNotNull(c.errorCode)
            assertTrue(code.startsWith("SQLITE_CONSTRAINT"), "$code: ${c.errorMessage}")
            assertEquals(Value.Integer(20), c.local!!["id"])
            val expected = primary { dump(it) }
            assertEquals(expected, dump(cb))
            assertTrue(listOf(1L, "apple", 99L) in expected)
            assertTrue(expected.none { it[0] == 20L })
            // A refused change is settled by accepting the server's state.
            b.resolveConflict(c.id, Resolution.KeepRemote)
            assertTrue(b.conflicts().isEmpty())
        }
    }

    @Test
    fun `background sync pushes soon after a write and waitForSync sees it`() = offlineTest {
        val db = device("bg", options = DatabaseOptions(syncInterval = 60.seconds))
        db.sync()
        db.connect().use { conn -> conn.execute("UPDATE items SET qty = 42 WHERE id = 2") }
        // Woken by the write, long before the interval.
        var status = db.waitForSync()
        while (status.pendingChanges != 0L) status = db.waitForSync()
        assertNull(status.lastErrorCode)
        assertEquals(listOf(2L, "pear", 42L), primary { dump(it) }[1])
    }

    @Test
    fun `offline calls on other databases are typed errors`() = runBlocking {
        Database.open(":memory:").use { db ->
            for (call in listOf<suspend () -> Unit>({ db.conflicts() }, { db.pendingChanges() }, { db.resolveConflict(1, Resolution.KeepRemote) }, { db.waitForSync() })) {
                assertEquals("UNSUPPORTED", assertFailsWith<TidepoolException.Usage> { call() }.code)
            }
        }
        val memory = assertFailsWith<TidepoolException.Usage> { Database.offline(":memory:", TestServer.plain.httpUrl) }
        assertEquals("INVALID_CONFIG", memory.code)
        val dir = Files.createTempDirectory("tidepool-kotlin-offline")
        val notServer = assertFailsWith<TidepoolException.Usage> { Database.offline(dir.resolve("x.db").toString(), "file:y.db") }
        assertEquals("INVALID_CONFIG", notServer.code)
    }
}
