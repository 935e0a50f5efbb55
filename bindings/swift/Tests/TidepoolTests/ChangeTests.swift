// The change listener of offline and replica databases: local commits arrive as `.local`
// changes naming their tables (rolled-back ones never do), syncs that pulled rows as `.remote`
// ones; as an AsyncStream or a callback, until cancelled or released.

import Foundation
import Tidepool
import XCTest

/// Collects changes from a listener thread.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [TableChange] = []

    func add(_ change: TableChange) {
        lock.lock()
        items.append(change)
        lock.unlock()
    }

    var all: [TableChange] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

final class ChangeTests: XCTestCase {
    func testLocalWritesAndPulledChangesArriveWithTheirOriginUntilCancelled() async throws {
        let device = try await OfflineDevices(self)
        let db = try device.open("listen")
        try await db.sync()
        let conn = db.connect()
        let (items, notes) = (device.items, device.notes)
        let seen = Collected()
        let subscription = try db.addChangeListener { seen.add($0) }
        XCTAssertTrue(subscription.isActive)

        try await conn.execute("INSERT INTO \(notes) VALUES ('n1', 'hi')")
        await eventually { seen.all.count == 1 }
        XCTAssertEqual(seen.all.first, TableChange(tables: [notes], origin: .local))

        // A rolled-back transaction reports nothing; a committed one reports once.
        let rolledBack = try await conn.transaction()
        try await rolledBack.execute("INSERT INTO \(items) (id, name) VALUES (50, 'x')")
        try await rolledBack.rollback()
        try await conn.transaction { tx in
            try await tx.execute("INSERT INTO \(items) (id, name) VALUES (51, 'y')")
            try await tx.execute("UPDATE \(notes) SET body = 'there'")
        }
        await eventually { seen.all.count == 2 }
        XCTAssertEqual(seen.all.last?.origin, .local)
        XCTAssertEqual(seen.all.last?.tables.sorted(), [items, notes].sorted())

        // A write made on the server arrives with a sync, announced as a remote change.
        try await device.primary.execute("UPDATE \(items) SET qty = 3 WHERE id = 2")
        try await db.sync()
        await eventually { seen.all.contains { $0.origin == .remote && $0.tables.contains(items) } }

        subscription.cancel()
        XCTAssertFalse(subscription.isActive)
        let heard = seen.all.count
        try await conn.execute("INSERT INTO \(notes) VALUES ('n2', 'x')")
        // Changes are delivered in order: once a listener added after the cancelled write has
        // heard a later one, the cancelled listener had its chance and must not have taken it.
        let marker = Collected()
        let markerSubscription = try db.addChangeListener { marker.add($0) }
        try await conn.execute("INSERT INTO \(notes) VALUES ('n3', 'x')")
        await eventually { !marker.all.isEmpty }
        markerSubscription.cancel()
        XCTAssertEqual(seen.all.count, heard, "a cancelled listener was called")
    }

    func testChangesAsAnAsyncStream() async throws {
        let device = try await OfflineDevices(self)
        let db = try device.open("stream")
        try await db.sync()
        let conn = db.connect()
        let changes = try db.changes()
        let reader = Task { () -> [TableChange] in
            var got: [TableChange] = []
            for await change in changes {
                got.append(change)
                if got.count == 2 { break }  // ends the stream, which cancels the listener
            }
            return got
        }
        try await conn.execute("INSERT INTO \(device.notes) VALUES ('a', 'b')")
        // INSERT ... RETURNING through query is a write too.
        let rows = try await conn.query("INSERT INTO \(device.items) (id, name) VALUES (9, 'nine') RETURNING id")
        XCTAssertEqual(rows.rowsAffected, 1)
        let got = await reader.value
        XCTAssertEqual(
            got,
            [TableChange(tables: [device.notes], origin: .local), TableChange(tables: [device.items], origin: .local)])
    }

    /// Releasing the subscription stops the listener, as cancelling it does.
    func testReleasingTheSubscriptionStopsTheListener() async throws {
        let device = try await OfflineDevices(self)
        let db = try device.open("release")
        try await db.sync()
        let conn = db.connect()
        let released = Collected()
        var subscription: ChangeSubscription? = try db.addChangeListener { released.add($0) }
        try await conn.execute("INSERT INTO \(device.notes) VALUES ('1', 'x')")
        await eventually { released.all.count == 1 }
        XCTAssertEqual(subscription?.isActive, true)
        subscription = nil

        let marker = Collected()
        let markerSubscription = try db.addChangeListener { marker.add($0) }
        try await conn.execute("INSERT INTO \(device.notes) VALUES ('2', 'x')")
        await eventually { !marker.all.isEmpty }
        markerSubscription.cancel()
        XCTAssertEqual(released.all.count, 1, "a released listener was called")
    }

    /// Local and remote databases: the commits made through the database's connections,
    /// without tables; never a rollback.
    func testLocalAndRemoteDatabasesReportTheirOwnCommits() async throws {
        for url in [":memory:", try TestServer.httpURL(), try TestServer.wsURL()] {
            let db = try Database(url: url)
            let conn = db.connect()
            let table = uniqueTable("chg")
            try await conn.execute("CREATE TABLE \(table) (v INTEGER)")
            let seen = Collected()
            let subscription = try db.addChangeListener { seen.add($0) }
            try await conn.execute("INSERT INTO \(table) VALUES (1), (2)")
            await eventually(5, url) { seen.all.count == 1 }
            XCTAssertEqual(seen.all.first, TableChange(tables: [], origin: .local), url)
            let rolledBack = try await conn.transaction()
            try await rolledBack.execute("INSERT INTO \(table) VALUES (3)")
            try await rolledBack.rollback()
            try await conn.execute("UPDATE \(table) SET v = 0 WHERE 0")  // no rows: no change
            try await conn.transaction { tx in
                try await tx.execute("INSERT INTO \(table) VALUES (4)")
            }
            await eventually(5, url) { seen.all.count == 2 }
            subscription.cancel()
            try await conn.execute("INSERT INTO \(table) VALUES (5)")
            let marker = Collected()
            let markerSubscription = try db.addChangeListener { marker.add($0) }
            try await conn.execute("INSERT INTO \(table) VALUES (6)")
            await eventually(5, url) { !marker.all.isEmpty }
            markerSubscription.cancel()
            XCTAssertEqual(seen.all.count, 2, "\(url): a rollback, an empty update or a cancelled listener was heard")
        }
    }
}
