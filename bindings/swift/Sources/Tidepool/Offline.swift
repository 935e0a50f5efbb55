// Offline mode as Swift sees it: the conflict policies and resolver of an offline database,
// conflicts and their resolutions. Each enum's raw value is the core's stable name
// ("update_update", "column_lww", "local", ...).

import Foundation
import TidepoolFFI

/// How a table's conflicts are decided when no `ConflictResolver` is set.
public enum ConflictPolicy: String, Sendable, Hashable, CaseIterable {
    /// Per column, the later write wins (hybrid logical clocks). The default.
    case columnLWW = "column_lww"
    /// The server's version stays; the device's conflicting write is recorded and dropped.
    case serverWins = "server_wins"
    /// The device's write is applied over the server's version.
    case clientWins = "client_wins"

    var ffi: TidepoolFFI.ConflictPolicy {
        switch self {
        case .columnLWW: return .columnLww
        case .serverWins: return .serverWins
        case .clientWins: return .clientWins
        }
    }
}

/// What a conflict was between.
public enum ConflictKind: String, Sendable, Hashable, CaseIterable {
    /// Both sides changed the same columns of a row.
    case updateUpdate = "update_update"
    /// Both sides created a row with the same key, with different values.
    case insertInsert = "insert_insert"
    /// The device updated (or created) a row the server had deleted.
    case updateDeleted = "update_deleted"
    /// The device deleted a row the server had changed.
    case deleteUpdated = "delete_updated"
    /// The server refused the change (`Conflict.error` says why); it was not applied.
    case rejected = "rejected"

    init(_ k: TidepoolFFI.ConflictKind) {
        switch k {
        case .updateUpdate: self = .updateUpdate
        case .insertInsert: self = .insertInsert
        case .updateDeleted: self = .updateDeleted
        case .deleteUpdated: self = .deleteUpdated
        case .rejected: self = .rejected
        }
    }
}

/// Which rule decided a conflict.
public enum ConflictRule: String, Sendable, Hashable, CaseIterable {
    case columnLWW = "column_lww"
    case serverWins = "server_wins"
    case clientWins = "client_wins"
    /// The application's `ConflictResolver`.
    case resolver = "resolver"
    /// Nothing decided it: the server refused the change.
    case rejected = "rejected"

    init(_ r: TidepoolFFI.ConflictRule) {
        switch r {
        case .columnLww: self = .columnLWW
        case .serverWins: self = .serverWins
        case .clientWins: self = .clientWins
        case .resolver: self = .resolver
        case .rejected: self = .rejected
        }
    }
}

/// Whose version the row has after the conflict was decided.
public enum ConflictOutcome: String, Sendable, Hashable, CaseIterable {
    /// The device's write took effect.
    case local = "local"
    /// The server's version stayed.
    case remote = "remote"
    /// Some columns from each side, or the resolver's merged row.
    case merged = "merged"

    init(_ o: TidepoolFFI.ConflictOutcome) {
        switch o {
        case .local: self = .local
        case .remote: self = .remote
        case .merged: self = .merged
        }
    }
}

/// A row as named values, in the table's column order.
public struct RowImage: Equatable, Hashable, Sendable {
    public let columns: [String]
    public let values: [Value]

    init(_ named: [TidepoolFFI.NamedValue]) {
        columns = named.map(\.name)
        values = named.map { Value($0.value) }
    }

    /// The value of `column`, nil when the row has no such column.
    public subscript(column: String) -> Value? {
        columns.firstIndex(of: column).map { values[$0] }
    }
}

/// A conflict, or a change the server refused, kept on the device until it is resolved
/// (`Database.resolveConflict`).
public struct Conflict: Equatable, Hashable, Sendable {
    /// Its id for `resolveConflict` (0 while a `ConflictResolver` decides it).
    public let id: Int64
    public let table: String
    /// The row's key values (the primary key's columns, or the rowid).
    public let key: [Value]
    public let kind: ConflictKind
    public let rule: ConflictRule
    public let outcome: ConflictOutcome
    /// The columns both sides wrote (all of the row's for inserts and deletes).
    public let columns: [String]
    /// The device's version of the row; nil for a delete.
    public let local: RowImage?
    /// The server's version when the change arrived; nil if it had no such row.
    public let remote: RowImage?
    /// The row as the device had it before its write; nil for an insert.
    public let base: RowImage?
    /// A refused change: the server's error (`SQLITE_CONSTRAINT`, ...).
    public let error: ErrorDetails?
    /// When the device made its write.
    public let writtenAt: Date

