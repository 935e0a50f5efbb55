// Offline databases against the reference server: writes that commit with the server away,
// sync, conflicts between two devices decided by column LWW, resolved later, or by a Swift
// resolver, refused changes with their SQLite code, and the misuse errors.

import Foundation
import Tidepool
import XCTest

/// Tables of their own on the test server (`items` with a UNIQUE column, and `notes`), and
/// offline devices in a temporary directory.
struct OfflineDevices {
    let url: String
    let dir: URL
    let items = uniqueTable("items")
    let notes = uniqueTable("notes")
    let primary: Connection

    init(_ test: XCTestCase, url: String? = nil) async throws {
        self.url = try url ?? TestServer.httpURL()
        dir = try temporaryDirectory(test)
        primary = try Database(url: self.url).connect()
        try await primary.executeScript(
            """
            CREATE TABLE \(items) (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, code TEXT UNIQUE);
            INSERT INTO \(items) (id, name, qty) VALUES (1, 'apple', 1), (2, 'pear', 2);
            CREATE TABLE \(notes) (id TEXT PRIMARY KEY, body TEXT);
            """)
    }

    func path(_ name: String) -> String {
        dir.appendingPathComponent("\(name).db").path
    }

    func open(
        _ name: String, offline: OfflineOptions = OfflineOptions(), options: DatabaseOptions = DatabaseOptions()
    ) throws -> Database {
        try Database(offlinePath: path(name), url: url, options: options, offline: offline)
    }

    /// The items as (id, name, qty) rows.
    func dump(_ conn: Connection) async throws -> [[Value]] {
        try await conn.query("SELECT id, name, qty FROM \(items) ORDER BY id").map { $0.values }
    }

    func name(_ conn: Connection, id: Int) async throws -> String {
        try await conn.query("SELECT name FROM \(items) WHERE id = ?", [id])[0].get(0, as: String.self)
    }
}

/// Records what a resolver was asked, from the library's thread.
final class Asked: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Conflict] = []

    func add(_ c: Conflict) {
        lock.lock()
        items.append(c)
        lock.unlock()
    }

    var all: [Conflict] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

struct ResolverFailure: Error {}

final class OfflineTests: XCTestCase {
    func testWritesCommitWithTheServerAwayAndTheNextSyncPushesThem() async throws {
        let d = try await OfflineDevices(self)
        do {
            let db = try d.open("phone")
            XCTAssertTrue(db.isOffline && db.isReplica)
            try await db.sync()
        }
        // The same file, its server unreachable: writes still commit and wait in the outbox.
        let gone = "http://127.0.0.1:\(try freePort())"
        do {
            let db = try Database(
                offlinePath: d.path("phone"), url: gone, options: DatabaseOptions(connectTimeout: 2, maxAttempts: 1))
            let conn = db.connect()
            try await conn.execute("INSERT INTO \(d.items) (id, name, qty) VALUES (3, 'plum', 3)")
            try await conn.execute("UPDATE \(d.items) SET qty = 10 WHERE id = 1")
            let pending = try await db.pendingChanges()
            XCTAssertEqual(pending, 2)
            let rows = try await d.dump(conn)
            XCTAssertEqual(rows, [[1, "apple", 10], [2, "pear", 2], [3, "plum", 3]])
            let error = await assertThrowsTidepool(TidepoolError.Code.connectFailed) { try await db.sync() }
            guard case .network? = error else { return XCTFail("\(String(describing: error))") }
            XCTAssertEqual(db.syncStatus?.lastError?.code, TidepoolError.Code.connectFailed)
        }
        // Back online: one sync pushes both.
        let db = try d.open("phone")
        let report = try await db.sync()
        XCTAssertEqual(report.changesPushed, 2)
        XCTAssertEqual(report.conflicts, 0)
        let pending = try await db.pendingChanges()
        XCTAssertEqual(pending, 0)
        XCTAssertEqual(db.syncStatus?.pendingChanges, 0)
        let onServer = try await d.dump(d.primary)
        XCTAssertEqual(onServer, [[1, "apple", 10], [2, "pear", 2], [3, "plum", 3]])
    }

