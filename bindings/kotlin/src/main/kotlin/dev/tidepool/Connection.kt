// A connection: suspend functions for statements, queries, batches and transactions.
package dev.tidepool

import dev.tidepool.ffi.Connection as FfiConnection
import dev.tidepool.ffi.ExecuteResult as FfiExecuteResult
import dev.tidepool.ffi.Params as FfiParams
import dev.tidepool.ffi.Rows as FfiRows
import dev.tidepool.ffi.TransactionBehavior as FfiBehavior
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.withContext

/** How a transaction takes its locks (SQLite's `BEGIN DEFERRED|IMMEDIATE|EXCLUSIVE`, libSQL's read-only). */
enum class TransactionBehavior { DEFERRED, IMMEDIATE, EXCLUSIVE, READ_ONLY }

internal fun TransactionBehavior.toFfi() = when (this) {
    TransactionBehavior.DEFERRED -> FfiBehavior.DEFERRED
    TransactionBehavior.IMMEDIATE -> FfiBehavior.IMMEDIATE
    TransactionBehavior.EXCLUSIVE -> FfiBehavior.EXCLUSIVE
    TransactionBehavior.READ_ONLY -> FfiBehavior.READ_ONLY
}

internal fun FfiExecuteResult.toPublic() = ExecuteResult(rowsAffected.toLong(), lastInsertRowid)

internal fun FfiRows.toPublic(): Rows {
    val cols = columns.toPublic()
    return Rows(cols, rowsOf(cols, rows), rowsAffected.toLong(), lastInsertRowid)
}

/**
 * A connection to a [Database]. Calls on one connection run one at a time; open several
 * connections to run statements in parallel. Arguments are plain Kotlin values (see [Value.of]).
 * Cancelling a coroutine cancels its request. Every failure is a [TidepoolException].
 */
class Connection internal constructor(private val inner: FfiConnection) : AutoCloseable {
    /** Runs a statement that is not read for its rows. */
    suspend fun execute(sql: String, vararg args: Any?): ExecuteResult =
        native { inner.execute(sql, positional(args)) }.toPublic()

    suspend fun execute(sql: String, args: Map<String, Any?>): ExecuteResult =
        native { inner.execute(sql, named(args)) }.toPublic()

    /**
     * Runs a statement and returns all its rows in one response, with the rows it changed. A result
     * larger than the server's response limit (16 MiB by default) needs [queryFlow].
     */
    suspend fun query(sql: String, vararg args: Any?): Rows = native { inner.query(sql, positional(args)) }.toPublic()

    suspend fun query(sql: String, args: Map<String, Any?>): Rows = native { inner.query(sql, named(args)) }.toPublic()

    /**
     * Runs a query when the flow is collected and emits its rows as they arrive, [pageSize] at a
     * time across the native boundary; the connection is busy until the flow completes or is
     * cancelled.
     */
    fun queryFlow(sql: String, vararg args: Any?, pageSize: Int = 256): Flow<Row> =
        cursorFlow(sql, positional(args), pageSize)

    fun queryFlow(sql: String, args: Map<String, Any?>, pageSize: Int = 256): Flow<Row> =
        cursorFlow(sql, named(args), pageSize)

    private fun cursorFlow(sql: String, params: FfiParams, pageSize: Int): Flow<Row> = flow {
        val cursor = native { inner.queryCursor(sql, params) }
        try {
            val columns = cursor.columns().toPublic()
            while (true) {
                val page = native { cursor.nextPage(pageSize.coerceAtLeast(1).toUInt()) }
                if (page.isEmpty()) break
                for (row in rowsOf(columns, page)) emit(row)
            }
        } finally {
            withContext(NonCancellable) { cursor.finish() }
            cursor.close()
        }
    }

    /**
     * Runs statements atomically: all take effect or none does (inside a transaction, as a
     * savepoint of it). Returns each statement's result, or throws the first failure.
     */
    suspend fun batch(statements: List<Statement>): List<ResultSet> =
        native { inner.batch(statements.map { it.toFfi() }) }.map { it.toPublic() }

    suspend fun batch(vararg statements: Statement): List<ResultSet> = batch(statements.toList())

    /** Runs a script of `;`-separated statements, ignoring rows; stops at the first error. */
    suspend fun executeBatch(sql: String) = native { inner.executeBatch(sql) }

    /**
     * Begins a transaction. Commit or roll it back; closing it (or letting it be collected)
     * rolls it back before anything else runs on this connection. Prefer [transaction] with a
     * block.
     */
    suspend fun beginTransaction(behavior: TransactionBehavior = TransactionBehavior.DEFERRED): Transaction =
        Transaction(native { inner.transaction(behavior.toFfi()) })

    /**
     * Runs [block] in a transaction: commits when it returns, rolls back when it throws (or is
     * cancelled) and rethrows.
     */
    suspend fun <T> transaction(
        behavior: TransactionBehavior = TransactionBehavior.DEFERRED,
        block: suspend (Transaction) -> T,
    ): T {
        val tx = beginTransaction(behavior)
        tx.use {
            val result = try {
                block(tx)
            } catch (e: Throwable) {
                if (!tx.isFinished) {
                    withContext(NonCancellable) { runCatching { tx.rollback() } }
                }
                throw e
            }
            if (!tx.isFinished) tx.commit()
            return result
        }
    }

    /** Whether no transaction is open. */
    suspend fun isAutocommit(): Boolean = native { inner.isAutocommit() }

    /**
     * Interrupts the statement this connection is running (local databases; a remote one throws
     * with code `UNSUPPORTED`). Does not wait.
     */
    fun interrupt() = native { inner.interrupt() }

    /** Closes the server stream (or gives back a local connection); later calls fail with `CLOSED`. */
    suspend fun disconnect() = native { inner.disconnect() }

    /** Frees the native handle; an open transaction is rolled back. */
    override fun close() = inner.close()
}
