// Tokens: DatabaseOptions.authToken reaches a server that requires one; a missing token and a
// read-only token's write arrive as typed server errors.

import Foundation
import Tidepool
import XCTest

final class AuthTests: XCTestCase {
    func testTokensAndTheirErrors() async throws {
        let server = try TestServer.auth()
        for url in [server.url, "ws" + server.url.dropFirst("http".count)] {
            let table = uniqueTable("auth")
            let writer = try Database(url: url, options: DatabaseOptions(authToken: server.token)).connect()
            try await writer.execute("CREATE TABLE \(table) (v)")
            try await writer.execute("INSERT INTO \(table) VALUES (1)")

            let anonymous = try Database(url: url, options: DatabaseOptions(maxAttempts: 1)).connect()
            do {
                _ = try await anonymous.query("SELECT 1")
                XCTFail("\(url): a request without a token was served")
            } catch let error as TidepoolError {
                XCTAssertTrue(error.isAuth, "\(url): \(error)")
                guard case .server = error else { return XCTFail("\(url): \(error) is not a server error") }
            }

            let reader = try Database(url: url, options: DatabaseOptions(authToken: server.readOnlyToken)).connect()
            let n = try await scalar(reader, "SELECT count(*) FROM \(table)")
            XCTAssertEqual(n, 1, url)
            let error = await assertThrowsTidepool("FORBIDDEN") {
                try await reader.execute("INSERT INTO \(table) VALUES (2)")
            }
            XCTAssertTrue(error?.isAuth ?? false)
        }
    }
}
