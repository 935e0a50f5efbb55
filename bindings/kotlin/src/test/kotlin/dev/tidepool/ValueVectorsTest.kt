// Every value of the protocol's vector corpus comes back from `SELECT ?` as it went in, locally
// and through the reference server over HTTP and WebSocket.
package dev.tidepool

import com.google.gson.JsonElement
import com.google.gson.JsonParser
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import java.io.File
import java.util.Base64
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class ValueVectorsTest {
    private fun corpus(): List<Pair<String, Value>> {
        val dir = System.getProperty("tidepool.vectors.dir") ?: error("set -Dtidepool.vectors.dir")
        val root = JsonParser.parseString(File(dir, "values.json").readText()).asJsonObject
        return root.getAsJsonArray("cases").map { it.asJsonObject }
            .filter { it.has("json") }
            .map { it.get("name").asString to value(expand(it.get("json"))) }
    }

    /** The corpus's `$repeat` and `$concat` string generators, expanded. */
    private fun expand(e: JsonElement): JsonElement {
        if (!e.isJsonObject) return e
        val o = e.asJsonObject
        fun text(x: JsonElement): String = if (x.isJsonPrimitive) x.asString else expand(x).asString
        return when {
            o.has("\$repeat") -> com.google.gson.JsonPrimitive(text(o.get("\$repeat")).repeat(o.get("count").asInt))
            o.has("\$concat") -> com.google.gson.JsonPrimitive(o.getAsJsonArray("\$concat").joinToString("") { text(it) })
            else -> com.google.gson.JsonObject().also { out -> o.entrySet().forEach { (k, v) -> out.add(k, expand(v)) } }
        }
    }

    private fun value(json: JsonElement): Value {
        val o = json.asJsonObject
        return when (val type = o.get("type").asString) {
            "null" -> Value.Null
            "integer" -> Value.Integer(o.get("value").asString.toLong())
            "float" -> {
                val v = o.get("value").asJsonPrimitive
                Value.Real(
                    when {
                        v.isString && v.asString == "Infinity" -> Double.POSITIVE_INFINITY
                        v.isString && v.asString == "-Infinity" -> Double.NEGATIVE_INFINITY
                        // Written as text: parse exactly, keeping -0.0's sign.
                        else -> v.asNumber.toString().toDouble()
                    },
                )
            }
            "text" -> Value.Text(o.get("value").asString)
            "blob" -> Value.Blob(Base64.getDecoder().decode(o.get("base64").asString))
            else -> error("unknown value type $type")
        }
    }

    private fun same(a: Value, b: Value) = when {
        a is Value.Real && b is Value.Real -> a.value.toRawBits() == b.value.toRawBits()
        else -> a == b
    }

    @ParameterizedTest
    @EnumSource(Target::class)
    fun `vector values round trip through SELECT`(target: Target) = runBlocking {
        val cases = corpus()
        assertTrue(cases.size >= 30, "only ${cases.size} value cases")
        target.open().use { db ->
            db.connect().use { conn ->
                for ((name, value) in cases) {
                    val back = conn.query("SELECT ?", value).single().value(0)
                    assertTrue(same(back, value), "$name: sent $value, got $back")
                }
            }
        }
    }

    @Test
    fun `kotlin values convert to sqlite values`() = runBlocking {
        Target.LOCAL.open().use { db ->
            db.connect().use { conn ->
                val row = conn.query(
                    "SELECT ?, ?, ?, ?, ?, ?, ?, ?",
                    7, 7L, true, 1.5f, 2.5, "tide", byteArrayOf(0, 1, 2), null,
                ).single()
                assertEquals(
                    listOf(Value.Integer(7), Value.Integer(7), Value.Integer(1), Value.Real(1.5), Value.Real(2.5),
                        Value.Text("tide"), Value.Blob(byteArrayOf(0, 1, 2)), Value.Null),
                    row.values,
                )
                assertEquals(7L, row[0])
                assertEquals("tide", row[5])
                assertEquals(null, row[7])
                // NaN has no SQLite form: it binds as NULL.
                assertEquals(Value.Null, conn.query("SELECT ?", Double.NaN).single().value(0))
                val e = assertFailsWith<TidepoolException.Usage> { conn.query("SELECT ?", Any()) }
                assertEquals("INVALID_ARGUMENT", e.code)
            }
        }
    }
}
