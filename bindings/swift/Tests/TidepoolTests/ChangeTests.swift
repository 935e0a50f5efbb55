// The change listener: fires for committed writes (not for rolled-back ones), as an AsyncStream
// or a callback, and stops when cancelled.

import Foundation
import Tidepool
import XCTest

/// Collects changes from a listener thread.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Change] = []

    func add(_ change: Change) {
        lock.lock()
        items.append(change)
        lock.unlock()
    }

    var all: [Change] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

final class ChangeTests: XCTestCase {
    func testCallbackListenerFiresOnCommitsAndStopsWhenCancelled() async throws {
        for url in [":memory:", try TestServer.httpURL()] {
            let db = try Database(url: url)
            let conn = db.connect()
            let table = uniqueTable("chg")
            try await conn.execute("CREATE TABLE \(table) (v INTEGER)")
            let seen = Collected()
            let subscription = db.addChangeListener { seen.add($0) }
            XCTAssertTrue(subscription.isActive)

            try await conn.execute("INSERT INTO \(table) VALUES (1), (2)")
            await eventually { seen.all.count == 1 }
            XCTAssertEqual(seen.all.first?.kind, .statement, url)
            XCTAssertEqual(seen.all.first?.rowsAffected, 2, url)

            // A rolled-back transaction reports nothing; a committed one reports once.
            let rolledBack = try await conn.transaction()
            try await rolledBack.execute("INSERT INTO \(table) VALUES (3)")
            try await rolledBack.rollback()
            try await conn.transaction { tx in
                try await tx.execute("INSERT INTO \(table) VALUES (4)")
                try await tx.execute("UPDATE \(table) SET v = v + 1")
            }
            await eventually { seen.all.count == 2 }
            XCTAssertEqual(seen.all.last?.kind, .commit, url)
            XCTAssertEqual(seen.all.last?.rowsAffected, 4, url)

            subscription.cancel()
            XCTAssertFalse(subscription.isActive)
            try await conn.execute("INSERT INTO \(table) VALUES (5)")
            // Changes are dispatched in order: once a listener added after the cancelled write
            // has heard anything, that write's change has been dispatched, and the cancelled
            // listener must not have had it.
            let marker = Collected()
            let markerSubscription = db.addChangeListener { marker.add($0) }
            try await conn.execute("INSERT INTO \(table) VALUES (6)")
            await eventually(5, "\(url): \(marker.all) \(seen.all)") { !marker.all.isEmpty }
            markerSubscription.cancel()
            XCTAssertEqual(seen.all.count, 2, "\(url): a cancelled listener was called")
        }
    }

    func testChangesAsAnAsyncStream() async throws {
        let db = try Database(url: try TestServer.wsURL())
        let conn = db.connect()
        let table = uniqueTable("stream")
        try await conn.execute("CREATE TABLE \(table) (v INTEGER)")
        let changes = db.changes()
        let reader = Task { () -> [Change] in
            var got: [Change] = []
            for await change in changes {
                got.append(change)
                if got.count == 2 { break }  // ends the stream, which cancels the listener
            }
            return got
        }
        try await conn.execute("INSERT INTO \(table) VALUES (1)")
        try await conn.batch([
            Statement("INSERT INTO \(table) VALUES (2)"), Statement("INSERT INTO \(table) VALUES (3)"),
        ])
        let got = await reader.value
        XCTAssertEqual(got.map(\.kind), [.statement, .batch])
        XCTAssertEqual(got.map(\.rowsAffected), [1, 2])
    }

    /// `query` runs writes too: `INSERT ... RETURNING` gives its rows and its count, and
    /// listeners hear of it.
    func testReturningThroughQueryCountsAndNotifies() async throws {
        for url in [":memory:", try TestServer.httpURL()] {
            let db = try Database(url: url)
            let conn = db.connect()
            let table = uniqueTable("ret")
            try await conn.execute("CREATE TABLE \(table) (id INTEGER PRIMARY KEY, v TEXT)")
            let seen = Collected()
            let subscription = db.addChangeListener { seen.add($0) }
            defer { subscription.cancel() }
            let rows = try await conn.query("INSERT INTO \(table) (v) VALUES ('a'), ('b') RETURNING id, v")
            XCTAssertEqual(try rows.map { try $0.get("v", as: String.self) }, ["a", "b"], url)
            XCTAssertEqual(rows.rowsAffected, 2, url)
            XCTAssertEqual(rows.lastInsertRowid, 2, url)
            await eventually(5, url) { seen.all.count == 1 }
            XCTAssertEqual(seen.all.first?.rowsAffected, 2, url)
        }
    }

    /// Releasing the subscription stops the listener, as cancelling it does.
    func testReleasingTheSubscriptionStopsTheListener() async throws {
        let db = try Database(url: ":memory:")
        let conn = db.connect()
        try await conn.execute("CREATE TABLE t (v)")
        let released = Collected()
        var subscription: ChangeSubscription? = db.addChangeListener { released.add($0) }
        try await conn.execute("INSERT INTO t VALUES (1)")
        await eventually { released.all.count == 1 }
        XCTAssertEqual(subscription?.isActive, true)
        subscription = nil

        let marker = Collected()
        let markerSubscription = db.addChangeListener { marker.add($0) }
        try await conn.execute("INSERT INTO t VALUES (2)")
        await eventually { !marker.all.isEmpty }
        markerSubscription.cancel()
        XCTAssertEqual(released.all.count, 1, "a released listener was called")
    }
}
