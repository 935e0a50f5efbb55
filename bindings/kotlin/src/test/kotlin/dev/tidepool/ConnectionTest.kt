// The connection API on a local file and through the reference server over HTTP and WebSocket.
package dev.tidepool

import kotlinx.coroutines.async
import kotlinx.coroutines.flow.count
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

class ConnectionTest {
    @ParameterizedTest
    @EnumSource(Target::class)
    fun `statements, rows, columns and named arguments`(target: Target) = runBlocking {
        val t = uniqueTable("pools")
        target.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, depth REAL, data BLOB)")
                val first = conn.execute("INSERT INTO $t (name, depth, data) VALUES (?, ?, ?)", "Rockpool", 0.4, byteArrayOf(9, 8))
                assertEquals(1, first.rowsAffected)
                assertEquals(1L, first.lastInsertRowid)
                val second = conn.execute(
                    "INSERT INTO $t (name, depth) VALUES (:name, @depth)",
                    mapOf(":name" to "Lagoon", "depth" to 2),
                )
                assertEquals(2L, second.lastInsertRowid)
                val updated = conn.execute("UPDATE $t SET depth = depth + 1")
                assertEquals(2, updated.rowsAffected)

                val rows = conn.query("SELECT id, name, depth, data, depth * 2 AS twice FROM $t ORDER BY id")
                assertEquals(listOf("id", "name", "depth", "data", "twice"), rows.columns.map { it.name })
                assertEquals(listOf("INTEGER", "TEXT", "REAL", "BLOB", null), rows.columns.map { it.declType })
                assertEquals(2, rows.size)
                assertEquals("Rockpool", rows[0].getString("name"))
                assertEquals(1.4, rows[0].getDouble("depth"), 1e-9)
                assertContentEquals(byteArrayOf(9, 8), rows[0].getBlob("data"))
                assertTrue(rows[1].isNull("data"))
                assertEquals(3.0, rows[1].getDouble(2))
                val named = conn.query("SELECT name FROM $t WHERE id = \$id", mapOf("id" to 2))
                assertEquals("Lagoon", named.single()["name"])
                assertTrue(conn.query("SELECT * FROM $t WHERE id > 100").isEmpty())
                val returning = conn.query("INSERT INTO $t (name) VALUES (?), (?) RETURNING id", "Cove", "Bay")
                assertEquals(listOf(3L, 4L), returning.map { it.getLong("id") })
                assertEquals(2, returning.rowsAffected)
                assertEquals(4L, returning.lastInsertRowid)
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `rows stream page by page through a flow`(target: Target) = runBlocking {
        target.open().use { db ->
            db.connect().use { conn ->
                val sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n"
                val rows = conn.queryFlow(sql, 2500, pageSize = 100).toList()
                assertEquals((1L..2500L).toList(), rows.map { it.getLong("i") })
                // Stopping early frees the connection for the next call.
                assertEquals(3, conn.queryFlow(sql, 1_000_000, pageSize = 10).take(3).count())
                assertEquals(1L, conn.query("SELECT 1").single().getLong(0))
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `batches are atomic and scripts run whole`(target: Target) = runBlocking {
        val t = uniqueTable("batch")
        target.open().use { db ->
            db.connect().use { conn ->
                conn.executeBatch("CREATE TABLE $t (v INTEGER UNIQUE); INSERT INTO $t VALUES (0);")
                val results = conn.batch(
                    Statement.of("INSERT INTO $t VALUES (?)", 1),
                    Statement.named("INSERT INTO $t VALUES (:v)", mapOf("v" to 2)),
                    Statement.of("SELECT count(*) AS n FROM $t"),
                )
                assertEquals(listOf(1L, 1L), results.take(2).map { it.rowsAffected })
                assertEquals(3L, results[2].rows.single().getLong("n"))
                assertEquals("n", results[2].columns.single().name)
                val e = assertFailsWith<TidepoolException.Sql> {
                    conn.batch(Statement.of("INSERT INTO $t VALUES (10)"), Statement.of("INSERT INTO $t VALUES (1)"))
                }
                assertTrue(e.isConstraint)
                // The failing batch left nothing behind.
                assertEquals(3L, conn.query("SELECT count(*) FROM $t").single().getLong(0))
                assertTrue(conn.isAutocommit())
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `connections of one database run in parallel`(target: Target) = runBlocking {
        target.open().use { db ->
            val answers = (1..8).map { i ->
                async {
                    db.connect().use { conn -> conn.query("SELECT ? * 2", i).single().getLong(0) }
                }
            }.map { it.await() }
            assertEquals((1..8).map { it * 2L }, answers)
        }
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `a cancelled call leaves the connection usable`(target: Target) = runBlocking {
        target.open().use { db ->
            db.connect().use { conn ->
                val slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n"
                assertNull(withTimeoutOrNull(20) { conn.execute(slow) })
                assertEquals(2L, conn.query("SELECT 2").single().getLong(0))
            }
        }
    }

    @Test
    fun `database urls and modes`() {
        Database.open(":memory:").use { assertTrue(it.isLocal) }
        Database.open(TestServer.plain.httpUrl).use {
            assertTrue(!it.isLocal)
            assertEquals("${TestServer.plain.httpUrl}/", it.url)
        }
    }

    @Test
    fun `a local statement is interrupted from another coroutine`() = runBlocking {
        Target.LOCAL.open().use { db ->
            db.connect().use { conn ->
                val slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) SELECT count(*) FROM n"
                val running = async(kotlinx.coroutines.Dispatchers.IO) { runCatching { conn.query(slow) } }
                // Interrupt until the statement has started and been stopped.
                while (!running.isCompleted) {
                    conn.interrupt()
                    kotlinx.coroutines.delay(20)
                }
                val e = running.await().exceptionOrNull() as TidepoolException.Sql
                assertEquals("SQLITE_INTERRUPT", e.code)
                assertEquals(1L, conn.query("SELECT 1").single().getLong(0))
            }
        }
    }
}
