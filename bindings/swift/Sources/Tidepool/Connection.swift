// A connection: statements, queries (whole, or streamed), atomic batches, scripts and
// transactions. Every method is async and throws `TidepoolError`.

import TidepoolFFI

/// How a transaction takes its locks.
public enum TransactionBehavior: Sendable {
    /// Locks when first needed (SQLite's default).
    case deferred
    /// Takes the write lock at once.
    case immediate
    /// Takes an exclusive lock at once.
    case exclusive
    /// Reads only; a write fails.
    case readOnly

    var ffi: TidepoolFFI.TransactionBehavior {
        switch self {
        case .deferred: return .deferred
        case .immediate: return .immediate
        case .exclusive: return .exclusive
        case .readOnly: return .readOnly
        }
    }
}

/// A connection to a database, from `Database.connect()`.
public final class Connection: Sendable {
    let inner: TidepoolFFI.Connection

    init(_ inner: TidepoolFFI.Connection) {
        self.inner = inner
    }

    /// Runs a statement that is not read for its rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: Parameters = .none) async throws -> ExecuteResult {
        let inner = self.inner
        return ExecuteResult(try await ffi { try await inner.execute(sql: sql, params: parameters.ffi) })
    }

    /// Runs a statement and reads all its rows in one response, with the rows it changed. A
    /// result larger than the server's response limit (16 MiB by default) needs `stream`.
    public func query(_ sql: String, _ parameters: Parameters = .none) async throws -> Rows {
        let inner = self.inner
        return Rows(try await ffi { try await inner.query(sql: sql, params: parameters.ffi) })
    }

    /// Runs a query whose rows are read as they arrive, `pageSize` at a time.
    public func stream(_ sql: String, _ parameters: Parameters = .none, pageSize: Int = 256)
        async throws -> RowStream
    {
        let inner = self.inner
        let cursor = try await ffi { try await inner.queryCursor(sql: sql, params: parameters.ffi) }
        return RowStream(cursor, pageSize: pageSize)
    }

    /// Runs statements atomically: all take effect or none does (inside a transaction, as a
    /// savepoint of it). Returns each statement's result, or throws the first failure.
    @discardableResult
    public func batch(_ statements: [Statement]) async throws -> [ResultSet] {
        let inner = self.inner
        return try await ffi { try await inner.batch(statements: statements.map(\.ffi)) }.map(ResultSet.init)
    }

    /// Runs a script of `;`-separated statements, ignoring rows; stops at the first error.
    public func executeScript(_ sql: String) async throws {
        let inner = self.inner
        try await ffi { try await inner.executeBatch(sql: sql) }
    }

    /// Begins a transaction. Commit or roll it back; releasing it unfinished rolls it back before
    /// anything else runs on the connection.
    public func transaction(_ behavior: TransactionBehavior = .deferred) async throws -> Transaction {
        let inner = self.inner
        return Transaction(try await ffi { try await inner.transaction(behavior: behavior.ffi) })
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    @discardableResult
    public func transaction<T>(
        _ behavior: TransactionBehavior = .deferred, _ body: (Transaction) async throws -> T
    ) async throws -> T {
        let tx = try await transaction(behavior)
        let result: T
        do {
            result = try await body(tx)
        } catch {
            try? await tx.rollback()
            throw error
        }
        try await tx.commit()
        return result
    }

    /// Whether no transaction is open.
    public var isAutocommit: Bool {
        get async throws {
            let inner = self.inner
            return try await ffi { try await inner.isAutocommit() }
        }
    }

    /// Interrupts the statement running on this connection (local databases; remote ones throw
    /// `UNSUPPORTED`). Does not wait.
    public func interrupt() throws {
        try ffi { try inner.interrupt() }
    }

    /// Closes the connection; later calls throw `CLOSED`. Releasing it closes it too.
    public func close() async throws {
        let inner = self.inner
        try await ffi { try await inner.disconnect() }
    }
}
