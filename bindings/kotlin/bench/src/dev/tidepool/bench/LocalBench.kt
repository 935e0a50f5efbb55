// The Kotlin binding on a local file beside sqlite-jdbc on the same file, in one run: point reads
// by primary key and a 1,000-row insert in one transaction. Prints p50/p99 latency, ops/s and the
// ratio of Tidepool's ops/s to sqlite-jdbc's.
package dev.tidepool.bench

import dev.tidepool.Database
import dev.tidepool.DatabaseOptions
import dev.tidepool.Statement
import kotlinx.coroutines.runBlocking
import java.nio.file.Files
import java.sql.DriverManager

private const val ROWS = 10_000
private const val READS = 20_000
private const val INSERT_ROUNDS = 30

private data class Result(val name: String, val nanos: LongArray) {
    val p50 get() = nanos.sorted()[nanos.size / 2] / 1000.0
    val p99 get() = nanos.sorted()[nanos.size * 99 / 100] / 1000.0
    val opsPerSec get() = nanos.size / (nanos.sum() / 1e9)
}

private inline fun measure(name: String, n: Int, warmup: Int, op: (Int) -> Unit): Result {
    repeat(warmup) { op(it) }
    val nanos = LongArray(n)
    for (i in 0 until n) {
        val start = System.nanoTime()
        op(i)
        nanos[i] = System.nanoTime() - start
    }
    return Result(name, nanos)
}

private fun report(scenario: String, tidepool: Result, peer: Result) {
    println(scenario)
    for (r in listOf(tidepool, peer)) {
        println("  %-12s p50 %9.1f us  p99 %9.1f us  %10.0f ops/s".format(r.name, r.p50, r.p99, r.opsPerSec))
    }
    println("  ratio (tidepool / sqlite-jdbc ops/s): %.2f".format(tidepool.opsPerSec / peer.opsPerSec))
}

fun main(): Unit = runBlocking {
    val dir = Files.createTempDirectory("tidepool-kotlin-bench")
    val path = dir.resolve("bench.db").toString()
    val db = Database.local(path, DatabaseOptions(readConnections = 1))
    val conn = db.connect()
    conn.executeBatch("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT); CREATE TABLE ins (a INTEGER, b TEXT);")
    conn.transaction { tx -> for (k in 0 until ROWS) tx.execute("INSERT INTO kv VALUES (?, ?)", k, "value-$k") }

    val jdbc = DriverManager.getConnection("jdbc:sqlite:$path")
    jdbc.createStatement().use { it.execute("PRAGMA journal_mode=WAL") }
    val select = jdbc.prepareStatement("SELECT v FROM kv WHERE k = ?")

    val readTidepool = measure("tidepool", READS, 2_000) { i ->
        val row = runBlocking { conn.query("SELECT v FROM kv WHERE k = ?", (i * 7919) % ROWS) }.single()
        check(row.getString(0).startsWith("value-"))
    }
    val readJdbc = measure("sqlite-jdbc", READS, 2_000) { i ->
        select.setInt(1, (i * 7919) % ROWS)
        select.executeQuery().use { rs -> check(rs.next() && rs.getString(1).startsWith("value-")) }
    }
    report("point read by primary key ($READS sequential)", readTidepool, readJdbc)

    val insertTidepool = measure("tidepool", INSERT_ROUNDS, 3) { round ->
        val statements = List(1000) { Statement.of("INSERT INTO ins VALUES (?, ?)", round * 1000 + it, "row") }
        runBlocking { conn.batch(statements) }
    }
    val insert = jdbc.prepareStatement("INSERT INTO ins VALUES (?, ?)")
    val insertJdbc = measure("sqlite-jdbc", INSERT_ROUNDS, 3) { round ->
        jdbc.autoCommit = false
        for (j in 0 until 1000) {
            insert.setInt(1, round * 1000 + j)
            insert.setString(2, "row")
            insert.addBatch()
        }
        insert.executeBatch()
        jdbc.commit()
        jdbc.autoCommit = true
    }
    report("1,000-row insert in one transaction ($INSERT_ROUNDS rounds)", insertTidepool, insertJdbc)

    jdbc.close()
    conn.close()
    db.close()
    dir.toFile().deleteRecursively()
    Unit
}
