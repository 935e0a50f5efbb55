// An interactive transaction on one connection.

import TidepoolFFI

/// A transaction from `Connection.transaction()`. Its statements run on its connection; after
/// `commit()` or `rollback()` every call throws `CLOSED`. Releasing it unfinished rolls it back.
public final class Transaction: Sendable {
    let inner: TidepoolFFI.Transaction

    init(_ inner: TidepoolFFI.Transaction) {
        self.inner = inner
    }

    @discardableResult
    public func execute(_ sql: String, _ parameters: Parameters = .none) async throws -> ExecuteResult {
        let inner = self.inner
        return ExecuteResult(try await ffi { try await inner.execute(sql: sql, params: parameters.ffi) })
    }

    public func query(_ sql: String, _ parameters: Parameters = .none) async throws -> Rows {
        let inner = self.inner
        return Rows(try await ffi { try await inner.query(sql: sql, params: parameters.ffi) })
    }

    /// Runs statements atomically, as a savepoint of this transaction.
    @discardableResult
    public func batch(_ statements: [Statement]) async throws -> [ResultSet] {
        let inner = self.inner
        return try await ffi { try await inner.batch(statements: statements.map(\.ffi)) }.map(ResultSet.init)
    }

    public func executeScript(_ sql: String) async throws {
        let inner = self.inner
        try await ffi { try await inner.executeBatch(sql: sql) }
    }

    public func commit() async throws {
        let inner = self.inner
        try await ffi { try await inner.commit() }
    }

    public func rollback() async throws {
        let inner = self.inner
        try await ffi { try await inner.rollback() }
    }
}
