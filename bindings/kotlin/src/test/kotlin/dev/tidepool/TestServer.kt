// The real reference server, started as a child process on a free loopback port with a
// temporary database file (one plain server and one requiring JWTs, each started once per run).
package dev.tidepool

import java.io.File
import java.nio.file.Files
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread

class TestServer private constructor(val port: Int, private val process: Process, val dir: File) {
    val httpUrl get() = "http://127.0.0.1:$port"
    val wsUrl get() = "ws://127.0.0.1:$port"

    fun stop() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
        dir.deleteRecursively()
    }

    companion object {
        private val bin: File by lazy {
            val path = System.getProperty("tidepool.server.bin")
                ?: error("set -Dtidepool.server.bin to the tidepool-server binary")
            File(path).also { check(it.canExecute()) { "tidepool-server not found at $path (cargo build -p tidepool-server)" } }
        }

        val plain: TestServer by lazy { start(null) }

        /** A server that requires tokens, and a read-write token for it. */
        val withAuth: Pair<TestServer, String> by lazy {
            val keys = Files.createTempDirectory("tidepool-kotlin-keys").toFile()
            run(listOf(bin.path, "gen-key", "--out-dir", keys.path))
            val token = run(listOf(bin.path, "gen-token", "--private-key", File(keys, "jwt_private.pem").path)).trim()
            start(File(keys, "jwt_key.pem")) to token
        }

        private fun run(command: List<String>): String {
            val p = ProcessBuilder(command).redirectErrorStream(true).start()
            val out = p.inputStream.bufferedReader().readText()
            check(p.waitFor() == 0) { "${command.joinToString(" ")} failed: $out" }
            return out
        }

        /** A server of the test's own, to stop when it likes. */
        fun startNew(): TestServer = start(null)

        private fun start(jwtKey: File?): TestServer {
            val dir = Files.createTempDirectory("tidepool-kotlin-server").toFile()
            val args = mutableListOf(bin.path, "--http-listen-addr", "127.0.0.1:0", "--db-path", File(dir, "test.db").path)
            if (jwtKey != null) args += listOf("--auth-jwt-key-file", jwtKey.path)
            val builder = ProcessBuilder(args).redirectError(ProcessBuilder.Redirect.DISCARD)
            builder.environment().keys.removeIf { it.startsWith("TIDEPOOL_") }
            val process = builder.start()
            val lines = LinkedBlockingQueue<String>()
            thread(isDaemon = true, name = "tidepool-server-stdout") {
                process.inputStream.bufferedReader().forEachLine { lines.put(it) }
            }
            val listening = Regex("""^tidepool-server listening on http://127\.0\.0\.1:(\d+)$""")
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
            while (System.nanoTime() < deadline) {
                val line = lines.poll(100, TimeUnit.MILLISECONDS)
                if (line == null) {
                    check(process.isAlive) { "tidepool-server exited with ${process.exitValue()}" }
                    continue
                }
                val match = listening.matchEntire(line.trim()) ?: continue
                val server = TestServer(match.groupValues[1].toInt(), process, dir)
                Runtime.getRuntime().addShutdownHook(Thread { server.stop() })
                return server
            }
            process.destroyForcibly()
            error("tidepool-server did not say where it listens within 30 s")
        }
    }
}

/** Where a test's database is: local file, or the reference server over HTTP or WebSocket. */
enum class Target {
    LOCAL,
    HTTP,
    WS,
    ;

    fun open(options: DatabaseOptions = DatabaseOptions()): Database = when (this) {
        LOCAL -> Database.local(Files.createTempDirectory("tidepool-kotlin").resolve("test.db").toString(), options)
        HTTP -> Database.open(TestServer.plain.httpUrl, options)
        WS -> Database.open(TestServer.plain.wsUrl, options)
    }
}

private var tableCounter = 0

/** A table name no other test on the shared server uses. */
@Synchronized
fun uniqueTable(prefix: String): String = "${prefix}_${ProcessHandle.current().pid()}_${++tableCounter}"
