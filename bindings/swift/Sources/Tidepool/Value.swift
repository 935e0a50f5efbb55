// SQLite values, written as Swift literals, and the conversions between them and Swift types.
// The conversion rules are the Rust core's: an integer reads as Double, nothing else widens.

import Foundation
import TidepoolFFI

/// A SQLite value: one of its five storage classes.
///
/// Literals make values: `42`, `1.5`, `"text"`, `true` (stored as 1), `nil` (NULL); a
/// `Data` is a blob: `.blob(Data([0, 1]))`.
public enum Value: Equatable, Hashable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    /// The value as `T`, or `TidepoolError.decode` with code `TYPE_MISMATCH`.
    public func get<T: ValueConvertible>(_ type: T.Type = T.self) throws -> T {
        try T(tidepoolValue: self)
    }

    public var isNull: Bool { self == .null }

    var typeName: String {
        switch self {
        case .null: return "NULL"
        case .integer: return "an integer"
        case .real: return "a real"
        case .text: return "text"
        case .blob: return "a blob"
        }
    }
}

extension Value: ExpressibleByNilLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .integer(value ? 1 : 0) }
}

extension Value: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let i): return String(i)
        case .real(let d): return String(d)
        case .text(let s): return String(reflecting: s)
        case .blob(let b): return "blob(\(b.count) bytes)"
        }
    }
}

// MARK: - Swift types <-> values

/// A Swift type that can be bound as a parameter and read from a column.
public protocol ValueConvertible {
    /// Reads `value`; throws `TidepoolError.decode` (`TYPE_MISMATCH`) when it is not this type.
    init(tidepoolValue value: Value) throws
    /// The value this is stored as.
    var tidepoolValue: Value { get }
}

func mismatch(_ value: Value, _ wanted: String) -> TidepoolError {
    .decode(TidepoolError.Code.typeMismatch, "cannot read \(value.typeName) as \(wanted)")
}

extension Value: ValueConvertible {
    public init(tidepoolValue value: Value) throws { self = value }
    public var tidepoolValue: Value { self }
}

extension Int64: ValueConvertible {
    public init(tidepoolValue value: Value) throws {
        guard case .integer(let i) = value else { throw mismatch(value, "Int64") }
        self = i
    }
    public var tidepoolValue: Value { .integer(self) }
}

extension Int: ValueConvertible {
    public init(tidepoolValue value: Value) throws {
        let wide = try Int64(tidepoolValue: value)
        guard let narrow = Int(exactly: wide) else {
            throw TidepoolError.decode(TidepoolError.Code.typeMismatch, "\(wide) does not fit in Int")
        }
        self = narrow
    }
    public var tidepoolValue: Value { .integer(Int64(self)) }
}

extension Int32: ValueConvertible {
    public init(tidepoolValue value: Value) throws {
        let wide = try Int64(tidepoolValue: value)
        guard let narrow = Int32(exactly: wide) else {
            throw TidepoolError.decode(TidepoolError.Code.typeMismatch, "\(wide) does not fit in Int32")
        }
        self = narrow
    }
    public var tidepoolValue: Value { .integer(Int64(self)) }
}

extension Bool: ValueConvertible {
    /// Any integer: 0 is false, anything else true.
    public init(tidepoolValue value: Value) throws {
        guard case .integer(let i) = value else { throw mismatch(value, "Bool") }
        self = i != 0
    }
    public var tidepoolValue: Value { .integer(self ? 1 : 0) }
}

extension Double: ValueConvertible {
    /// A real, or an integer (SQLite hands back integral reals as integers in some expressions).
    public init(tidepoolValue value: Value) throws {
        switch value {
        case .real(let d): self = d
        case .integer(let i): self = Double(i)
        default: throw mismatch(value, "Double")
        }
    }
    /// NaN has no SQLite form and is stored as NULL.
    public var tidepoolValue: Value { isNaN ? .null : .real(self) }
}

extension String: ValueConvertible {
    public init(tidepoolValue value: Value) throws {
        guard case .text(let s) = value else { throw mismatch(value, "String") }
        self = s
    }
    public var tidepoolValue: Value { .text(self) }
}

extension Data: ValueConvertible {
    public init(tidepoolValue value: Value) throws {
        guard case .blob(let b) = value else { throw mismatch(value, "Data") }
        self = b
    }
    public var tidepoolValue: Value { .blob(self) }
}

extension Optional: ValueConvertible where Wrapped: ValueConvertible {
    /// NULL reads as `nil`.
    public init(tidepoolValue value: Value) throws {
        self = value == .null ? nil : try Wrapped(tidepoolValue: value)
    }
    public var tidepoolValue: Value { self?.tidepoolValue ?? .null }
}

// MARK: - generated bindings

extension Value {
    init(_ v: TidepoolFFI.Value) {
        switch v {
        case .null: self = .null
        case .integer(let i): self = .integer(i)
        case .real(let d): self = .real(d)
        case .text(let s): self = .text(s)
        case .blob(let b): self = .blob(b)
        }
    }

    var ffi: TidepoolFFI.Value {
        switch self {
        case .null: return .null
        case .integer(let i): return .integer(value: i)
        case .real(let d): return .real(value: d)
        case .text(let s): return .text(value: s)
        case .blob(let b): return .blob(value: b)
        }
    }
}
