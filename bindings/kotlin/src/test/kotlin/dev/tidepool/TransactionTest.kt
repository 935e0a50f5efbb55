// Transactions: commit, rollback, rollback when the block throws or the object is closed.
package dev.tidepool

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

class TransactionTest {
    private suspend fun count(conn: Connection, t: String) = conn.query("SELECT count(*) FROM $t").single().getLong(0)

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `commit makes writes visible to other connections and rollback discards them`(target: Target) = runBlocking {
        val t = uniqueTable("tx")
        target.open().use { db ->
            val conn = db.connect()
            val other = db.connect()
            conn.execute("CREATE TABLE $t (v)")
            val tx = conn.beginTransaction(TransactionBehavior.IMMEDIATE)
            assertFalse(conn.isAutocommit())
            tx.execute("INSERT INTO $t VALUES (?)", 1)
            tx.batch(Statement.of("INSERT INTO $t VALUES (2)"), Statement.of("INSERT INTO $t VALUES (3)"))
            assertEquals(3L, tx.query("SELECT count(*) FROM $t").single().getLong(0))
            assertEquals(0L, count(other, t))
            tx.commit()
            assertTrue(conn.isAutocommit())
            assertEquals(3L, count(other, t))
            assertEquals("CLOSED", assertFailsWith<TidepoolException.Usage> { tx.execute("SELECT 1") }.code)
            assertEquals("CLOSED", assertFailsWith<TidepoolException.Usage> { tx.commit() }.code)
            tx.close()

            conn.beginTransaction().use { rolled ->
                rolled.execute("DELETE FROM $t")
                rolled.rollback()
            }
            assertEquals(3L, count(conn, t))
            other.close()
            conn.close()
        }
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `a transaction block commits on return and rolls back on a throw`(target: Target) = runBlocking {
        val t = uniqueTable("txblock")
        target.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (v UNIQUE)")
                val n = conn.transaction { tx ->
                    tx.execute("INSERT INTO $t VALUES (1)")
                    tx.execute("INSERT INTO $t VALUES (2)")
                    tx.query("SELECT count(*) FROM $t").single().getLong(0)
                }
                assertEquals(2L, n)
                val e = assertFailsWith<TidepoolException.Sql> {
                    conn.transaction { tx ->
                        tx.execute("INSERT INTO $t VALUES (3)")
                        tx.execute("INSERT INTO $t VALUES (1)")
                    }
                }
                assertTrue(e.isConstraint)
                assertTrue(conn.isAutocommit())
                assertEquals(2L, count(conn, t))
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `closing an unfinished transaction rolls it back before the next call`(target: Target) = runBlocking {
        val t = uniqueTable("txdrop")
        target.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (v)")
                val tx = conn.beginTransaction()
                tx.execute("INSERT INTO $t VALUES (1)")
                tx.close()
                // The rollback runs first: this insert is outside the dropped transaction.
                conn.execute("INSERT INTO $t VALUES (2)")
                assertTrue(conn.isAutocommit())
                assertEquals(listOf(2L), conn.query("SELECT v FROM $t").map { it.getLong(0) })
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `one transaction at a time, and read-only transactions refuse writes`(target: Target) = runBlocking {
        val t = uniqueTable("txro")
        target.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (v)")
                conn.beginTransaction().use { tx ->
                    val e = assertFailsWith<TidepoolException.Usage> { conn.beginTransaction() }
                    assertEquals("INVALID_ARGUMENT", e.code)
                    tx.rollback()
                }
                conn.transaction(TransactionBehavior.READ_ONLY) { tx ->
                    assertEquals(0L, tx.query("SELECT count(*) FROM $t").single().getLong(0))
                    assertFailsWith<TidepoolException> { tx.execute("INSERT INTO $t VALUES (1)") }
                }
                assertEquals(0L, count(conn, t))
            }
        }
    }
}
