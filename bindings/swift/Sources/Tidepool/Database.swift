// Opening a database: a URL (remote `http(s)://`, `ws(s)://`, `libsql://`; local `file:`,
// `:memory:`) or a local path, with options whose defaults are the core's.

import Foundation
import TidepoolFFI

/// Settings for a `Database`. A setting left nil keeps the core's default.
public struct DatabaseOptions: Equatable, Hashable, Sendable {
    /// The JWT sent with every request (remote).
    public var authToken: String?
    /// Seconds to open a connection (remote; default 10).
    public var connectTimeout: TimeInterval?
    /// Seconds for one attempt of one request (remote; default 30).
    public var requestTimeout: TimeInterval?
    /// Seconds for a request including its retries (remote; default 60).
    public var totalTimeout: TimeInterval?
    /// Most attempts for a request that is safe to retry (remote; default 4; 1 turns retries off).
    public var maxAttempts: Int?
    /// Trust only these PEM CA certificates (remote; default: the bundled web roots).
    public var caCertificatesPEM: String?
    /// Speak JSON instead of protobuf (remote).
    public var forceJSON: Bool
    /// Reader connections beside the writer (local; default 4).
    public var readConnections: Int?
    /// Seconds a statement waits for another process's lock (local; default 5).
    public var busyTimeout: TimeInterval?
    /// Replica and offline: sync this often in the background (default: only when `sync()` is
    /// called). An offline database with an interval also syncs soon after each local write.
    public var syncInterval: TimeInterval?

    public init(
        authToken: String? = nil, connectTimeout: TimeInterval? = nil,
        requestTimeout: TimeInterval? = nil, totalTimeout: TimeInterval? = nil,
        maxAttempts: Int? = nil, caCertificatesPEM: String? = nil, forceJSON: Bool = false,
        readConnections: Int? = nil, busyTimeout: TimeInterval? = nil, syncInterval: TimeInterval? = nil
    ) {
        self.authToken = authToken
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.totalTimeout = totalTimeout
        self.maxAttempts = maxAttempts
        self.caCertificatesPEM = caCertificatesPEM
        self.forceJSON = forceJSON
        self.readConnections = readConnections
        self.busyTimeout = busyTimeout
        self.syncInterval = syncInterval
    }

    var ffi: TidepoolFFI.DatabaseOptions {
        func ms(_ seconds: TimeInterval?) -> UInt64? {
            seconds.map { UInt64(clamping: Int64(max(0, ($0 * 1000).rounded()))) }
        }
        return TidepoolFFI.DatabaseOptions(
            authToken: authToken,
            connectTimeoutMs: ms(connectTimeout),
            requestTimeoutMs: ms(requestTimeout),
            totalTimeoutMs: ms(totalTimeout),
            maxAttempts: maxAttempts.map { UInt32(clamping: $0) },
            caPem: caCertificatesPEM,
            forceJson: forceJSON,
            readConnections: readConnections.map { UInt32(clamping: $0) },
            busyTimeoutMs: ms(busyTimeout),
            syncIntervalMs: ms(syncInterval)
        )
    }
}

/// A database, shared by all its connections.
///
/// ```swift
/// let db = try Database(url: "http://127.0.0.1:8080")   // or ws://, file:app.db, :memory:
/// let conn = db.connect()
/// try await conn.execute("INSERT INTO pools VALUES (?, ?)", ["Rockpool", 0.4])
/// for row in try await conn.query("SELECT name FROM pools") {
///     print(try row.get("name", as: String.self))
/// }
/// ```
public final class Database: Sendable {
    let inner: TidepoolFFI.Database

    /// A database at `url`. Validates the URL and options (`TidepoolError.usage`,
    /// `INVALID_CONFIG`); does no I/O.
    public init(url: String, options: DatabaseOptions = DatabaseOptions()) throws {
        inner = try ffi { try TidepoolFFI.Database(url: url, options: options.ffi) }
    }

    /// A local database in the file at `path` (created on first use), taken as a path rather
    /// than parsed as a URL.
    public init(path: String, options: DatabaseOptions = DatabaseOptions()) throws {
        inner = try ffi { try TidepoolFFI.Database.local(path: path, options: options.ffi) }
    }

    /// A replica of the server database at `url`, kept in the local file at `path`: reads run
    /// on the file (no network), writes and transactions on the server, and the replica catches
    /// up before a write returns, so a read after a write sees it. `sync()` pulls what changed;
    /// `DatabaseOptions.syncInterval` does it in the background. Does no I/O.
    public init(replicaPath path: String, url: String, options: DatabaseOptions = DatabaseOptions()) throws {
        inner = try ffi { try TidepoolFFI.Database.replica(path: path, url: url, options: options.ffi) }
    }

    /// An offline-first database: a replica of the server database at `url` in the local file
    /// at `path` that the app also writes to. Every statement runs on the file, so writes commit
    /// with or without a network; `sync()` pushes them (exactly once), records conflicts and
    /// refused changes (`conflicts()`) and pulls the server's changes. The first `sync()` must
    /// reach the server: it copies the server's tables (the schema is the server's). Does no
    /// I/O; `INVALID_CONFIG` for `:memory:` or a URL that is not a server's.
    public init(
        offlinePath path: String, url: String, options: DatabaseOptions = DatabaseOptions(),
        offline: OfflineOptions = OfflineOptions()
    ) throws {
        inner = try ffi {
            try TidepoolFFI.Database.offline(
                path: path, url: url, options: options.ffi, offline: offline.ffi,
                resolver: offline.resolver.map(ResolverBridge.init))
        }
    }

