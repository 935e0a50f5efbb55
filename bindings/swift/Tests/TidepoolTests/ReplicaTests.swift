// Replica databases: a local file mirroring the reference server. Sync pulls the server's
// changes, writes go to the server and are read back locally at once, listeners hear of syncs,
// and a replica whose server is gone still reads what it has.

import Foundation
import Tidepool
import XCTest

final class ReplicaTests: XCTestCase {
    func testSyncPullsTheServersChangesAndWritesReadBackLocally() async throws {
        for url in try TestServer.urls() {
            let table = uniqueTable("rep")
            let server = try Database(url: url).connect()
            try await server.execute("CREATE TABLE \(table) (id INTEGER PRIMARY KEY, name TEXT)")
            try await server.execute("INSERT INTO \(table) (name) VALUES ('a'), ('b')")

            let path = try temporaryDirectory(self).appendingPathComponent("replica.db").path
            let db = try Database(replicaPath: path, url: url)
            XCTAssertTrue(db.isReplica)
            XCTAssertEqual(db.syncStatus?.bootstrapped, false, url)
            let seen = Collected()
            let subscription = try db.addChangeListener { seen.add($0) }
            defer { subscription.cancel() }

            let first = try await db.sync()
            XCTAssertGreaterThanOrEqual(first.rowsCopied, 2, url)
            XCTAssertGreaterThanOrEqual(first.tablesCopied, 1, url)
            let status = try XCTUnwrap(db.syncStatus)
            XCTAssertTrue(status.bootstrapped, url)
            XCTAssertEqual(status.syncs, 1, url)
            XCTAssertNil(status.lastError, url)
            XCTAssertNotNil(status.lastSyncedAt, url)
            await eventually(5, url) { seen.all.contains { $0.origin == .remote && $0.tables.contains(table) } }
            XCTAssertTrue(first.tablesChanged.contains(table), "\(url): \(first)")

            let conn = db.connect()
            let copied = try await scalar(conn, "SELECT count(*) FROM \(table)")
            XCTAssertEqual(copied, 2, url)

            // A change made elsewhere arrives with the next sync.
            try await server.execute("UPDATE \(table) SET name = 'B' WHERE name = 'b'")
            try await server.execute("INSERT INTO \(table) (name) VALUES ('c')")
            let stale = try await conn.query("SELECT name FROM \(table) ORDER BY id").map {
                try $0.get(0, as: String.self)
            }
            XCTAssertEqual(stale, ["a", "b"], "\(url): reads are local until a sync")
            let second = try await db.sync()
            XCTAssertGreaterThanOrEqual(second.changesApplied, 2, url)
            XCTAssertEqual(second.position, db.syncStatus?.position, url)
            let synced = try await conn.query("SELECT name FROM \(table) ORDER BY id").map {
                try $0.get(0, as: String.self)
            }
            XCTAssertEqual(synced, ["a", "B", "c"], url)

            // A write through the replica runs on the server and is read back locally at once.
            try await conn.execute("INSERT INTO \(table) (name) VALUES (?)", ["d"])
            let local = try await scalar(conn, "SELECT count(*) FROM \(table) WHERE name = 'd'")
            XCTAssertEqual(local, 1, "\(url): read-your-writes")
            let onServer = try await scalar(server, "SELECT count(*) FROM \(table) WHERE name = 'd'")
            XCTAssertEqual(onServer, 1, url)
            try await conn.transaction { tx in
                try await tx.execute("DELETE FROM \(table) WHERE name = 'a'")
            }
            let afterTx = try await scalar(server, "SELECT count(*) FROM \(table)")
            XCTAssertEqual(afterTx, 3, url)
        }
    }

    func testAReplicaWhoseServerIsGoneStillReadsAndReportsTheSyncError() async throws {
        let url = try TestServer.httpURL()
        let table = uniqueTable("offline")
        try await Database(url: url).connect().executeScript(
            "CREATE TABLE \(table) (v); INSERT INTO \(table) VALUES (42)")
        let path = try temporaryDirectory(self).appendingPathComponent("offline.db").path
        do {
            let db = try Database(replicaPath: path, url: url)
            try await db.sync()
        }

        // The same file, its server now unreachable.
        let gone = "http://127.0.0.1:\(try freePort())"
        let db = try Database(
            replicaPath: path, url: gone, options: DatabaseOptions(connectTimeout: 2, maxAttempts: 1))
        let value = try await scalar(db.connect(), "SELECT v FROM \(table)")
        XCTAssertEqual(value, 42, "the replica reads what it has without its server")
        let error = await assertThrowsTidepool(TidepoolError.Code.connectFailed) { try await db.sync() }
        guard case .network? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(db.syncStatus?.lastError?.code, TidepoolError.Code.connectFailed)
    }

    func testSyncOnADatabaseThatIsNotAReplica() async throws {
        let db = try Database(url: ":memory:")
        XCTAssertFalse(db.isReplica)
        XCTAssertNil(db.syncStatus)
        await assertThrowsTidepool(TidepoolError.Code.unsupported) { try await db.sync() }
        await assertThrowsTidepool(TidepoolError.Code.unsupported) { try await db.waitForSync() }
    }

    /// Two replicas of one server (two devices): a write through one reaches the other with its
    /// next sync, and a sync interval brings it without a call.
    func testTwoReplicasMeetThroughTheServer() async throws {
        let url = try TestServer.wsURL()
        let table = uniqueTable("pair")
        try await Database(url: url).connect().execute("CREATE TABLE \(table) (id INTEGER PRIMARY KEY, v TEXT)")
        let dir = try temporaryDirectory(self)
        let phone = try Database(replicaPath: dir.appendingPathComponent("phone.db").path, url: url)
        let tablet = try Database(
            replicaPath: dir.appendingPathComponent("tablet.db").path, url: url,
            options: DatabaseOptions(syncInterval: 0.1))
        try await phone.sync()
        try await tablet.sync()

        try await phone.connect().execute("INSERT INTO \(table) (v) VALUES (?)", ["from the phone"])
        let tabletConn = tablet.connect()
        let deadline = Date().addingTimeInterval(10)
        var seen: [String] = []
        while seen.isEmpty && Date() < deadline {
            seen = try await tabletConn.query("SELECT v FROM \(table)").map { try $0.get(0, as: String.self) }
            if seen.isEmpty { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertEqual(seen, ["from the phone"], "the background sync brought the phone's write")
        XCTAssertGreaterThanOrEqual(tablet.syncStatus?.syncs ?? 0, 2)

        try await tabletConn.execute("UPDATE \(table) SET v = 'edited on the tablet'")
        try await phone.sync()
        let onPhone = try await phone.connect().query("SELECT v FROM \(table)")[0].get(0, as: String.self)
        XCTAssertEqual(onPhone, "edited on the tablet")
    }
}
