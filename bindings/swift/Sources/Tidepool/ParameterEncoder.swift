// Named parameters from an `Encodable` value, one per property: the mirror of `Row.decode`.

import Foundation

extension Parameters {
    /// Named parameters from `value`'s properties: property `name` binds `:name`; nil binds NULL.
    /// Each property must be a `ValueConvertible` type or encode as a single one (a
    /// `RawRepresentable` enum); anything else throws `TidepoolError.usage` (`INVALID_ARGUMENT`).
    ///
    /// ```swift
    /// struct Pool: Encodable { let name: String; let depth: Double? }
    /// try await conn.execute("INSERT INTO pools VALUES (:name, :depth)",
    ///                        Parameters(encoding: Pool(name: "Rockpool", depth: nil)))
    /// ```
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = ParameterEncoder()
        do {
            try value.encode(to: encoder)
        } catch let e as TidepoolError {
            throw e
        } catch {
            throw invalid(String(describing: error))
        }
        self.init(named: encoder.storage.values.map { (":" + $0.0, $0.1) })
    }
}

private func invalid(_ message: String) -> TidepoolError {
    .usage(ErrorDetails(code: TidepoolError.Code.invalidArgument, message: message))
}

/// The parameters collected so far, in encoding order.
private final class Storage {
    var values: [(String, Value)] = []

    func set(_ name: String, _ value: Value) {
        if let i = values.firstIndex(where: { $0.0 == name }) {
            values[i].1 = value
        } else {
            values.append((name, value))
        }
    }
}

private func parameterValue<T: Encodable>(_ value: T, name: String) throws -> Value {
    if let convertible = value as? ValueConvertible { return convertible.tidepoolValue }
    // The other standard integers and Float encode themselves as themselves: bind them here, or
    // they would come back through the single-value container forever.
    if let integer = value as? any BinaryInteger {
        guard let wide = Int64(exactly: integer) else {
            throw invalid("property \(name): \(integer) does not fit in Int64")
        }
        return .integer(wide)
    }
    if let float = value as? Float { return Double(float).tidepoolValue }
    let single = SingleValueEncoder(name: name)
    try value.encode(to: single)
    guard let result = single.result else { throw invalid("property \(name) encoded no value") }
    return result
}

private struct ParameterEncoder: Encoder {
    let storage = Storage()
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(ParameterContainer<Key>(storage: storage))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        FailingUnkeyed(error: invalid("parameters come from a type with named properties, not a sequence"))
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        FailingSingle(error: invalid("parameters come from a type with named properties, not a single value"))
    }
}

private struct ParameterContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: Storage
    var codingPath: [CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { storage.set(key.stringValue, .null) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        storage.set(key.stringValue, try parameterValue(value, name: key.stringValue))
    }

    // Synthesized `encode(to:)` skips nil optionals through these; a parameter must bind NULL.
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        guard let value else { return try encodeNil(forKey: key) }
        try encode(value, forKey: key)
    }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) }

    private mutating func present<T: Encodable>(_ value: T?, _ key: Key) throws {
        try encodeIfPresent(value, forKey: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(FailingKeyed<NestedKey>(error: invalid("property \(key.stringValue) is nested")))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        FailingUnkeyed(error: invalid("property \(key.stringValue) is a sequence"))
    }

    mutating func superEncoder() -> Encoder { FailingEncoder(error: invalid("a superclass is not a parameter")) }
    mutating func superEncoder(forKey key: Key) -> Encoder {
        FailingEncoder(error: invalid("a superclass is not a parameter"))
    }
}

/// One property that encodes itself as a single value (a `RawRepresentable` enum).
private final class SingleValueEncoder: Encoder, SingleValueEncodingContainer {
    let name: String
    var result: Value?
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(name: String) { self.name = name }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(FailingKeyed<Key>(error: invalid("property \(name) is nested")))
    }
    func unkeyedContainer() -> UnkeyedEncodingContainer {
        FailingUnkeyed(error: invalid("property \(name) is a sequence"))
    }
    func singleValueContainer() -> SingleValueEncodingContainer { self }

    func encodeNil() throws { result = .null }
    func encode<T: Encodable>(_ value: T) throws { result = try parameterValue(value, name: name) }
}

// Containers for shapes a parameter cannot take: every call throws the error they carry.

private struct FailingEncoder: Encoder {
    let error: TidepoolError
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(FailingKeyed<Key>(error: error))
    }
    func unkeyedContainer() -> UnkeyedEncodingContainer { FailingUnkeyed(error: error) }
    func singleValueContainer() -> SingleValueEncodingContainer { FailingSingle(error: error) }
}

private struct FailingKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let error: TidepoolError
    var codingPath: [CodingKey] { [] }
    mutating func encodeNil(forKey key: Key) throws { throw error }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { throw error }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(FailingKeyed<NestedKey>(error: error))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        FailingUnkeyed(error: error)
    }
    mutating func superEncoder() -> Encoder { FailingEncoder(error: error) }
    mutating func superEncoder(forKey key: Key) -> Encoder { FailingEncoder(error: error) }
}

private struct FailingUnkeyed: UnkeyedEncodingContainer {
    let error: TidepoolError
    var codingPath: [CodingKey] { [] }
    var count: Int { 0 }
    mutating func encodeNil() throws { throw error }
    mutating func encode<T: Encodable>(_ value: T) throws { throw error }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        KeyedEncodingContainer(FailingKeyed<NestedKey>(error: error))
    }
    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer { FailingUnkeyed(error: error) }
    mutating func superEncoder() -> Encoder { FailingEncoder(error: error) }
}

private struct FailingSingle: SingleValueEncodingContainer {
    let error: TidepoolError
    var codingPath: [CodingKey] { [] }
    mutating func encodeNil() throws { throw error }
    mutating func encode<T: Encodable>(_ value: T) throws { throw error }
}
