// A statement's arguments, by position or by name, written as array or dictionary literals.

import TidepoolFFI

/// The arguments of one statement.
///
/// ```swift
/// try await conn.execute("INSERT INTO pools VALUES (?, ?)", ["Rockpool", 0.4])
/// try await conn.execute("INSERT INTO pools VALUES (:name, :depth)", [":name": name, ":depth": nil])
/// ```
///
/// Elements are any `ValueConvertible` (`Int`, `Double`, `String`, `Data`, `Bool`, `Value`,
/// optionals of them); `nil` binds NULL. A name may keep or omit its `:`, `@` or `$` prefix.
public struct Parameters: Equatable, Hashable, Sendable {
    enum Storage: Equatable, Hashable, Sendable {
        case positional([Tidepool.Value])
        case named([NamedValue])
    }

    struct NamedValue: Equatable, Hashable, Sendable {
        let name: String
        let value: Tidepool.Value
    }

    let storage: Storage

    /// No arguments.
    public static let none = Parameters(positional: [])

    /// Bound by position (`?`, `?NNN`, or named parameters in order).
    public init(positional values: [Tidepool.Value]) {
        storage = .positional(values)
    }

    /// Bound by name, in the given order.
    public init(named values: [(String, Tidepool.Value)]) {
        storage = .named(values.map { NamedValue(name: $0.0, value: $0.1) })
    }

    /// Bound by name.
    public init(named values: [String: Tidepool.Value]) {
        self.init(named: values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    var ffi: TidepoolFFI.Params {
        switch storage {
        case .positional(let values):
            return values.isEmpty ? .none : .positional(values: values.map(\.ffi))
        case .named(let values):
            return .named(values: values.map { TidepoolFFI.NamedValue(name: $0.name, value: $0.value.ffi) })
        }
    }
}

extension Parameters: ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(arrayLiteral elements: (any ValueConvertible)?...) {
        self.init(positional: elements.map { $0?.tidepoolValue ?? .null })
    }

    public init(dictionaryLiteral elements: (String, (any ValueConvertible)?)...) {
        self.init(named: elements.map { ($0.0, $0.1?.tidepoolValue ?? .null) })
    }
}

/// A statement and its arguments, for `Connection.batch`.
public struct Statement: Equatable, Hashable, Sendable {
    public var sql: String
    public var parameters: Parameters

    public init(_ sql: String, _ parameters: Parameters = .none) {
        self.sql = sql
        self.parameters = parameters
    }

    var ffi: TidepoolFFI.Statement {
        TidepoolFFI.Statement(sql: sql, params: parameters.ffi)
    }
}
