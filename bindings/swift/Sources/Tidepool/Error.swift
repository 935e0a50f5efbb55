// The one error every Tidepool call throws: a case per kind of failure, each carrying the
// core's stable machine-readable code. Callers switch on the case or compare `code`; nobody
// needs to parse `message`.

import Foundation
import TidepoolFFI

/// What a `TidepoolError` carries, whatever its kind.
public struct ErrorDetails: Equatable, Hashable, Sendable {
    /// The stable code: a SQLite or server code (`SQLITE_CONSTRAINT`, `STREAM_EXPIRED`, ...)
    /// or a client code (`CONNECT_FAILED`, `CLOSED`, `TYPE_MISMATCH`, ...).
    public let code: String
    /// The extended SQLite code (`SQLITE_CONSTRAINT_UNIQUE`), when there is one.
    public let extendedCode: String?
    /// Human-readable; may change between versions.
    public let message: String

    public init(code: String, extendedCode: String? = nil, message: String) {
        self.code = code
        self.extendedCode = extendedCode
        self.message = message
    }
}

/// A Tidepool failure.
///
/// ```swift
/// do {
///     try await conn.execute("INSERT INTO users VALUES (?)", [42])
/// } catch let error as TidepoolError where error.isConstraint {
///     print(error.extendedCode ?? error.code)
/// }
/// ```
public enum TidepoolError: Error, Equatable, Hashable, Sendable {
    /// SQLite refused the statement (syntax, constraint, busy, ...).
    case sql(ErrorDetails)
    /// The server refused the request (authentication, limits, expired streams, ...).
    case server(ErrorDetails)
    /// The network failed: the server could not be reached, or the connection dropped.
    case network(ErrorDetails)
    /// A connect, request or total timeout elapsed.
    case timeout(ErrorDetails)
    /// The peer broke the protocol.
    case protocolViolation(ErrorDetails)
    /// Misuse: bad configuration or arguments, a closed connection or transaction.
    case usage(ErrorDetails)
    /// A value could not be read as the requested type, or a column does not exist.
    case decode(ErrorDetails)
    /// A bug in the library (code `INTERNAL`).
    case `internal`(ErrorDetails)

    /// Client codes (server and SQLite codes pass through as the server sends them).
    public enum Code {
        public static let invalidConfig = "INVALID_CONFIG"
        public static let invalidArgument = "INVALID_ARGUMENT"
        public static let connectFailed = "CONNECT_FAILED"
        public static let outcomeUnknown = "OUTCOME_UNKNOWN"
        public static let network = "NETWORK"
        public static let timeout = "TIMEOUT"
        public static let transactionLost = "TRANSACTION_LOST"
        public static let closed = "CLOSED"
        public static let columnNotFound = "COLUMN_NOT_FOUND"
        public static let typeMismatch = "TYPE_MISMATCH"
        public static let unsupported = "UNSUPPORTED"
        public static let `internal` = "INTERNAL"
    }

    public var details: ErrorDetails {
        switch self {
        case .sql(let d), .server(let d), .network(let d), .timeout(let d),
            .protocolViolation(let d), .usage(let d), .decode(let d), .internal(let d):
            return d
        }
    }

    public var code: String { details.code }
    public var extendedCode: String? { details.extendedCode }
    public var message: String { details.message }

    /// Repeating the call may succeed and cannot duplicate a write.
    public var isRetryable: Bool {
        [Code.connectFailed, Code.network, Code.timeout].contains(code) || isBusy
    }
    /// SQLite could not get a lock in time.
    public var isBusy: Bool { code == "SQLITE_BUSY" || code == "SQLITE_LOCKED" }
    /// A UNIQUE, NOT NULL, CHECK or FOREIGN KEY constraint failed.
    public var isConstraint: Bool { code == "SQLITE_CONSTRAINT" }
    /// The request may have run on the server before the connection failed.
    public var isOutcomeUnknown: Bool { code == Code.outcomeUnknown }
    /// Authentication failed or the token lacks permission.
    public var isAuth: Bool { code.hasPrefix("AUTH_") || code == "FORBIDDEN" }

    static func decode(_ code: String, _ message: String) -> TidepoolError {
        .decode(ErrorDetails(code: code, message: message))
    }
}

extension TidepoolError: CustomStringConvertible, LocalizedError {
    public var description: String {
        if let ext = extendedCode { return "\(code) (\(ext)): \(message)" }
        return "\(code): \(message)"
    }

    public var errorDescription: String? { description }
}

extension TidepoolError {
    init(_ e: TidepoolFFI.TidepoolError) {
        switch e {
        case .Sql(let c, let x, let m): self = .sql(ErrorDetails(code: c, extendedCode: x, message: m))
        case .Server(let c, let x, let m): self = .server(ErrorDetails(code: c, extendedCode: x, message: m))
        case .Network(let c, let x, let m): self = .network(ErrorDetails(code: c, extendedCode: x, message: m))
        case .Timeout(let c, let x, let m): self = .timeout(ErrorDetails(code: c, extendedCode: x, message: m))
        case .Protocol(let c, let x, let m):
            self = .protocolViolation(ErrorDetails(code: c, extendedCode: x, message: m))
        case .Usage(let c, let x, let m): self = .usage(ErrorDetails(code: c, extendedCode: x, message: m))
        case .Decode(let c, let x, let m): self = .decode(ErrorDetails(code: c, extendedCode: x, message: m))
        case .Internal(let c, let x, let m): self = .internal(ErrorDetails(code: c, extendedCode: x, message: m))
        }
    }
}

/// Runs a call into the generated bindings, turning their error into `TidepoolError`. Anything
/// else they throw (uniffi's internal errors: a caught panic, a value it could not lift) becomes
/// `.internal`, so callers only ever see `TidepoolError`.
@inline(__always)
func ffi<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw TidepoolError(any: error)
    }
}

@inline(__always)
func ffi<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw TidepoolError(any: error)
    }
}

extension TidepoolError {
    init(any error: Error) {
        switch error {
        case let e as TidepoolFFI.TidepoolError: self.init(e)
        case let e as TidepoolError: self = e
        default: self = .internal(ErrorDetails(code: Code.internal, message: String(describing: error)))
        }
    }
}