    /// A new connection: cheap, no I/O until its first statement. Statements on one connection
    /// run one at a time; open several to run them in parallel.
    public func connect() -> Connection {
        Connection(inner.connect())
    }

    /// The server URL without credentials, or the local `file:` URL.
    public var url: String { inner.url() }

    /// Whether the database is on this device.
    public var isLocal: Bool { inner.isLocal() }

    /// Whether the database is a local replica of a server's (offline databases are).
    public var isReplica: Bool { inner.isReplica() }

    /// Whether the database takes writes on the device (`init(offlinePath:url:)`).
    public var isOffline: Bool { inner.isOffline() }

    /// Replica: pulls what changed on the server since the last sync (the first copies
    /// everything). Offline: first pushes the local changes, deciding conflicts. Change
    /// listeners hear of a sync that changed rows as a `.remote` change. Throws `UNSUPPORTED`
    /// on a database that is not a replica.
    @discardableResult
    public func sync() async throws -> SyncReport {
        let inner = self.inner
        return SyncReport(try await ffi { try await inner.sync() })
    }

    /// Replica: where the last sync got to, when, and its error if it failed; nil for a
    /// database that is not a replica.
    public var syncStatus: SyncStatus? { inner.syncStatus().map(SyncStatus.init) }

    /// Replica or offline: waits for the next sync (background or explicit) to finish and
    /// returns the status (its `lastError` says whether it succeeded).
    @discardableResult
    public func waitForSync() async throws -> SyncStatus {
        let inner = self.inner
        return SyncStatus(try await ffi { try await inner.waitForSync() })
    }

    /// Offline: how many local changes wait to be pushed.
    public func pendingChanges() async throws -> Int {
        let inner = self.inner
        return Int(clamping: try await ffi { try await inner.pendingChanges() })
    }

    /// Offline: the conflicts and refused changes syncs recorded, oldest first, until they are
    /// resolved.
    public func conflicts() async throws -> [Conflict] {
        let inner = self.inner
        return try await ffi { try await inner.conflicts() }.map(Conflict.init)
    }

    /// Offline: settles a recorded conflict. `.keepRemote` accepts the row as it is;
    /// `.keepLocal` and `.merge` write that version as a new local change, which the next sync
    /// pushes. `INVALID_ARGUMENT` for an unknown id.
    public func resolveConflict(_ id: Int64, _ resolution: Resolution) async throws {
        let inner = self.inner
        try await ffi { try await inner.resolveConflict(id: id, resolution: resolution.ffi) }
    }
}

/// What one `Database.sync()` did.
public struct SyncReport: Equatable, Hashable, Sendable {
    /// Rows copied whole (the first sync, new or changed tables).
    public let rowsCopied: Int
    /// Tables copied whole.
    public let tablesCopied: Int
    /// Tables the server no longer has, dropped from the replica.
    public let tablesDropped: Int
    /// Row changes pulled and applied.
    public let changesApplied: Int
    /// The replica's position in the server's change stream after the sync.
    public let position: Int64
    /// The server's position when the sync began.
    public let serverPosition: Int64
    /// Offline: local changes pushed to the server.
    public let changesPushed: Int
    /// Offline: conflicts and refused changes this sync recorded (`Database.conflicts()`).
    public let conflicts: Int
    /// Tables whose rows this sync changed on the device, sorted.
    public let tablesChanged: [String]

    init(_ r: TidepoolFFI.SyncReport) {
        rowsCopied = Int(clamping: r.rowsCopied)
        tablesCopied = Int(clamping: r.tablesCopied)
        tablesDropped = Int(clamping: r.tablesDropped)
        changesApplied = Int(clamping: r.changesApplied)
        position = r.position
        serverPosition = r.serverPosition
        changesPushed = Int(clamping: r.changesPushed)
        conflicts = Int(clamping: r.conflicts)
        tablesChanged = r.tablesChanged
    }
}

/// A replica's sync state.
public struct SyncStatus: Equatable, Hashable, Sendable {
    /// Whether the first copy has completed (reads before it see an empty database).
    public let bootstrapped: Bool
    /// The position reached in the server's change stream.
    public let position: Int64
    /// The server's position seen by the last sync: `serverPosition - position` changes behind.
    public let serverPosition: Int64
    /// When the last successful sync ended.
    public let lastSyncedAt: Date?
    /// The last sync's error, if it failed (its kind is not kept: `code` says what it was).
    public let lastError: ErrorDetails?
    /// Whether a sync is running now.
    public let syncing: Bool
    /// Successful syncs since the database was opened.
    public let syncs: Int
    /// Offline: local changes waiting to be pushed, as of the last sync.
    public let pendingChanges: Int
    /// Offline: unresolved conflicts, as of the last sync.
    public let conflicts: Int

    init(_ s: TidepoolFFI.SyncStatus) {
        bootstrapped = s.bootstrapped
        position = s.position
        serverPosition = s.serverPosition
        lastSyncedAt = s.lastSyncedAt
        lastError = s.lastErrorCode.map { ErrorDetails(code: $0, message: s.lastErrorMessage ?? "") }
        syncing = s.syncing
        syncs = Int(clamping: s.syncs)
        pendingChanges = Int(clamping: s.pendingChanges)
        conflicts = Int(clamping: s.conflicts)
    }
}
