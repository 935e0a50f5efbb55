// Statements with their arguments, positional or named, for batches and every call.
package dev.tidepool

import dev.tidepool.ffi.NamedValue as FfiNamedValue
import dev.tidepool.ffi.Params as FfiParams
import dev.tidepool.ffi.Statement as FfiStatement

/** A statement and its arguments, for [Connection.batch]. */
class Statement private constructor(val sql: String, internal val params: FfiParams) {
    companion object {
        /** Positional arguments, bound to `?`, `?NNN` or named parameters in order. */
        fun of(sql: String, vararg args: Any?): Statement = Statement(sql, positional(args))

        /** Named arguments; a name may keep or omit its `:`, `@` or `$` prefix. */
        fun named(sql: String, args: Map<String, Any?>): Statement = Statement(sql, named(args))
    }

    internal fun toFfi() = FfiStatement(sql, params)
}

internal fun positional(args: Array<out Any?>): FfiParams =
    if (args.isEmpty()) FfiParams.None else FfiParams.Positional(args.map { Value.of(it).toFfi() })

internal fun named(args: Map<String, Any?>): FfiParams =
    FfiParams.Named(args.map { (name, value) -> FfiNamedValue(name, Value.of(value).toFfi()) })