    init(_ c: TidepoolFFI.Conflict) {
        id = c.id
        table = c.table
        key = c.key.map(Value.init)
        kind = ConflictKind(c.kind)
        rule = ConflictRule(c.rule)
        outcome = ConflictOutcome(c.outcome)
        columns = c.columns
        local = c.local.map(RowImage.init)
        remote = c.remote.map(RowImage.init)
        base = c.base.map(RowImage.init)
        error = c.errorCode.map { ErrorDetails(code: $0, message: c.errorMessage ?? "") }
        writtenAt = c.writtenAt
    }
}

/// How the application settles a conflict.
public enum Resolution: Equatable, Hashable, Sendable {
    /// The device's version (written again as a new change, pushed by the next sync).
    case keepLocal
    /// The server's version (nothing to write).
    case keepRemote
    /// This row; columns left out keep their current value.
    case merge([String: Value])

    var ffi: TidepoolFFI.Resolution {
        switch self {
        case .keepLocal: return .keepLocal
        case .keepRemote: return .keepRemote
        case .merge(let row):
            return .merge(row: row.sorted { $0.key < $1.key }.map { NamedValue(name: $0.key, value: $0.value.ffi) })
        }
    }
}

/// Decides the conflicts of an offline database during sync, in place of the policies: called
/// once per conflict (never for a refused change) on a thread of the library's, while `sync()`
/// (or the background sync) waits for the answer. Keep it quick and do not call the database
/// from it. If it throws, the server's row is kept (`.keepRemote`).
public protocol ConflictResolver: Sendable {
    func resolve(_ conflict: Conflict) throws -> Resolution
}

/// A `ConflictResolver` made of a closure.
public struct ConflictResolverFunction: ConflictResolver {
    let body: @Sendable (Conflict) throws -> Resolution

    public init(_ body: @escaping @Sendable (Conflict) throws -> Resolution) {
        self.body = body
    }

    public func resolve(_ conflict: Conflict) throws -> Resolution {
        try body(conflict)
    }
}

/// Settings of an offline database (`Database(offlinePath:url:)`).
public struct OfflineOptions: Sendable {
    /// How conflicts are decided in tables without a policy of their own.
    public var defaultPolicy: ConflictPolicy
    /// Per-table policies.
    public var tablePolicies: [String: ConflictPolicy]
    /// Decides every conflict (refused changes excepted) in place of the policies.
    public var resolver: (any ConflictResolver)?

    public init(
        defaultPolicy: ConflictPolicy = .columnLWW, tablePolicies: [String: ConflictPolicy] = [:],
        resolver: (any ConflictResolver)? = nil
    ) {
        self.defaultPolicy = defaultPolicy
        self.tablePolicies = tablePolicies
        self.resolver = resolver
    }

    var ffi: TidepoolFFI.OfflineOptions {
        TidepoolFFI.OfflineOptions(
            defaultPolicy: defaultPolicy.ffi, tablePolicies: tablePolicies.mapValues(\.ffi))
    }
}

/// The application's resolver as the library calls it: whatever it throws keeps the server's row.
final class ResolverBridge: TidepoolFFI.ConflictResolver {
    let resolver: any ConflictResolver

    init(_ resolver: any ConflictResolver) {
        self.resolver = resolver
    }

    func resolve(conflict: TidepoolFFI.Conflict) throws -> TidepoolFFI.Resolution {
        do {
            return try resolver.resolve(Conflict(conflict)).ffi
        } catch {
            FileHandle.standardError.write(
                Data(
                    "tidepool: the conflict resolver threw on \(conflict.table) (\(conflict.id)); keeping the server's row: \(error)\n"
                        .utf8))
            return .keepRemote
        }
    }
}
