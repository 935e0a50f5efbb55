// The API on a local SQLite file: statements, typed rows, named parameters, batches, scripts,
// streamed rows, transactions, reopening.

import Foundation
import Tidepool
import XCTest

final class LocalTests: XCTestCase {
    func testFileDatabaseKeepsItsRowsAcrossReopening() async throws {
        let path = try temporaryDirectory(self).appendingPathComponent("app.db").path
        do {
            let db = try Database(path: path)
            XCTAssertTrue(db.isLocal)
            let conn = db.connect()
            try await conn.execute(
                "CREATE TABLE pools (id INTEGER PRIMARY KEY, name TEXT NOT NULL, depth REAL, photo BLOB)")
            let r = try await conn.execute(
                "INSERT INTO pools (name, depth, photo) VALUES (?, ?, ?)", ["Rockpool", 0.4, Data([0, 1, 255])])
            XCTAssertEqual(r.rowsAffected, 1)
            XCTAssertEqual(r.lastInsertRowid, 1)
            let name: String? = nil
            try await conn.execute(
                "INSERT INTO pools (name, depth) VALUES (:name, :depth)", [":name": "Tidal", ":depth": name])
            try await conn.close()
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))

        let conn = try Database(url: "file:" + path).connect()
        let rows = try await conn.query("SELECT id, name, depth, photo FROM pools ORDER BY id")
        XCTAssertEqual(rows.columns.map(\.name), ["id", "name", "depth", "photo"])
        XCTAssertEqual(rows.columns.map(\.declaredType), ["INTEGER", "TEXT", "REAL", "BLOB"])
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(try rows[0].get("name", as: String.self), "Rockpool")
        XCTAssertEqual(try rows[0].get("depth", as: Double.self), 0.4)
        XCTAssertEqual(try rows[0].get("photo", as: Data.self), Data([0, 1, 255]))
        XCTAssertEqual(try rows[1].get("depth", as: Double?.self), nil)
        XCTAssertEqual(rows[1]["name"], "Tidal")
        XCTAssertNil(rows[1]["nope"])
        XCTAssertEqual(Array(rows[1]), [2, "Tidal", nil, nil])
    }

    func testBatchIsAtomicAndReturnsEachResult() async throws {
        let conn = try Database(url: ":memory:").connect()
        try await conn.executeScript("CREATE TABLE t (v INTEGER UNIQUE); INSERT INTO t VALUES (1);")
        let results = try await conn.batch([
            Statement("INSERT INTO t VALUES (?)", [2]),
            Statement("INSERT INTO t VALUES (?), (?)", [3, 4]),
            Statement("SELECT count(*) AS n FROM t"),
        ])
        XCTAssertEqual(results.map(\.rowsAffected), [1, 2, 0])
        XCTAssertEqual(try results[2].rows[0].get("n", as: Int.self), 4)

        let error = await assertThrowsTidepool("SQLITE_CONSTRAINT") {
            try await conn.batch([Statement("INSERT INTO t VALUES (5)"), Statement("INSERT INTO t VALUES (1)")])
        }
        guard case .sql? = error else { return XCTFail("a constraint is an SQL error: \(String(describing: error))") }
        let n = try await conn.query("SELECT count(*) FROM t")[0].get(0, as: Int.self)
        XCTAssertEqual(n, 4, "the failed batch left nothing behind")
    }

    func testRowsStreamPageByPage() async throws {
        let conn = try Database(url: ":memory:").connect()
        let stream = try await conn.stream(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i, 'row ' || i AS label FROM n",
            pageSize: 64)
        XCTAssertEqual(stream.columns.map(\.name), ["i", "label"])
        var count = 0
        var sum = 0
        for try await row in stream {
            count += 1
            sum += try row.get("i", as: Int.self)
            if count == 1 { XCTAssertEqual(try row.get("label", as: String.self), "row 1") }
        }
        XCTAssertEqual(count, 1000)
        XCTAssertEqual(sum, 500_500)

        // A stream finished early frees the connection for the next statement.
        let early = try await conn.stream("SELECT 1 UNION ALL SELECT 2")
        for try await _ in early { break }
        await early.finish()
        let one = try await conn.query("SELECT 1")[0].get(0, as: Int.self)
        XCTAssertEqual(one, 1)
    }

    func testTransactionsCommitRollBackAndRollBackWhenReleased() async throws {
        let path = try temporaryDirectory(self).appendingPathComponent("tx.db").path
        let db = try Database(path: path)
        let conn = db.connect()
        let other = db.connect()
        try await conn.execute("CREATE TABLE t (v)")

        let tx = try await conn.transaction()
        try await tx.execute("INSERT INTO t VALUES (1)")
        let isAutocommit = try await conn.isAutocommit
        XCTAssertFalse(isAutocommit)
        let before = try await scalar(other, "SELECT count(*) FROM t")
        XCTAssertEqual(before, 0, "not visible before commit")
        try await tx.commit()
        let after = try await scalar(other, "SELECT count(*) FROM t")
        XCTAssertEqual(after, 1)
        await assertThrowsTidepool(TidepoolError.Code.closed) { try await tx.execute("INSERT INTO t VALUES (9)") }

        let rolledBack = try await conn.transaction(.immediate)
        try await rolledBack.execute("INSERT INTO t VALUES (2)")
        try await rolledBack.rollback()

        // The closure form commits when the body returns and rolls back when it throws.
        let n = try await conn.transaction { tx -> Int in
            try await tx.execute("INSERT INTO t VALUES (3)")
            return try await tx.query("SELECT count(*) FROM t")[0].get(0)
        }
        XCTAssertEqual(n, 2)
        struct Abort: Error {}
        do {
            try await conn.transaction { tx in
                try await tx.execute("INSERT INTO t VALUES (4)")
                throw Abort()
            }
            XCTFail("the body's error is rethrown")
        } catch is Abort {}

        // Released without commit: rolled back before the connection's next statement.
        do {
            let dropped = try await conn.transaction()
            try await dropped.execute("INSERT INTO t VALUES (5)")
        }
        let values = try await conn.query("SELECT v FROM t ORDER BY v").map { try $0.get(0, as: Int.self) }
        XCTAssertEqual(values, [1, 3])
        let autocommitAgain = try await conn.isAutocommit
        XCTAssertTrue(autocommitAgain)
    }

    func testReadOnlyTransactionRefusesWrites() async throws {
        let path = try temporaryDirectory(self).appendingPathComponent("ro.db").path
        let conn = try Database(path: path).connect()
        try await conn.execute("CREATE TABLE t (v)")
        let tx = try await conn.transaction(.readOnly)
        let error = await assertThrowsTidepool("SQLITE_READONLY") { try await tx.execute("INSERT INTO t VALUES (1)") }
        XCTAssertNotNil(error)
        try await tx.rollback()
    }

    func testInterruptStopsALongStatement() async throws {
        let conn = try Database(url: ":memory:").connect()
        let slow = Task {
            try await conn.query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n")
        }
        try await Task.sleep(nanoseconds: 100_000_000)
        try conn.interrupt()
        do {
            _ = try await slow.value
            XCTFail("an endless statement finished")
        } catch let error as TidepoolError {
            XCTAssertEqual(error.code, "SQLITE_INTERRUPT", "\(error)")
        }
        let one = try await conn.query("SELECT 1")[0].get(0, as: Int.self)
        XCTAssertEqual(one, 1, "the connection works after the interrupt")
    }
}
