// Change notifications: committed writes made through a database's connections, as an
// AsyncStream or a callback. A write inside a transaction arrives when it commits, never if it
// rolls back.

import TidepoolFFI

/// What kind of write a `Change` reports.
public enum ChangeKind: Sendable {
    /// One statement outside a transaction.
    case statement
    /// An atomic batch outside a transaction.
    case batch
    /// A script outside a transaction (its rows are not counted).
    case script
    /// A transaction committed.
    case commit
    /// A sync brought changes from the server.
    case sync

    init(_ k: TidepoolFFI.ChangeKind) {
        switch k {
        case .statement: self = .statement
        case .batch: self = .batch
        case .script: self = .script
        case .commit: self = .commit
        case .sync: self = .sync
        }
    }
}

/// A committed change.
public struct Change: Sendable {
    public let kind: ChangeKind
    /// Rows inserted, updated or deleted (0 when unknown: scripts).
    public let rowsAffected: Int
}

final class ListenerBridge: TidepoolFFI.ChangeListener {
    let callback: @Sendable (Change) -> Void

    init(_ callback: @escaping @Sendable (Change) -> Void) {
        self.callback = callback
    }

    func onChange(change: TidepoolFFI.Change) {
        callback(Change(kind: ChangeKind(change.kind), rowsAffected: Int(clamping: change.rowsAffected)))
    }
}

/// Keeps a change listener registered until `cancel()` is called or it is released.
public final class ChangeSubscription: Sendable {
    let handle: TidepoolFFI.ChangeListenerHandle

    init(_ handle: TidepoolFFI.ChangeListenerHandle) {
        self.handle = handle
    }

    /// Stops the listener: no call to it starts after this returns. Idempotent.
    public func cancel() {
        handle.cancel()
    }

    public var isActive: Bool { handle.isActive() }
}

extension Database {
    /// Calls `callback` after every committed change made through this database's connections,
    /// on a thread of the library's, until the subscription is cancelled or released.
    public func addChangeListener(_ callback: @escaping @Sendable (Change) -> Void) -> ChangeSubscription {
        ChangeSubscription(inner.addChangeListener(listener: ListenerBridge(callback)))
    }

    /// The committed changes made through this database's connections, from now until the
    /// iterating task stops (or is cancelled).
    ///
    /// ```swift
    /// for await change in db.changes() { reload() }
    /// ```
    public func changes() -> AsyncStream<Change> {
        AsyncStream { continuation in
            let subscription = addChangeListener { continuation.yield($0) }
            continuation.onTermination = { _ in subscription.cancel() }
        }
    }
}
