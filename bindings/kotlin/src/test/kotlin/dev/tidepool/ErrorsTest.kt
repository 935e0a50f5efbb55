// Failures arrive as typed Kotlin exceptions carrying the core's stable codes.
package dev.tidepool

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import java.net.ServerSocket
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlin.time.Duration.Companion.seconds

class ErrorsTest {
    @ParameterizedTest
    @EnumSource(Target::class)
    fun `sql errors carry codes and extended codes`(target: Target) = runBlocking {
        val t = uniqueTable("errs")
        target.open().use { db ->
            db.connect().use { conn ->
                val syntax = assertFailsWith<TidepoolException.Sql> { conn.execute("SELEKT 1") }
                assertEquals("SQLITE_ERROR", syntax.code)
                assertTrue(syntax.reason.contains("syntax error"), syntax.reason)
                conn.execute("CREATE TABLE $t (v INTEGER UNIQUE NOT NULL)")
                conn.execute("INSERT INTO $t VALUES (1)")
                val unique = assertFailsWith<TidepoolException.Sql> { conn.execute("INSERT INTO $t VALUES (1)") }
                assertEquals("SQLITE_CONSTRAINT", unique.code)
                assertEquals("SQLITE_CONSTRAINT_UNIQUE", unique.extendedCode)
                assertTrue(unique.isConstraint && !unique.isRetryable)
                assertEquals("SQLITE_CONSTRAINT (SQLITE_CONSTRAINT_UNIQUE): ${unique.reason}", unique.message)
                val notNull = assertFailsWith<TidepoolException> { conn.execute("INSERT INTO $t VALUES (NULL)") }
                assertEquals("SQLITE_CONSTRAINT_NOTNULL", notNull.extendedCode)
                // Every failure is still a TidepoolException, and the connection goes on.
                assertEquals(1L, conn.query("SELECT count(*) FROM $t").single().getLong(0))
            }
        }
    }

    @Test
    fun `bad configuration is refused when opening`() {
        for (url in listOf("ftp://x", "http://", "not a url", "http://h?foo=1")) {
            val e = assertFailsWith<TidepoolException.Usage>(url) { Database.open(url) }
            assertEquals("INVALID_CONFIG", e.code, url)
        }
        val e = assertFailsWith<TidepoolException.Usage> { Database.open("http://h", DatabaseOptions(maxAttempts = 0)) }
        assertEquals("INVALID_CONFIG", e.code)
        assertFailsWith<TidepoolException.Usage> { Database.open("https://h", DatabaseOptions(caPem = "junk")) }
    }

    @Test
    fun `an unreachable server is a network error`() = runBlocking {
        val port = ServerSocket(0).use { it.localPort }
        Database.open("http://127.0.0.1:$port", DatabaseOptions(maxAttempts = 1, totalTimeout = 5.seconds)).use { db ->
            db.connect().use { conn ->
                val e = assertFailsWith<TidepoolException.Network> { conn.execute("SELECT 1") }
                assertEquals("CONNECT_FAILED", e.code)
                assertTrue(e.isRetryable)
            }
        }
    }

    @Test
    fun `a server that requires a token refuses a client without one`() = runBlocking {
        val (server, token) = TestServer.withAuth
        for (url in listOf(server.httpUrl, server.wsUrl)) {
            Database.open(url).use { db ->
                db.connect().use { conn ->
                    val e = assertFailsWith<TidepoolException>(url) { conn.execute("SELECT 1") }
                    assertTrue(e.isAuth, "$url: ${e.code}")
                }
            }
            Database.open(url, DatabaseOptions(authToken = token)).use { db ->
                db.connect().use { conn -> assertEquals(1L, conn.query("SELECT 1").single().getLong(0)) }
            }
        }
    }

    @Test
    fun `reading a value as the wrong type or a missing column`() = runBlocking {
        Database.open(":memory:").use { db ->
            db.connect().use { conn ->
                val row = conn.query("SELECT 'x' AS a").single()
                assertEquals("TYPE_MISMATCH", assertFailsWith<TidepoolException.Decode> { row.getLong("a") }.code)
                assertEquals("COLUMN_NOT_FOUND", assertFailsWith<TidepoolException.Usage> { row["b"] }.code)
                assertEquals("COLUMN_NOT_FOUND", assertFailsWith<TidepoolException.Usage> { row[3] }.code)
            }
        }
    }

    @Test
    fun `a disconnected connection is closed`() = runBlocking {
        Database.open(TestServer.plain.wsUrl).use { db ->
            val conn = db.connect()
            conn.execute("SELECT 1")
            conn.disconnect()
            val e = assertFailsWith<TidepoolException.Usage> { conn.execute("SELECT 1") }
            assertEquals("CLOSED", e.code)
            assertFalse(e.isRetryable)
            conn.close()
        }
    }

    @Test
    fun `interrupting a remote connection is unsupported`() {
        Database.open(TestServer.plain.httpUrl).use { db ->
            db.connect().use { conn ->
                assertEquals("UNSUPPORTED", assertFailsWith<TidepoolException> { conn.interrupt() }.code)
            }
        }
    }
}