    func testTheLaterWriteWinsAndItsDeviceRecordsTheConflict() async throws {
        // Device b syncs over WebSocket, a over HTTP.
        let d = try await OfflineDevices(self)
        let a = try d.open("a")
        let b = try Database(offlinePath: d.path("b"), url: try TestServer.wsURL())
        try await a.sync()
        try await b.sync()
        let (ca, cb) = (a.connect(), b.connect())
        try await ca.execute("UPDATE \(d.items) SET qty = 20 WHERE id = 2")
        try await Task.sleep(nanoseconds: 5_000_000)
        try await cb.execute("UPDATE \(d.items) SET qty = 30 WHERE id = 2")
        let first = try await a.sync()
        XCTAssertEqual(first.conflicts, 0)
        let second = try await b.sync()
        XCTAssertEqual(second.conflicts, 1)
        try await a.sync()
        let expected: [[Value]] = [[1, "apple", 1], [2, "pear", 30]]
        for conn in [d.primary, ca, cb] {
            let rows = try await d.dump(conn)
            XCTAssertEqual(rows, expected)
        }
        let conflicts = try await b.conflicts()
        XCTAssertEqual(conflicts.count, 1)
        let c = try XCTUnwrap(conflicts.first)
        XCTAssertEqual(c.table, d.items)
        XCTAssertEqual(c.key, [2])
        XCTAssertEqual(c.kind, .updateUpdate)
        XCTAssertEqual(c.kind.rawValue, "update_update")
        XCTAssertEqual(c.rule, .columnLWW)
        XCTAssertEqual(c.outcome, .local)
        XCTAssertEqual(c.outcome.rawValue, "local")
        XCTAssertEqual(c.columns, ["qty"])
        XCTAssertEqual(c.remote?["qty"], 20)
        XCTAssertEqual(c.local?["qty"], 30)
        XCTAssertNil(c.error)
        XCTAssertEqual(b.syncStatus?.conflicts, 1)
        let none = try await a.conflicts()
        XCTAssertTrue(none.isEmpty)
    }

    func testTheLosingDeviceShowsTheServersRowAndKeepLocalResolvesItEverywhere() async throws {
        let d = try await OfflineDevices(self)
        let a = try d.open("a")
        let b = try d.open("b")
        try await a.sync()
        try await b.sync()
        let (ca, cb) = (a.connect(), b.connect())
        try await cb.execute("UPDATE \(d.items) SET name = 'b-pear' WHERE id = 2")
        try await Task.sleep(nanoseconds: 5_000_000)
        try await ca.execute("UPDATE \(d.items) SET name = 'a-pear' WHERE id = 2")
        try await a.sync()
        let report = try await b.sync()
        XCTAssertEqual(report.conflicts, 1)
        var name = try await d.name(cb, id: 2)
        XCTAssertEqual(name, "a-pear")
        let cList = try await b.conflicts()
        let c = try XCTUnwrap(cList.first)
        XCTAssertEqual(c.outcome, .remote)
        XCTAssertEqual(c.local?["name"], "b-pear")
        XCTAssertEqual(c.base?.columns, ["id", "name", "qty", "code"])
        XCTAssertEqual(c.base?.values, [2, "pear", 2, nil])

        await assertThrowsTidepool(TidepoolError.Code.invalidArgument) {
            try await b.resolveConflict(9999, .keepLocal)
        }
        try await b.resolveConflict(c.id, .keepLocal)
        let left = try await b.conflicts()
        XCTAssertTrue(left.isEmpty)
        name = try await d.name(cb, id: 2)
        XCTAssertEqual(name, "b-pear")
        let pushed = try await b.sync()
        XCTAssertEqual(pushed.conflicts, 0)
        try await a.sync()
        name = try await d.name(ca, id: 2)
        XCTAssertEqual(name, "b-pear")
        name = try await d.name(d.primary, id: 2)
        XCTAssertEqual(name, "b-pear")
    }

    func testASwiftResolverMergesTheTwoVersions() async throws {
        let d = try await OfflineDevices(self)
        let asked = Asked()
        let resolver = ConflictResolverFunction { conflict in
            asked.add(conflict)
            let remote = try conflict.remote?["name"]?.get(String.self) ?? "?"
            let local = try conflict.local?["name"]?.get(String.self) ?? "?"
            return .merge(["name": .text("\(remote)+\(local)"), "qty": 100])
        }
        let a = try d.open("a")
        let b = try d.open("b", offline: OfflineOptions(resolver: resolver))
        try await a.sync()
        try await b.sync()
        try await a.connect().execute("UPDATE \(d.items) SET name = 'a-apple' WHERE id = 1")
        try await b.connect().execute("UPDATE \(d.items) SET name = 'b-apple' WHERE id = 1")
        try await a.sync()
        let report = try await b.sync()
        XCTAssertEqual(report.conflicts, 1)
        XCTAssertEqual(asked.all.count, 1)
        XCTAssertEqual(asked.all.first?.kind, .updateUpdate)
        XCTAssertEqual(asked.all.first?.rule, .resolver)
        XCTAssertEqual(asked.all.first?.columns, ["name"])
        let merged: [Value] = [1, "a-apple+b-apple", 100]
        var rows = try await d.dump(d.primary)
        XCTAssertEqual(rows.first, merged)
        rows = try await d.dump(b.connect())
        XCTAssertEqual(rows.first, merged)
        let recordedList = try await b.conflicts()
        let recorded = try XCTUnwrap(recordedList.first)
        XCTAssertEqual(recorded.rule, .resolver)
        XCTAssertEqual(recorded.outcome, .merged)
        try await a.sync()
        rows = try await d.dump(a.connect())
        XCTAssertEqual(rows.first, merged)
    }

