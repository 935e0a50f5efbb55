// A SQLite value as Kotlin sees it, and the conversions of plain Kotlin values into one.
package dev.tidepool

import dev.tidepool.ffi.Value as FfiValue

/** A SQLite value: one of the five storage classes. */
sealed class Value {
    object Null : Value() {
        override fun toString() = "Null"
    }

    data class Integer(val value: Long) : Value()

    data class Real(val value: Double) : Value()

    data class Text(val value: String) : Value()

    class Blob(val value: ByteArray) : Value() {
        override fun equals(other: Any?) = other is Blob && value.contentEquals(other.value)

        override fun hashCode() = value.contentHashCode()

        override fun toString() = "Blob(${value.size} bytes)"
    }

    /** The value as a plain Kotlin value: `null`, `Long`, `Double`, `String` or `ByteArray`. */
    fun toAny(): Any? = when (this) {
        Null -> null
        is Integer -> value
        is Real -> value
        is Text -> value
        is Blob -> value
    }

    companion object {
        /**
         * A value from a plain Kotlin one: `null`; `Long`, `Int`, `Short`, `Byte` and `Boolean`
         * (0 or 1) as integers; `Double` and `Float` as reals; `String`; `ByteArray`; or a
         * [Value]. Anything else is refused with an [TidepoolException.Usage] whose code is
         * `INVALID_ARGUMENT`.
         */
        fun of(value: Any?): Value = when (value) {
            null -> Null
            is Value -> value
            is Long -> Integer(value)
            is Int -> Integer(value.toLong())
            is Short -> Integer(value.toLong())
            is Byte -> Integer(value.toLong())
            is Boolean -> Integer(if (value) 1 else 0)
            is Double -> Real(value)
            is Float -> Real(value.toDouble())
            is String -> Text(value)
            is CharSequence -> Text(value.toString())
            is ByteArray -> Blob(value)
            else -> throw TidepoolException.Usage(
                "INVALID_ARGUMENT",
                null,
                "cannot bind a ${value::class.qualifiedName} as a SQLite value",
            )
        }
    }
}

internal fun Value.toFfi(): FfiValue = when (this) {
    Value.Null -> FfiValue.Null
    is Value.Integer -> FfiValue.Integer(value)
    is Value.Real -> FfiValue.Real(value)
    is Value.Text -> FfiValue.Text(value)
    is Value.Blob -> FfiValue.Blob(value)
}

internal fun FfiValue.toPublic(): Value = when (this) {
    FfiValue.Null -> Value.Null
    is FfiValue.Integer -> Value.Integer(value)
    is FfiValue.Real -> Value.Real(value)
    is FfiValue.Text -> Value.Text(value)
    is FfiValue.Blob -> Value.Blob(value)
}
