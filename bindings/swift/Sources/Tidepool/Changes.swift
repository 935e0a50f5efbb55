// Change notifications, as an AsyncStream or a callback: on replica and offline databases the
// tables changed by each local commit and by each sync that changed rows; on local and remote
// databases the commits made through the database's connections (without tables).

import TidepoolFFI

/// Where a `TableChange` came from.
public enum ChangeOrigin: String, Sendable, Hashable {
    /// A write committed on this device.
    case local = "local"
    /// Changes a sync brought from the server.
    case remote = "remote"
}

/// Tables changed by a committed local write or by a sync: refresh what shows them. `tables` is
/// empty for the writes of a local or remote database (see `Database.addChangeListener`).
public struct TableChange: Equatable, Hashable, Sendable {
    public let tables: [String]
    public let origin: ChangeOrigin

    public init(tables: [String], origin: ChangeOrigin) {
        self.tables = tables
        self.origin = origin
    }

    init(_ c: TidepoolFFI.TableChange) {
        tables = c.tables
        switch c.origin {
        case .local: origin = .local
        case .remote: origin = .remote
        }
    }
}

final class ListenerBridge: TidepoolFFI.ChangeListener {
    let callback: @Sendable (TableChange) -> Void

    init(_ callback: @escaping @Sendable (TableChange) -> Void) {
        self.callback = callback
    }

    func onChange(change: TidepoolFFI.TableChange) {
        callback(TableChange(change))
    }
}

/// Keeps a change listener registered until `cancel()` is called or it is released.
public final class ChangeSubscription: Sendable {
    let handle: TidepoolFFI.ChangeListenerHandle

    init(_ handle: TidepoolFFI.ChangeListenerHandle) {
        self.handle = handle
    }

    /// Stops the listener: changes after this are not delivered to it. Idempotent.
    public func cancel() {
        handle.cancel()
    }

    public var isActive: Bool { handle.isActive() }
}

extension Database {
    /// Calls `callback` after each change, on a thread of the library's, until the subscription
    /// is cancelled or released. Replica or offline: the tables changed by each local commit on
    /// the database (`.local`) and by each sync that changed rows (`.remote`). Local or remote:
    /// each committed write made through this database's connections (a statement, batch or
    /// script outside a transaction, or a transaction's commit; never a rollback), `.local`
    /// with `tables` empty (not known there).
    public func addChangeListener(_ callback: @escaping @Sendable (TableChange) -> Void) throws
        -> ChangeSubscription
    {
        let inner = self.inner
        return ChangeSubscription(try ffi { try inner.addChangeListener(listener: ListenerBridge(callback)) })
    }

    /// The changes (see `addChangeListener`) from now until the iterating task stops (or is
    /// cancelled).
    ///
    /// ```swift
    /// for await change in try db.changes() where change.tables.contains("notes") { reload() }
    /// ```
    public func changes() throws -> AsyncStream<TableChange> {
        let (stream, continuation) = AsyncStream<TableChange>.makeStream()
        let subscription = try addChangeListener { continuation.yield($0) }
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }
}
