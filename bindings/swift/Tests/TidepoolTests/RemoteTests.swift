// The API against the reference server over HTTP and WebSocket: statements, typed rows,
// batches, streamed rows, transactions seen from a second connection.

import Foundation
import Tidepool
import XCTest

final class RemoteTests: XCTestCase {
    func testStatementsAndRowsOverBothTransports() async throws {
        for url in try TestServer.urls() {
            let db = try Database(url: url)
            XCTAssertFalse(db.isLocal)
            XCTAssertTrue(db.url.hasPrefix(url), db.url)
            let conn = db.connect()
            let table = uniqueTable("remote")
            try await conn.execute("CREATE TABLE \(table) (id INTEGER PRIMARY KEY, name TEXT, depth REAL, photo BLOB)")
            let r = try await conn.execute(
                "INSERT INTO \(table) (name, depth, photo) VALUES (?, ?, ?)", ["Rockpool", 0.4, Data([1, 2, 3])])
            XCTAssertEqual(r.rowsAffected, 1, url)
            XCTAssertEqual(r.lastInsertRowid, 1, url)
            try await conn.execute(
                "INSERT INTO \(table) (name, depth) VALUES (:name, :depth)", [":name": "Tidal", ":depth": 1.25])
            let rows = try await conn.query(
                "SELECT name, depth, photo FROM \(table) WHERE depth > ? ORDER BY id", [0.1])
            XCTAssertEqual(rows.columns.map(\.name), ["name", "depth", "photo"], url)
            XCTAssertEqual(rows.columns.map(\.declaredType), ["TEXT", "REAL", "BLOB"], url)
            XCTAssertEqual(try rows.map { try $0.get("name", as: String.self) }, ["Rockpool", "Tidal"], url)
            XCTAssertEqual(try rows[0].get("photo", as: Data.self), Data([1, 2, 3]), url)
            XCTAssertEqual(try rows[1].get("photo", as: Data?.self), nil, url)

            let results = try await conn.batch([
                Statement("UPDATE \(table) SET depth = depth * 2"),
                Statement("SELECT sum(depth) AS total FROM \(table)"),
            ])
            XCTAssertEqual(results[0].rowsAffected, 2, url)
            XCTAssertEqual(try results[1].rows[0].get("total", as: Double.self), 3.3, accuracy: 1e-9)
            try await conn.close()
            await assertThrowsTidepool(TidepoolError.Code.closed) { try await conn.query("SELECT 1") }
        }
    }

    func testRowsStreamFromTheServer() async throws {
        for url in try TestServer.urls() {
            let conn = try Database(url: url).connect()
            let stream = try await conn.stream(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) SELECT i FROM n",
                pageSize: 500)
            var total = 0
            var count = 0
            for try await row in stream {
                total += try row.get(0, as: Int.self)
                count += 1
            }
            XCTAssertEqual(count, 5000, url)
            XCTAssertEqual(total, 12_502_500, url)
        }
    }

    func testTransactionIsolatedUntilCommitAndRolledBack() async throws {
        for url in try TestServer.urls() {
            let db = try Database(url: url)
            let conn = db.connect()
            let other = db.connect()
            let table = uniqueTable("tx")
            try await conn.execute("CREATE TABLE \(table) (v INTEGER)")

            let tx = try await conn.transaction(.immediate)
            try await tx.execute("INSERT INTO \(table) VALUES (?)", [1])
            let inside = try await tx.query("SELECT count(*) FROM \(table)")[0].get(0, as: Int.self)
            XCTAssertEqual(inside, 1, url)
            try await tx.commit()
            let committed = try await scalar(other, "SELECT count(*) FROM \(table)")
            XCTAssertEqual(committed, 1, url)

            do {
                let tx = try await conn.transaction()
                try await tx.execute("INSERT INTO \(table) VALUES (2)")
                try await tx.rollback()
            }
            // Released without commit: rolled back before the next statement on the connection.
            do {
                let tx = try await conn.transaction()
                try await tx.execute("INSERT INTO \(table) VALUES (3)")
            }
            let n = try await conn.transaction { tx in
                try await tx.execute("INSERT INTO \(table) VALUES (4)")
                return try await tx.query("SELECT count(*) FROM \(table)")[0].get(0, as: Int.self)
            }
            XCTAssertEqual(n, 2, url)
            let values = try await other.query("SELECT v FROM \(table) ORDER BY v").map { try $0.get(0, as: Int.self) }
            XCTAssertEqual(values, [1, 4], url)
        }
    }

    func testParallelConnectionsShareOneDatabase() async throws {
        let db = try Database(url: try TestServer.wsURL())
        let table = uniqueTable("par")
        try await db.connect().execute("CREATE TABLE \(table) (v INTEGER)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let conn = db.connect()
                    for j in 0..<10 {
                        try await conn.execute("INSERT INTO \(table) VALUES (?)", [i * 10 + j])
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = try await scalar(db.connect(), "SELECT sum(v) FROM \(table)")
        XCTAssertEqual(total, (0..<80).reduce(0, +))
    }

    /// Calls from many tasks on one connection run one at a time, each getting its own answer.
    func testOneConnectionSharedByManyTasks() async throws {
        for url in try TestServer.urls() {
            let conn = try Database(url: url).connect()
            let answers = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for i in 0..<32 {
                    group.addTask { (i, try await scalar(conn, "SELECT ? * 2", [i])) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            XCTAssertEqual(answers.count, 32, url)
            XCTAssertTrue(answers.allSatisfy { $0.value == $0.key * 2 }, "\(url): \(answers)")
        }
    }

    func testInterruptIsLocalOnly() async throws {
        let conn = try Database(url: try TestServer.httpURL()).connect()
        await assertThrowsTidepool(TidepoolError.Code.unsupported) { try conn.interrupt() }
        let one = try await scalar(conn, "SELECT 1")
        XCTAssertEqual(one, 1)
    }
}
