// An interactive transaction: statements on its connection, then commit or rollback.
package dev.tidepool

import dev.tidepool.ffi.Transaction as FfiTransaction

/**
 * An interactive transaction. Commit or roll it back; closing it without either rolls it back.
 * After either, its calls fail with code `CLOSED`.
 */
class Transaction internal constructor(private val inner: FfiTransaction) : AutoCloseable {
    /** Whether [commit] or [rollback] was called. */
    @Volatile
    var isFinished: Boolean = false
        private set

    suspend fun execute(sql: String, vararg args: Any?): ExecuteResult =
        native { inner.execute(sql, positional(args)) }.toPublic()

    suspend fun execute(sql: String, args: Map<String, Any?>): ExecuteResult =
        native { inner.execute(sql, named(args)) }.toPublic()

    suspend fun query(sql: String, vararg args: Any?): Rows = native { inner.query(sql, positional(args)) }.toPublic()

    suspend fun query(sql: String, args: Map<String, Any?>): Rows = native { inner.query(sql, named(args)) }.toPublic()

    /** Runs statements atomically, as a savepoint of this transaction. */
    suspend fun batch(statements: List<Statement>): List<ResultSet> =
        native { inner.batch(statements.map { it.toFfi() }) }.map { it.toPublic() }

    suspend fun batch(vararg statements: Statement): List<ResultSet> = batch(statements.toList())

    suspend fun executeBatch(sql: String) = native { inner.executeBatch(sql) }

    suspend fun commit() {
        isFinished = true
        native { inner.commit() }
    }

    suspend fun rollback() {
        isFinished = true
        native { inner.rollback() }
    }

    override fun close() = inner.close()
}
