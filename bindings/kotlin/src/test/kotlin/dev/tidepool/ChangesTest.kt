// The change feed: on offline and replica databases local commits arrive as LOCAL changes naming
// their tables, syncs that pulled rows as REMOTE ones; on local and remote databases the commits
// made through the database's connections arrive, without tables. Rolled-back writes never
// arrive, and a closed listener or a cancelled collector stops receiving.
package dev.tidepool

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

class ChangesTest {
    private suspend fun <T> Channel<T>.next(): T = withTimeout(30_000) { receive() }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `on local and remote databases committed writes arrive and rolled-back ones never do`(target: Target) = runBlocking {
        val t = uniqueTable("changes")
        target.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (v)")
                val changes = Channel<TableChange>(Channel.UNLIMITED)
                val listener = db.addChangeListener { changes.trySend(it) }
                conn.execute("INSERT INTO $t VALUES (1), (2)")
                conn.transaction { tx ->
                    tx.execute("INSERT INTO $t VALUES (3)")
                    tx.execute("UPDATE $t SET v = v + 10")
                }
                conn.beginTransaction().use { tx ->
                    tx.execute("DELETE FROM $t")
                    tx.rollback()
                }
                conn.execute("UPDATE $t SET v = 0 WHERE 0") // no rows: no change
                conn.batch(Statement.of("INSERT INTO $t VALUES (4)"), Statement.of("INSERT INTO $t VALUES (5)"))
                conn.executeBatch("INSERT INTO $t VALUES (6); INSERT INTO $t VALUES (7);")
                conn.query("DELETE FROM $t WHERE v IN (4, 5) RETURNING v")
                // Statement, commit, batch, script, RETURNING: five, all local and without tables.
                val got = List(5) { changes.next() }
                assertTrue(got.all { it == TableChange(emptyList(), ChangeOrigin.LOCAL) }, "$got")
                listener.close()
                conn.execute("INSERT INTO $t VALUES (8)")
                val later = Channel<TableChange>(Channel.UNLIMITED)
                db.addChangeListener { later.trySend(it) }.use {
                    conn.execute("INSERT INTO $t VALUES (9)")
                    later.next()
                }
                assertTrue(changes.tryReceive().isFailure, "nothing more: no rollback, no empty update, no closed listener")
            }
        }
    }

    @Test
    fun `local writes and pulled changes arrive with their origin, and a closed listener stops`() = offlineTest {
        primary { it.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)") }
        val db = device("listen")
        db.sync()
        val changes = Channel<TableChange>(Channel.UNLIMITED)
        val listener = db.addChangeListener { changes.trySend(it) }
        // A listener that throws does not stop the feed.
        val throwing = db.addChangeListener { error("listener failure") }
        db.connect().use { conn ->
            conn.execute("INSERT INTO notes VALUES ('n1', 'hi')")
            assertEquals(TableChange(listOf("notes"), ChangeOrigin.LOCAL), changes.next())
            // A rolled-back transaction is not announced; a committed one is, once.
            conn.beginTransaction().use { tx ->
                tx.execute("INSERT INTO items (id, name) VALUES (50, 'x')")
                tx.rollback()
            }
            conn.transaction { tx ->
                tx.execute("INSERT INTO items (id, name) VALUES (51, 'y')")
                tx.execute("UPDATE notes SET body = 'there'")
            }
            val committed = changes.next()
            assertEquals(ChangeOrigin.LOCAL, committed.origin)
            assertEquals(listOf("items", "notes"), committed.tables.sorted())

            // Another client writes on the server; the sync that pulls it is announced.
            primary { it.execute("UPDATE items SET qty = 3 WHERE id = 2") }
            db.sync()
            var change = changes.next()
            while (change.origin != ChangeOrigin.REMOTE) change = changes.next()
            assertTrue("items" in change.tables, "$change")

            listener.close()
            throwing.close()
            conn.execute("INSERT INTO notes VALUES ('n2', 'x')")
            // A listener added after the write hears the next one; the closed one heard neither.
            val later = Channel<TableChange>(Channel.UNLIMITED)
            db.addChangeListener { later.trySend(it) }.use {
                conn.execute("INSERT INTO notes VALUES ('n3', 'x')")
                assertEquals(TableChange(listOf("notes"), ChangeOrigin.LOCAL), later.next())
            }
            assertTrue(changes.tryReceive().isFailure, "a closed listener was called")
        }
    }

    @Test
    fun `changes as a Flow, and a cancelled collector unregisters its listener`() = offlineTest {
        val db = device("flow")
        db.sync()
        db.connect().use { conn ->
            val seen = CopyOnWriteArrayList<TableChange>()
            val job = CoroutineScope(Dispatchers.Default).launch { db.changes().collect { seen += it } }
            // Write until the collector (registered when collection starts) sees a change.
            withTimeout(30_000) {
                var id = 100
                while (seen.isEmpty()) {
                    conn.execute("INSERT INTO items (id, name) VALUES (?, 'f')", id++)
                    delay(10)
                }
            }
            assertTrue(seen.all { it == TableChange(listOf("items"), ChangeOrigin.LOCAL) }, "$seen")
            job.cancel()
            job.join()
            val before = seen.size
            val after = Channel<TableChange>(Channel.UNLIMITED)
            db.addChangeListener { after.trySend(it) }.use {
                conn.execute("INSERT INTO items (id, name) VALUES (1000, 'g')")
                assertEquals(ChangeOrigin.LOCAL, after.next().origin)
            }
            assertEquals(before, seen.size)
        }
    }
}
