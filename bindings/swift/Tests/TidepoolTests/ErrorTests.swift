// Failures arrive as typed `TidepoolError` cases carrying the core's stable codes.

import Foundation
import Tidepool
import XCTest

final class ErrorTests: XCTestCase {
    func testConstraintIsATypedSQLErrorWithItsExtendedCode() async throws {
        for url in [":memory:"] + (try TestServer.urls()) {
            let conn = try Database(url: url).connect()
            let table = uniqueTable("err")
            try await conn.execute("CREATE TABLE \(table) (v INTEGER UNIQUE)")
            try await conn.execute("INSERT INTO \(table) VALUES (1)")
            do {
                try await conn.execute("INSERT INTO \(table) VALUES (1)")
                XCTFail("duplicate accepted on \(url)")
            } catch TidepoolError.sql(let details) {
                XCTAssertEqual(details.code, "SQLITE_CONSTRAINT", url)
                XCTAssertEqual(details.extendedCode, "SQLITE_CONSTRAINT_UNIQUE", url)
                XCTAssertTrue(details.message.contains("UNIQUE"), details.message)
            }
        }
    }

    func testSyntaxErrorAndPredicates() async throws {
        for url in [":memory:", try TestServer.httpURL()] {
            let conn = try Database(url: url).connect()
            do {
                try await conn.execute("SELEC 1")
                XCTFail("bad SQL accepted on \(url)")
            } catch let error as TidepoolError {
                guard case .sql = error else { return XCTFail("\(url): \(error)") }
                XCTAssertTrue(error.code.hasPrefix("SQLITE_"), "\(error)")
                XCTAssertFalse(error.isRetryable)
                XCTAssertFalse(error.isConstraint)
                XCTAssertTrue(error.description.contains(error.code))
            }
            // The connection is still usable after a failed statement.
            let one = try await scalar(conn, "SELECT 1")
            XCTAssertEqual(one, 1)
        }
    }

    func testBadURLIsAUsageError() async throws {
        do {
            _ = try Database(url: "gopher://example")
            XCTFail("an unknown scheme was accepted")
        } catch TidepoolError.usage(let details) {
            XCTAssertEqual(details.code, TidepoolError.Code.invalidConfig)
        }
    }

    func testUnreachableServerIsANetworkError() async throws {
        // A port that was free a moment ago: nothing listens there.
        let port = try freePort()
        let db = try Database(
            url: "http://127.0.0.1:\(port)", options: DatabaseOptions(connectTimeout: 2, maxAttempts: 1))
        let error = await assertThrowsTidepool(TidepoolError.Code.connectFailed) {
            try await db.connect().query("SELECT 1")
        }
        guard case .network? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(error?.isRetryable ?? false)
    }

    func testRowDecodingErrors() async throws {
        let row = try await Database(url: ":memory:").connect().query("SELECT 'text' AS t, 300 AS n, NULL AS z")[0]
        await assertThrowsTidepool(TidepoolError.Code.typeMismatch) { try row.get("t", as: Int.self) }
        await assertThrowsTidepool(TidepoolError.Code.typeMismatch) { try row.get("z", as: String.self) }
        await assertThrowsTidepool(TidepoolError.Code.columnNotFound) { try row.get("missing", as: Int.self) }
        await assertThrowsTidepool(TidepoolError.Code.columnNotFound) { try row.get(3, as: Int.self) }
        XCTAssertEqual(try row.get("n", as: Double.self), 300, "integers read as Double")
        XCTAssertEqual(try row.get("z", as: Int?.self), nil)
        do {
            _ = try row.get("t", as: Int.self)
        } catch TidepoolError.decode(let details) {
            XCTAssertTrue(details.message.contains("Int"), details.message)
        }
    }

    /// A transaction the server rolled back (left open past its timeout, as when an app is
    /// suspended) fails its next call with a typed error, keeps nothing, and the connection goes on.
    func testATransactionTheServerRolledBackFailsTyped() async throws {
        // Over both transports: TRANSACTION_LOST, then the connection goes on (the core made
        // WebSocket behave like HTTP in 9fa0d87).
        let http = try TestServer.shortTransactionURL()
        for url in [http, "ws" + http.dropFirst("http".count)] {
            let conn = try Database(url: url).connect()
            let table = uniqueTable("lost")
            try await conn.execute("CREATE TABLE \(table) (v)")
            let tx = try await conn.transaction()
            try await tx.execute("INSERT INTO \(table) VALUES (1)")
            try await Task.sleep(nanoseconds: 2_500_000_000)
            do {
                try await tx.execute("INSERT INTO \(table) VALUES (2)")
                try await tx.commit()
                XCTFail("\(url): a transaction past its timeout committed")
            } catch let error as TidepoolError {
                XCTAssertTrue(
                    [TidepoolError.Code.transactionLost, "TRANSACTION_TIMEOUT"].contains(error.code), "\(url): \(error)"
                )
            }
            try? await tx.rollback()
            let n = try await scalar(conn, "SELECT count(*) FROM \(table)")
            XCTAssertEqual(n, 0, "\(url): the rolled-back insert is gone")
        }
    }

    func testWrongParameterCountIsReported() async throws {
        for url in [":memory:", try TestServer.httpURL()] {
            let conn = try Database(url: url).connect()
            do {
                _ = try await conn.query("SELECT ?, ?", [1])
                XCTFail("\(url): a missing parameter was accepted")
            } catch let error as TidepoolError {
                XCTAssertFalse(error.code.isEmpty, "\(error)")
            }
        }
    }
}

/// A loopback port nobody listens on (bound, read, released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard bound else { throw CorpusError() }
    return Int(UInt16(bigEndian: addr.sin_port))
}
