// Failures as a sealed exception hierarchy, one class per kind, each with the core's stable code.
package dev.tidepool

import dev.tidepool.ffi.InternalException as FfiInternalException
import dev.tidepool.ffi.TidepoolException as FfiException

/**
 * A Tidepool failure. [code] is stable and machine-readable: a SQLite or server code
 * (`SQLITE_CONSTRAINT`, `AUTH_FAILED`, `STREAM_EXPIRED`, ...) or a client code
 * (`CONNECT_FAILED`, `TIMEOUT`, `CLOSED`, `INVALID_ARGUMENT`, ...). [extendedCode] is SQLite's
 * extended code (`SQLITE_CONSTRAINT_UNIQUE`) when there is one; [reason] the human-readable text.
 */
sealed class TidepoolException(
    val code: String,
    val extendedCode: String?,
    val reason: String,
    cause: Throwable? = null,
) : Exception(if (extendedCode != null) "$code ($extendedCode): $reason" else "$code: $reason", cause) {
    /** SQLite refused the statement (syntax, constraint, busy, ...). */
    class Sql(code: String, extendedCode: String?, reason: String) : TidepoolException(code, extendedCode, reason)

    /** The server refused the request (auth, limits, expired streams, ...). */
    class Server(code: String, extendedCode: String?, reason: String) : TidepoolException(code, extendedCode, reason)

    /** The network failed: connection refused or dropped. */
    class Network(code: String, extendedCode: String?, reason: String) : TidepoolException(code, extendedCode, reason)

    /** A connect, request or total timeout elapsed. */
    class Timeout(code: String, extendedCode: String?, reason: String) : TidepoolException(code, extendedCode, reason)

    /** The peer broke the protocol. */
    class Protocol(code: String, extendedCode: String?, reason: String) : TidepoolException(code, extendedCode, reason)

    /** Misuse: bad configuration or arguments, a closed connection or transaction. */
    class Usage(code: String, extendedCode: String?, reason: String) : TidepoolException(code, extendedCode, reason)

    /** A value could not be read as the requested type. */
    class Decode(code: String, extendedCode: String?, reason: String) : TidepoolException(code, extendedCode, reason)

    /** A bug in the native library (a panic it caught); code `INTERNAL`. */
    class Internal(code: String, extendedCode: String?, reason: String, cause: Throwable? = null) :
        TidepoolException(code, extendedCode, reason, cause)

    /** A constraint failed (UNIQUE, NOT NULL, CHECK, FOREIGN KEY, ...). */
    val isConstraint: Boolean get() = code == "SQLITE_CONSTRAINT"

    /** SQLite could not get a lock in time. */
    val isBusy: Boolean get() = code == "SQLITE_BUSY" || code == "SQLITE_LOCKED"

    /** Authentication failed or the token lacks permission. */
    val isAuth: Boolean get() = code.startsWith("AUTH_") || code == "FORBIDDEN"

    /** The request may have run on the server before the connection failed. */
    val isOutcomeUnknown: Boolean get() = code == "OUTCOME_UNKNOWN"

    /** Repeating the same call may succeed and cannot duplicate a write. */
    val isRetryable: Boolean get() = code == "CONNECT_FAILED" || code == "NETWORK" || code == "TIMEOUT" || isBusy
}

internal fun FfiException.toPublic(): TidepoolException = when (this) {
    is FfiException.Sql -> TidepoolException.Sql(code, extendedCode, reason)
    is FfiException.Server -> TidepoolException.Server(code, extendedCode, reason)
    is FfiException.Network -> TidepoolException.Network(code, extendedCode, reason)
    is FfiException.Timeout -> TidepoolException.Timeout(code, extendedCode, reason)
    is FfiException.Protocol -> TidepoolException.Protocol(code, extendedCode, reason)
    is FfiException.Usage -> TidepoolException.Usage(code, extendedCode, reason)
    is FfiException.Decode -> TidepoolException.Decode(code, extendedCode, reason)
    is FfiException.Internal -> TidepoolException.Internal(code, extendedCode, reason, this)
}

/** Runs a call into the native library, turning its errors into [TidepoolException]s. */
internal inline fun <T> native(block: () -> T): T = try {
    block()
} catch (e: FfiException) {
    throw e.toPublic()
} catch (e: FfiInternalException) {
    throw TidepoolException.Internal("INTERNAL", null, e.message ?: "internal error", e)
}
