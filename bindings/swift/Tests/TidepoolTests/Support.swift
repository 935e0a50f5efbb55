// What the tests share: the reference server's URL (scripts/test-swift.sh starts the server on
// the host and passes it in TIDEPOOL_TEST_URL), temporary files, unique table names, and an
// assertion that an async call throws a given TidepoolError.

import Foundation
import Tidepool
import XCTest

enum TestServer {
    /// The server's HTTP URL. The remote tests need it: without it they fail rather than skip.
    static func httpURL(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TIDEPOOL_TEST_URL"], !url.isEmpty else {
            XCTFail("TIDEPOOL_TEST_URL is not set: run scripts/test-swift.sh", file: file, line: line)
            throw XCTSkip("no server")
        }
        return url
    }

    /// The same server over WebSocket.
    static func wsURL() throws -> String {
        "ws" + (try httpURL()).dropFirst("http".count)
    }

    /// A second server that requires tokens, a read-write token and a read-only one for it.
    static func auth() throws -> (url: String, token: String, readOnlyToken: String) {
        let env = ProcessInfo.processInfo.environment
        guard let url = env["TIDEPOOL_TEST_AUTH_URL"], let token = env["TIDEPOOL_TEST_TOKEN"],
            let readOnly = env["TIDEPOOL_TEST_RO_TOKEN"]
        else {
            XCTFail("TIDEPOOL_TEST_AUTH_URL and its tokens are not set: run scripts/test-swift.sh")
            throw XCTSkip("no auth server")
        }
        return (url, token, readOnly)
    }

    /// A third server, which rolls back a transaction left open for more than a second.
    static func shortTransactionURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["TIDEPOOL_TEST_SHORT_TXN_URL"], !url.isEmpty else {
            XCTFail("TIDEPOOL_TEST_SHORT_TXN_URL is not set: run scripts/test-swift.sh")
            throw XCTSkip("no short-transaction server")
        }
        return url
    }

    /// Both transports, for tests that run over each.
    static func urls() throws -> [String] {
        [try httpURL(), try wsURL()]
    }
}

/// A table name no other test (or earlier run against the same server) uses.
func uniqueTable(_ prefix: String = "t") -> String {
    "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12))"
}

/// A fresh directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("tidepool-swift-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Asserts that `body` throws a `TidepoolError` with `code`, and returns it.
@discardableResult
func assertThrowsTidepool<T>(
    _ code: String, _ body: () async throws -> T,
    file: StaticString = #filePath, line: UInt = #line
) async -> TidepoolError? {
    do {
        _ = try await body()
        XCTFail("expected \(code), nothing was thrown", file: file, line: line)
    } catch let error as TidepoolError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected a TidepoolError \(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// Waits until `condition` holds, checking every 10 ms for at most `seconds`.
func eventually(
    _ seconds: Double = 5, _ message: @autoclosure () -> String = "", _ condition: () -> Bool,
    file: StaticString = #filePath, line: UInt = #line
) async {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline {
            XCTFail("condition not met within \(seconds) s \(message())", file: file, line: line)
            return
        }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
}

/// A value the same as `other` bit for bit (`-0.0` differs from `0.0`; NaN is not a value here).
func same(_ a: Value, _ b: Value) -> Bool {
    switch (a, b) {
    case (.real(let x), .real(let y)): return x.bitPattern == y.bitPattern
    default: return a == b
    }
}

/// The first column of the first row, as an Int.
func scalar(_ conn: Connection, _ sql: String, _ parameters: Parameters = .none) async throws -> Int {
    try await conn.query(sql, parameters)[0].get(0, as: Int.self)
}
