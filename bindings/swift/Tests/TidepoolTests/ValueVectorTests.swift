// The protocol's value vectors (protocol/vectors/values.json): every round-trip value a
// statement can carry goes in through `SELECT ?` and comes back as it went, on a local database
// and on the reference server over HTTP and WebSocket.

import Foundation
import Tidepool
import XCTest

/// Just enough JSON to read the corpus (numbers kept as Double: the corpus writes integers as
/// strings, and floats are correctly rounded by Swift's parser).
enum JSON: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSON]), object([String: JSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSON].self))
        }
    }

    subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The string this stands for, with the corpus's `$repeat` and `$concat` generators expanded.
    var text: String? {
        switch self {
        case .string(let s):
            return s
        case .object(let o) where o["$repeat"] != nil:
            guard let s = o["$repeat"]?.text, case .number(let n)? = o["count"] else { return nil }
            return String(repeating: s, count: Int(n))
        case .object(let o) where o["$concat"] != nil:
            guard case .array(let parts)? = o["$concat"] else { return nil }
            let texts = parts.compactMap(\.text)
            return texts.count == parts.count ? texts.joined() : nil
        default:
            return nil
        }
    }

    /// The wire value this canonical JSON (`{"type": "integer", "value": "42"}`) encodes.
    var wireValue: Value? {
        switch self["type"]?.text {
        case "null": return .null
        case "integer": return self["value"]?.text.flatMap { Int64($0) }.map(Value.integer)
        case "text": return self["value"]?.text.map(Value.text)
        case "blob": return self["base64"]?.text.flatMap { Data(base64Encoded: $0) }.map(Value.blob)
        case "float":
            switch self["value"] {
            case .number(let d)?: return .real(d)
            case .string("Infinity")?: return .real(.infinity)
            case .string("-Infinity")?: return .real(-.infinity)
            default: return nil
            }
        default: return nil
        }
    }
}

struct CorpusError: Error {}

final class ValueVectorTests: XCTestCase {
    /// (name, value) of every round-trip case of values.json.
    static func vectors() throws -> [(String, Value)] {
        // scripts/test-swift.sh names the directory; otherwise it is found from this file.
        let dir =
            ProcessInfo.processInfo.environment["TIDEPOOL_TEST_VECTORS"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../../protocol/vectors").standardized
        let path = dir.appendingPathComponent("values.json")
        let corpus = try JSONDecoder().decode(JSON.self, from: Data(contentsOf: path))
        guard case .array(let cases)? = corpus["cases"] else { throw CorpusError() }
        var out: [(String, Value)] = []
        for c in cases {
            guard let json = c["json"] else { continue }  // decode-only and must-fail cases
            let name = c["name"]?.text ?? "?"
            guard let value = json.wireValue else {
                XCTFail("\(name): not a wire value")
                continue
            }
            out.append((name, value))
        }
        return out
    }

    func roundTrip(_ url: String, json: Bool = false) async throws {
        let vectors = try Self.vectors()
        XCTAssertGreaterThanOrEqual(vectors.count, 40, "the corpus shrank")
        let conn = try Database(url: url, options: DatabaseOptions(forceJSON: json)).connect()
        for (name, value) in vectors {
            let rows = try await conn.query("SELECT ?", [value])
            XCTAssertTrue(same(rows[0][0], value), "\(name): got \(rows[0][0]), sent \(value)")
        }
        // The 1 MiB blob is there, expanded from its generator.
        XCTAssertTrue(
            vectors.contains { if case .blob(let b) = $0.1 { return b.count == 1 << 20 } else { return false } })
    }

    func testVectorsRoundTripLocally() async throws {
        try await roundTrip(":memory:")
    }

    func testVectorsRoundTripOverHTTP() async throws {
        try await roundTrip(try TestServer.httpURL())
    }

    func testVectorsRoundTripOverWebSocket() async throws {
        try await roundTrip(try TestServer.wsURL())
    }

    /// The same through the JSON encoding (64-bit integers as strings, infinities, -0.0).
    func testVectorsRoundTripOverHTTPInJSON() async throws {
        try await roundTrip(try TestServer.httpURL(), json: true)
    }

    func testVectorsRoundTripOverWebSocketInJSON() async throws {
        try await roundTrip(try TestServer.wsURL(), json: true)
    }

    /// Extremes survive the Swift <-> Rust conversion in both directions as typed values.
    func testTypedExtremes() async throws {
        let conn = try Database(url: ":memory:").connect()
        let row = try await conn.query(
            "SELECT ?, ?, ?, ?, ?, ?", [Int64.max, Int64.min, "a\u{0}b\u{1F30A}", Data(), -0.0, Double.nan])[0]
        XCTAssertEqual(try row.get(0, as: Int64.self), .max)
        XCTAssertEqual(try row.get(1, as: Int64.self), .min)
        XCTAssertEqual(try row.get(2, as: String.self), "a\u{0}b\u{1F30A}")
        XCTAssertEqual(try row.get(3, as: Data.self), Data())
        XCTAssertEqual(try row.get(4, as: Double.self).sign, .minus)
        XCTAssertEqual(row[5], .null, "NaN binds as NULL")
    }
}
