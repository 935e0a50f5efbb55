// The change feed: committed writes arrive on the Flow, rolled-back ones never do, and a
// cancelled collector or a closed listener stops receiving.
package dev.tidepool

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.channels.Channel
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
    @ParameterizedTest
    @EnumSource(Target::class)
    fun `committed writes arrive in order and rolled-back ones never do`(target: Target) = runBlocking {
        val t = uniqueTable("changes")
        target.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (v)")
                val changes = Channel<Change>(Channel.UNLIMITED)
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
                assertEquals(
                    listOf(
                        Change(ChangeKind.STATEMENT, 2),
                        Change(ChangeKind.COMMIT, 4),
                        Change(ChangeKind.BATCH, 2),
                        Change(ChangeKind.SCRIPT, 0),
                        Change(ChangeKind.STATEMENT, 2),
                    ),
                    withTimeout(30_000) { List(5) { changes.receive() } },
                )
                listener.close()
            }
        }
    }

    @Test
    fun `a closed listener stops and others go on`() = runBlocking {
        val t = uniqueTable("listen")
        Target.LOCAL.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (v)")
                val stopped = CopyOnWriteArrayList<Change>()
                val handle = db.addChangeListener { stopped += it }
                // A listener that throws does not stop the feed.
                val throwing = db.addChangeListener { error("listener failure") }
                val live = Channel<Change>(Channel.UNLIMITED)
                val liveHandle = db.addChangeListener { live.trySend(it) }
                conn.execute("INSERT INTO $t VALUES (1)")
                assertEquals(Change(ChangeKind.STATEMENT, 1), withTimeout(30_000) { live.receive() })
                assertEquals(listOf(Change(ChangeKind.STATEMENT, 1)), stopped.toList())
                handle.close()
                conn.execute("INSERT INTO $t VALUES (2)")
                conn.execute("INSERT INTO $t VALUES (3)")
                assertEquals(Change(ChangeKind.STATEMENT, 1), withTimeout(30_000) { live.receive() })
                assertEquals(Change(ChangeKind.STATEMENT, 1), withTimeout(30_000) { live.receive() })
                // Both later changes reached the live listener, so the closed one had its chance.
                assertEquals(1, stopped.size)
                throwing.close()
                liveHandle.close()
            }
        }
    }

    @Test
    fun `a cancelled collector unregisters its listener`() = runBlocking {
        val t = uniqueTable("cancel")
        Target.LOCAL.open().use { db ->
            db.connect().use { conn ->
                conn.execute("CREATE TABLE $t (v)")
                val seen = CopyOnWriteArrayList<Change>()
                val job = launch(Dispatchers.Default) { db.changes().collect { seen += it } }
                // Write until the collector (registered when collection starts) sees a change.
                withTimeout(30_000) {
                    while (seen.isEmpty()) {
                        conn.execute("INSERT INTO $t VALUES (1)")
                        delay(10)
                    }
                }
                assertTrue(seen.all { it == Change(ChangeKind.STATEMENT, 1) })
                job.cancel()
                job.join()
                val before = seen.size
                val after = Channel<Change>(Channel.UNLIMITED)
                db.addChangeListener { after.trySend(it) }.use {
                    conn.execute("INSERT INTO $t VALUES (2)")
                    assertEquals(Change(ChangeKind.STATEMENT, 1), withTimeout(30_000) { after.receive() })
                }
                // The later listener got the change; the cancelled collector did not.
                assertEquals(before, seen.size)
            }
        }
    }
}
