// Results: rows with typed access by position or column name, execute and batch results.
package dev.tidepool

import dev.tidepool.ffi.Column as FfiColumn
import dev.tidepool.ffi.ResultSet as FfiResultSet
import dev.tidepool.ffi.Value as FfiValue

/** A result column: its name and, for a table column, its declared type (`INTEGER`, `TEXT`...). */
data class Column(val name: String, val declType: String?)

/** The outcome of a statement that is not read for its rows. */
data class ExecuteResult(val rowsAffected: Long, val lastInsertRowid: Long?)

/** One row. Columns are found by position (from 0) or by name. */
class Row internal constructor(val columns: List<Column>, val values: List<Value>) {
    /** The value of a column as a plain Kotlin value (`null`, `Long`, `Double`, `String`, `ByteArray`). */
    operator fun get(index: Int): Any? = value(index).toAny()

    operator fun get(name: String): Any? = value(name).toAny()

    fun value(index: Int): Value = values.getOrNull(index) ?: throw TidepoolException.Usage(
        "COLUMN_NOT_FOUND",
        null,
        "no column $index (the row has ${values.size})",
    )

    fun value(name: String): Value {
        val index = columns.indexOfFirst { it.name == name }
        if (index < 0) throw TidepoolException.Usage("COLUMN_NOT_FOUND", null, "no column named \"$name\"")
        return values[index]
    }

    fun getLong(index: Int): Long = long(value(index))
    fun getLong(name: String): Long = long(value(name))
    fun getDouble(index: Int): Double = double(value(index))
    fun getDouble(name: String): Double = double(value(name))
    fun getString(index: Int): String = string(value(index))
    fun getString(name: String): String = string(value(name))
    fun getBlob(index: Int): ByteArray = blob(value(index))
    fun getBlob(name: String): ByteArray = blob(value(name))
    fun isNull(index: Int): Boolean = value(index) == Value.Null
    fun isNull(name: String): Boolean = value(name) == Value.Null

    override fun toString() = columns.zip(values).joinToString(prefix = "Row(", postfix = ")") { (c, v) -> "${c.name}=$v" }
}

private fun mismatch(value: Value, wanted: String) =
    TidepoolException.Decode("TYPE_MISMATCH", null, "cannot read $value as $wanted")

private fun long(v: Value): Long = (v as? Value.Integer)?.value ?: throw mismatch(v, "Long")

private fun double(v: Value): Double = when (v) {
    is Value.Real -> v.value
    // SQLite hands back integral REAL values as integers in some expressions.
    is Value.Integer -> v.value.toDouble()
    else -> throw mismatch(v, "Double")
}

private fun string(v: Value): String = (v as? Value.Text)?.value ?: throw mismatch(v, "String")

private fun blob(v: Value): ByteArray = (v as? Value.Blob)?.value ?: throw mismatch(v, "ByteArray")

/**
 * A query's rows, read whole, and what the statement changed ([rowsAffected] and [lastInsertRowid]
 * for an `INSERT ... RETURNING`).
 */
class Rows internal constructor(
    val columns: List<Column>,
    private val rows: List<Row>,
    val rowsAffected: Long,
    val lastInsertRowid: Long?,
) : List<Row> by rows {
    override fun toString() = "Rows(${columns.map { it.name }}, ${rows.size} rows)"
}

/** One statement's result in a batch. */
class ResultSet internal constructor(
    val columns: List<Column>,
    val rows: List<Row>,
    val rowsAffected: Long,
    val lastInsertRowid: Long?,
)

internal fun List<FfiColumn>.toPublic(): List<Column> = map { Column(it.name, it.decltype) }

internal fun rowsOf(columns: List<Column>, rows: List<List<FfiValue>>): List<Row> =
    rows.map { values -> Row(columns, values.map { it.toPublic() }) }

internal fun FfiResultSet.toPublic(): ResultSet {
    val cols = columns.toPublic()
    return ResultSet(cols, rowsOf(cols, rows), rowsAffected.toLong(), lastInsertRowid)
}
