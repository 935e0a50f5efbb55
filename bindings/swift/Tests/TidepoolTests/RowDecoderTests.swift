// Rows decoded into Decodable types by column name.

import Foundation
import Tidepool
import XCTest

private struct Pool: Codable, Equatable {
    enum Kind: String, Codable { case rock, tidal }
    let id: Int64
    let name: String
    let depth: Double?
    let kind: Kind
    let photo: Data?
    let isOpen: Bool
    let visitors: UInt16

    enum CodingKeys: String, CodingKey {
        case id, name, depth, kind, photo, visitors
        case isOpen = "is_open"
    }
}

final class RowDecoderTests: XCTestCase {
    func testRowsDecodeIntoDecodableTypes() async throws {
        for url in [":memory:", try TestServer.httpURL()] {
            let conn = try Database(url: url).connect()
            let table = uniqueTable("dec")
            try await conn.executeScript(
                """
                CREATE TABLE \(table) (id INTEGER PRIMARY KEY, name TEXT, depth REAL, kind TEXT, photo BLOB,
                                       is_open INTEGER, visitors INTEGER);
                INSERT INTO \(table) VALUES (1, 'Rockpool', 0.5, 'rock', x'00ff', 1, 300);
                INSERT INTO \(table) VALUES (2, 'Tidal', NULL, 'tidal', NULL, 0, 0);
                """)
            let pools = try await conn.query("SELECT * FROM \(table) ORDER BY id").decode(Pool.self)
            XCTAssertEqual(
                pools,
                [
                    Pool(
                        id: 1, name: "Rockpool", depth: 0.5, kind: .rock, photo: Data([0, 255]), isOpen: true,
                        visitors: 300),
                    Pool(id: 2, name: "Tidal", depth: nil, kind: .tidal, photo: nil, isOpen: false, visitors: 0),
                ], url)

            // A non-optional property without its column, a column of the wrong type, a value
            // out of range, a raw value the enum lacks: all typed decode errors.
            let missing = try await conn.query("SELECT id, name FROM \(table)")
            await assertThrowsTidepool(TidepoolError.Code.columnNotFound) { try missing[0].decode(Pool.self) }
            let wrongType = try await conn.query(
                "SELECT 'x' AS id, name, depth, kind, photo, is_open, visitors FROM \(table)")
            await assertThrowsTidepool(TidepoolError.Code.typeMismatch) { try wrongType[0].decode(Pool.self) }
            let tooBig = try await conn.query(
                "SELECT id, name, depth, kind, photo, is_open, 70000 AS visitors FROM \(table)")
            await assertThrowsTidepool(TidepoolError.Code.typeMismatch) { try tooBig[0].decode(Pool.self) }
            let badKind = try await conn.query(
                "SELECT id, name, depth, 'lagoon' AS kind, photo, is_open, visitors FROM \(table)")
            let error = await assertThrowsTidepool(TidepoolError.Code.typeMismatch) { try badKind[0].decode(Pool.self) }
            guard case .decode? = error else { return XCTFail("\(String(describing: error))") }
        }
    }

    /// Parameters from an Encodable value (`:property`), read back with `decode`: a round trip.
    func testEncodableValuesBindAsNamedParameters() async throws {
        for url in [":memory:", try TestServer.wsURL()] {
            let conn = try Database(url: url).connect()
            let table = uniqueTable("enc")
            try await conn.execute(
                "CREATE TABLE \(table) (id INTEGER PRIMARY KEY, name TEXT, depth REAL, kind TEXT, photo BLOB, "
                    + "is_open INTEGER, visitors INTEGER)")
            let pools = [
                Pool(id: 1, name: "Rockpool", depth: 0.5, kind: .rock, photo: Data([7]), isOpen: true, visitors: 9),
                Pool(id: 2, name: "Tidal", depth: nil, kind: .tidal, photo: nil, isOpen: false, visitors: 0),
            ]
            for pool in pools {
                try await conn.execute(
                    "INSERT INTO \(table) VALUES (:id, :name, :depth, :kind, :photo, :is_open, :visitors)",
                    try Parameters(encoding: pool))
            }
            let back = try await conn.query("SELECT * FROM \(table) ORDER BY id").decode(Pool.self)
            XCTAssertEqual(back, pools, url)
        }

        struct Nested: Encodable {
            struct Inner: Encodable { let x: Int }
            let inner: Inner
        }
        let error = await assertThrowsTidepool(TidepoolError.Code.invalidArgument) {
            try Parameters(encoding: Nested(inner: .init(x: 1)))
        }
        guard case .usage? = error else { return XCTFail("\(String(describing: error))") }
    }
}
