import Tidepool
import XCTest

final class SmokeTests: XCTestCase {
    func testMemory() async throws {
        let db = try Database(url: ":memory:")
        let conn = db.connect()
        let rows = try await conn.query("SELECT ? AS a, ? AS b", [1, "x"])
        XCTAssertEqual(try rows[0].get("a", as: Int.self), 1)
        XCTAssertEqual(rows[0]["b"], "x")
    }
}
