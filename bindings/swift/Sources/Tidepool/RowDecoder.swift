// Rows decoded into `Decodable` types, column by name: `try rows.decode(Pool.self)`. The
// conversions are `ValueConvertible`'s, so a column decodes exactly as `row.get` reads it.

import Foundation

extension Row {
    /// This row as `T`, its properties read from the columns of the same names (a missing
    /// optional property's column may be absent). Throws `TidepoolError.decode` with
    /// `COLUMN_NOT_FOUND` or `TYPE_MISMATCH`.
    ///
    /// ```swift
    /// struct Pool: Decodable { let name: String; let depth: Double? }
    /// let pools = try await conn.query("SELECT name, depth FROM pools").decode(Pool.self)
    /// ```
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try T(from: RowDecoder(row: self))
        } catch {
            throw TidepoolError.decoding(error)
        }
    }
}

extension Rows {
    /// Every row as `T` (see `Row.decode`).
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> [T] {
        try map { try $0.decode(T.self) }
    }
}

extension TidepoolError {
    /// A `DecodingError` from a type's own `init(from:)` as a `TYPE_MISMATCH`; ours unchanged.
    static func decoding(_ error: Error) -> TidepoolError {
        if let e = error as? TidepoolError { return e }
        return .decode(Code.typeMismatch, String(describing: error))
    }
}

private func notKeyed(_ what: String) -> TidepoolError {
    .decode(TidepoolError.Code.typeMismatch, "a row decodes into a type with named properties, not \(what)")
}

/// Reads one value as a `Decodable` that is not `ValueConvertible` (a `RawRepresentable` enum,
/// a wrapper type), through a single-value container.
private func decodeValue<T: Decodable>(_ value: Value, as type: T.Type, column: String) throws -> T {
    if let convertible = type as? ValueConvertible.Type {
        guard let result = try convertible.init(tidepoolValue: value) as? T else {
            throw TidepoolError.decode(TidepoolError.Code.typeMismatch, "column \(column) is not \(T.self)")
        }
        return result
    }
    return try T(from: ValueDecoder(value: value, column: column))
}

private func integer<I: FixedWidthInteger>(_ value: Value, _ type: I.Type) throws -> I {
    let wide = try Int64(tidepoolValue: value)
    guard let narrow = I(exactly: wide) else {
        throw TidepoolError.decode(TidepoolError.Code.typeMismatch, "\(wide) does not fit in \(I.self)")
    }
    return narrow
}

private struct RowDecoder: Decoder {
    let row: Row
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(row: row))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer { throw notKeyed("a sequence") }
    func singleValueContainer() throws -> SingleValueDecodingContainer { throw notKeyed("a single value") }
}

private struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: Row
    var codingPath: [CodingKey] { [] }
    var allKeys: [Key] { row.columns.compactMap { Key(stringValue: $0.name) } }

    func contains(_ key: Key) -> Bool { row[key.stringValue] != nil }

    func value(_ key: Key) throws -> Value {
        guard let value = row[key.stringValue] else {
            throw TidepoolError.decode(TidepoolError.Code.columnNotFound, "no column named \(key.stringValue)")
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try Bool(tidepoolValue: value(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try String(tidepoolValue: value(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try Double(tidepoolValue: value(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        Float(try Double(tidepoolValue: value(key)))
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(value(key), type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(value(key), type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(value(key), type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(value(key), type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(value(key), type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(value(key), type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(value(key), type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(value(key), type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(value(key), type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(value(key), type) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decodeValue(value(key), as: type, column: key.stringValue)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw notKeyed("a nested type (column \(key.stringValue))")
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        throw notKeyed("a sequence (column \(key.stringValue))")
    }

    func superDecoder() throws -> Decoder { throw notKeyed("a superclass") }
    func superDecoder(forKey key: Key) throws -> Decoder { throw notKeyed("a superclass") }
}

/// One column's value, for types that decode themselves from a single value.
private struct ValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: Value
    let column: String
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw notKeyed("a nested type (column \(column))")
    }
    func unkeyedContainer() throws -> UnkeyedDecodingContainer { throw notKeyed("a sequence (column \(column))") }
    func singleValueContainer() throws -> SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try Bool(tidepoolValue: value) }
    func decode(_ type: String.Type) throws -> String { try String(tidepoolValue: value) }
    func decode(_ type: Double.Type) throws -> Double { try Double(tidepoolValue: value) }
    func decode(_ type: Float.Type) throws -> Float { Float(try Double(tidepoolValue: value)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(value, type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(value, type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(value, type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(value, type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(value, type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(value, type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(value, type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(value, type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(value, type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(value, type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(value, as: type, column: column) }
}