    func testAResolverThatThrowsKeepsTheServersRow() async throws {
        let d = try await OfflineDevices(self)
        let a = try d.open("a")
        let b = try d.open(
            "b", offline: OfflineOptions(resolver: ConflictResolverFunction { _ in throw ResolverFailure() }))
        try await a.sync()
        try await b.sync()
        try await a.connect().execute("UPDATE \(d.items) SET qty = 7 WHERE id = 1")
        try await b.connect().execute("UPDATE \(d.items) SET qty = 8 WHERE id = 1")
        try await a.sync()
        try await b.sync()
        let rows = try await d.dump(b.connect())
        XCTAssertEqual(rows.first, [1, "apple", 7])
        let c = try await b.conflicts()
        XCTAssertEqual(c.map(\.outcome), [.remote])
    }

    func testPoliciesDecidePerTable() async throws {
        let d = try await OfflineDevices(self)
        let a = try d.open("a")
        let b = try d.open(
            "b", offline: OfflineOptions(defaultPolicy: .clientWins, tablePolicies: [d.items: .serverWins]))
        try await a.sync()
        try await b.sync()
        // b writes later, so column LWW would keep its value; the table's policy keeps the server's.
        try await a.connect().execute("UPDATE \(d.items) SET qty = 7 WHERE id = 1")
        try await Task.sleep(nanoseconds: 5_000_000)
        try await b.connect().execute("UPDATE \(d.items) SET qty = 8 WHERE id = 1")
        try await a.sync()
        try await b.sync()
        let rows = try await d.dump(d.primary)
        XCTAssertEqual(rows.first, [1, "apple", 7])
        let c = try await b.conflicts()
        XCTAssertEqual(c.map(\.rule), [.serverWins])
        XCTAssertEqual(c.map(\.outcome), [.remote])
    }

    func testAChangeTheServerRefusesIsRecordedWithItsCodeAndTheRestGoesThrough() async throws {
        let d = try await OfflineDevices(self)
        let a = try d.open("a")
        let b = try d.open("b")
        try await a.sync()
        try await b.sync()
        try await a.connect().execute("INSERT INTO \(d.items) VALUES (10, 'ten', 1, 'X')")
        let cb = b.connect()
        try await cb.execute("INSERT INTO \(d.items) VALUES (20, 'twenty', 1, 'X')")
        try await cb.execute("UPDATE \(d.items) SET qty = 99 WHERE id = 1")
        try await a.sync()
        let report = try await b.sync()
        XCTAssertEqual(report.changesPushed, 2)
        XCTAssertEqual(report.conflicts, 1)
        let cList = try await b.conflicts()
        let c = try XCTUnwrap(cList.first)
        XCTAssertEqual(c.kind, .rejected)
        XCTAssertEqual(c.rule, .rejected)
        let code = try XCTUnwrap(c.error?.code)
        XCTAssertTrue(code.hasPrefix("SQLITE_CONSTRAINT"), "\(code): \(c.error?.message ?? "")")
        XCTAssertEqual(c.local?["id"], 20)
        let expected = try await d.dump(d.primary)
        let onDevice = try await d.dump(cb)
        XCTAssertEqual(onDevice, expected)
        XCTAssertTrue(expected.contains([1, "apple", 99]))
        XCTAssertFalse(expected.contains { $0.first == 20 })
        try await b.resolveConflict(c.id, .keepRemote)
        let left = try await b.conflicts()
        XCTAssertTrue(left.isEmpty)
    }

    func testBackgroundSyncPushesSoonAfterAWrite() async throws {
        let d = try await OfflineDevices(self)
        let db = try d.open("bg", options: DatabaseOptions(syncInterval: 60))
        try await db.sync()
        try await db.connect().execute("UPDATE \(d.items) SET qty = 42 WHERE id = 2")
        // Woken by the write, long before the interval.
        var status = try await db.waitForSync()
        while status.pendingChanges != 0 { status = try await db.waitForSync() }
        XCTAssertNil(status.lastError)
        let rows = try await d.dump(d.primary)
        XCTAssertEqual(rows.last, [2, "pear", 42])
    }

    func testOfflineCallsOnOtherDatabasesAreTypedErrors() async throws {
        let db = try Database(url: ":memory:")
        XCTAssertFalse(db.isOffline)
        await assertThrowsTidepool(TidepoolError.Code.unsupported) { try await db.conflicts() }
        await assertThrowsTidepool(TidepoolError.Code.unsupported) { try await db.pendingChanges() }
        await assertThrowsTidepool(TidepoolError.Code.unsupported) { try await db.resolveConflict(1, .keepRemote) }
        let error = await assertThrowsTidepool(TidepoolError.Code.invalidConfig) {
            try Database(offlinePath: ":memory:", url: try TestServer.httpURL())
        }
        guard case .usage? = error else { return XCTFail("\(String(describing: error))") }
    }
}
