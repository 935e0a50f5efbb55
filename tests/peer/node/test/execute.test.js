// client.execute(): arguments, value types, intModes, result metadata.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { PROTOCOLS, connect, startServer, tableName, rejects } from "./helpers.js";

let server;
before(async () => {
    server = await startServer();
});
after(async () => {
    await server?.stop();
});

function bytesOf(value) {
    assert.ok(value instanceof ArrayBuffer, `expected an ArrayBuffer, got ${Object.prototype.toString.call(value)}`);
    return Array.from(new Uint8Array(value));
}

for (const proto of PROTOCOLS) {
    describe(`execute over ${proto}`, () => {
        let client; // intMode "bigint"
        const vals = tableName(proto, "vals");
        const people = tableName(proto, "people");

        before(async () => {
            client = connect(server, proto, { intMode: "bigint" });
            await client.execute(`CREATE TABLE ${vals} (id INTEGER PRIMARY KEY, v)`);
            await client.execute(
                `CREATE TABLE ${people} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB, n NUMERIC)`,
            );
        });
        after(() => {
            client?.close();
        });

        if (proto === "http") {
            it("talks Hrana 2 to POST /v2/pipeline", async () => {
                const c = connect(server, proto);
                try {
                    await c.execute("SELECT 1");
                    const posts = c.requestPaths.filter((p) => p.startsWith("POST "));
                    assert.ok(posts.length > 0, JSON.stringify(c.requestPaths));
                    for (const p of posts) {
                        assert.equal(p, "POST /v2/pipeline", JSON.stringify(c.requestPaths));
                    }
                } finally {
                    c.close();
                }
            });
        }

        it("runs a statement without arguments", async () => {
            const rs = await client.execute("SELECT 1 AS one, 'two' AS two");
            assert.deepEqual(rs.columns, ["one", "two"]);
            assert.equal(rs.rows.length, 1);
            assert.equal(rs.rows[0].one, 1n);
            assert.equal(rs.rows[0].two, "two");
            assert.equal(rs.rows[0][0], 1n);
            assert.equal(rs.rows[0][1], "two");
        });

        it("binds positional ? arguments in order", async () => {
            const rs = await client.execute({ sql: "SELECT ?, ?, ? - ?", args: [10n, "x", 7n, 2n] });
            assert.deepEqual(Array.from(rs.rows[0]), [10n, "x", 5n]);
        });

        it("binds numbered ?NNN arguments", async () => {
            const rs = await client.execute({ sql: "SELECT ?2, ?1, ?2", args: ["first", "second"] });
            assert.deepEqual(Array.from(rs.rows[0]), ["second", "first", "second"]);
        });

        it("accepts the (sql, args) call form", async () => {
            const rs = await client.execute("SELECT ? || ?", ["a", "b"]);
            assert.equal(rs.rows[0][0], "ab");
        });

        for (const prefix of [":", "@", "$"]) {
            it(`binds named ${prefix}name arguments given without the prefix`, async () => {
                const rs = await client.execute({
                    sql: `SELECT ${prefix}a AS a, ${prefix}b AS b, ${prefix}a + 1 AS c`,
                    args: { a: 41n, b: "bee" },
                });
                assert.deepEqual(Array.from(rs.rows[0]), [41n, "bee", 42n]);
            });

            it(`binds named ${prefix}name arguments given with the prefix`, async () => {
                const rs = await client.execute({
                    sql: `SELECT ${prefix}a AS a, ${prefix}b AS b`,
                    args: { [`${prefix}a`]: 7n, [`${prefix}b`]: null },
                });
                assert.deepEqual(Array.from(rs.rows[0]), [7n, null]);
            });
        }

        it("binds named arguments into an INSERT", async () => {
            const ins = await client.execute({
                sql: `INSERT INTO ${people} (name, score) VALUES (:name, @score)`,
                args: { name: "named", score: 2.5 },
            });
            assert.equal(ins.rowsAffected, 1);
            const rs = await client.execute({
                sql: `SELECT name, score FROM ${people} WHERE rowid = $id`,
                args: { id: ins.lastInsertRowid },
            });
            assert.deepEqual(Array.from(rs.rows[0]), ["named", 2.5]);
        });

        const roundTrips = [
            ["null", null, null, "null"],
            ["integer", 42n, 42n, "integer"],
            ["negative integer", -7n, -7n, "integer"],
            ["2^53+1", 9007199254740993n, 9007199254740993n, "integer"],
            ["max int64", 9223372036854775807n, 9223372036854775807n, "integer"],
            ["min int64", -9223372036854775808n, -9223372036854775808n, "integer"],
            ["float", 3.25, 3.25, "real"],
            ["tiny float", 1e-300, 1e-300, "real"],
            ["huge float", -1.7976931348623157e308, -1.7976931348623157e308, "real"],
            // JS numbers are sent as floats, even when integral
            ["integral JS number", 42, 42, "real"],
            ["boolean true", true, 1n, "integer"],
            ["boolean false", false, 0n, "integer"],
            ["empty text", "", "", "text"],
            ["unicode text", "héllo wörld 🌊 日本語 ∑", "héllo wörld 🌊 日本語 ∑", "text"],
            ["text with NUL", "a\u0000b\u0000", "a\u0000b\u0000", "text"],
            ["long text", "x".repeat(100_000), "x".repeat(100_000), "text"],
        ];
        for (const [label, input, expected, sqlType] of roundTrips) {
            it(`round-trips ${label}`, async () => {
                const ins = await client.execute({ sql: `INSERT INTO ${vals} (v) VALUES (?)`, args: [input] });
                const rs = await client.execute({
                    sql: `SELECT v, typeof(v) FROM ${vals} WHERE id = ?`,
                    args: [ins.lastInsertRowid],
                });
                assert.equal(rs.rows.length, 1);
                assert.equal(rs.rows[0][0], expected);
                assert.equal(rs.rows[0][1], sqlType);
                // and directly as a bound parameter, without storage
                const direct = await client.execute({ sql: "SELECT ?, typeof(?)", args: [input, input] });
                assert.equal(direct.rows[0][0], expected);
                assert.equal(direct.rows[0][1], sqlType);
            });
        }

        it("round-trips a blob given as Uint8Array", async () => {
            const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255, 0]);
            const ins = await client.execute({ sql: `INSERT INTO ${vals} (v) VALUES (?)`, args: [bytes] });
            const rs = await client.execute({
                sql: `SELECT v, typeof(v), length(v) FROM ${vals} WHERE id = ?`,
                args: [ins.lastInsertRowid],
            });
            assert.deepEqual(bytesOf(rs.rows[0][0]), Array.from(bytes));
            assert.equal(rs.rows[0][1], "blob");
            assert.equal(rs.rows[0][2], 8n);
        });

        it("round-trips a blob given as ArrayBuffer", async () => {
            const bytes = new Uint8Array(1024);
            for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
            const rs = await client.execute({ sql: "SELECT ?, typeof(?)", args: [bytes.buffer, bytes.buffer] });
            assert.deepEqual(bytesOf(rs.rows[0][0]), Array.from(bytes));
            assert.equal(rs.rows[0][1], "blob");
        });

        it("round-trips an empty blob", async () => {
            const rs = await client.execute({ sql: "SELECT ?, typeof(?), length(?)", args: [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)] });
            assert.deepEqual(bytesOf(rs.rows[0][0]), []);
            assert.equal(rs.rows[0][1], "blob");
            assert.equal(rs.rows[0][2], 0n);
        });

        it("returns SQL-computed values of every type", async () => {
            const rs = await client.execute(
                "SELECT NULL, 9007199254740993, 0.5, 'txt', x'DEADBEEF', -9223372036854775808",
            );
            const r = rs.rows[0];
            assert.equal(r[0], null);
            assert.equal(r[1], 9007199254740993n);
            assert.equal(r[2], 0.5);
            assert.equal(r[3], "txt");
            assert.deepEqual(bytesOf(r[4]), [0xde, 0xad, 0xbe, 0xef]);
            assert.equal(r[5], -9223372036854775808n);
        });

        it("reports lastInsertRowid and rowsAffected", async () => {
            const ins = await client.execute({
                sql: `INSERT INTO ${people} (id, name) VALUES (1000, ?)`,
                args: ["thousand"],
            });
            assert.equal(ins.rowsAffected, 1);
            assert.equal(ins.lastInsertRowid, 1000n);

            const ins2 = await client.execute(`INSERT INTO ${people} (name) VALUES ('a'), ('b'), ('c')`);
            assert.equal(ins2.rowsAffected, 3);
            assert.equal(ins2.lastInsertRowid, 1003n);

            const upd = await client.execute(`UPDATE ${people} SET score = 1.0 WHERE id > 1000`);
            assert.equal(upd.rowsAffected, 3);

            const del = await client.execute(`DELETE FROM ${people} WHERE id IN (1001, 1002)`);
            assert.equal(del.rowsAffected, 2);

            const sel = await client.execute(`SELECT * FROM ${people}`);
            assert.equal(sel.rowsAffected, 0);
        });

        it("reports columns and columnTypes (declared types)", async () => {
            await client.execute({
                sql: `INSERT INTO ${people} (id, name, score, data, n) VALUES (5000, 'typed', 9.5, x'00FF', 12)`,
            });
            const rs = await client.execute(
                `SELECT id, name AS alias, score, data, n, 1 + 1 AS expr FROM ${people} WHERE id = 5000`,
            );
            assert.deepEqual(rs.columns, ["id", "alias", "score", "data", "n", "expr"]);
            assert.deepEqual(rs.columnTypes, ["INTEGER", "TEXT", "REAL", "BLOB", "NUMERIC", ""]);
            const row = rs.rows[0];
            assert.equal(row.id, 5000n);
            assert.equal(row.alias, "typed");
            assert.equal(row.score, 9.5);
            assert.deepEqual(bytesOf(row.data), [0x00, 0xff]);
            assert.equal(row.n, 12n);
            assert.equal(row.expr, 2n);
        });

        it("reports columns for an empty result", async () => {
            const rs = await client.execute(`SELECT id, name FROM ${people} WHERE 0`);
            assert.deepEqual(rs.columns, ["id", "name"]);
            assert.deepEqual(rs.columnTypes, ["INTEGER", "TEXT"]);
            assert.equal(rs.rows.length, 0);
        });

        it("returns a large result set completely and in order", async () => {
            const rs = await client.execute(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x, 'row' || x FROM c",
            );
            assert.equal(rs.rows.length, 5000);
            assert.equal(rs.rows[0][0], 1n);
            assert.equal(rs.rows[4999][0], 5000n);
            assert.equal(rs.rows[1234][1], "row1235");
        });

        it("returns DDL results with no columns and no rows", async () => {
            const t = tableName(proto, "ddl_probe");
            const rs = await client.execute(`CREATE TABLE ${t} (x)`);
            assert.deepEqual(rs.columns, []);
            assert.equal(rs.rows.length, 0);
            const check = await client.execute("SELECT count(*) FROM sqlite_schema WHERE name = ?", [t]);
            assert.equal(check.rows[0][0], 1n);
        });
    });

    describe(`intMode over ${proto}`, () => {
        const clients = {};
        before(() => {
            for (const intMode of ["number", "bigint", "string"]) {
                clients[intMode] = connect(server, proto, { intMode });
            }
        });
        after(() => {
            for (const c of Object.values(clients)) c.close();
        });

        it("defaults to number", async () => {
            const c = connect(server, proto);
            try {
                const rs = await c.execute("SELECT 42, 9007199254740991");
                assert.equal(rs.rows[0][0], 42);
                assert.equal(rs.rows[0][1], Number.MAX_SAFE_INTEGER);
            } finally {
                c.close();
            }
        });

        it("number mode returns safe integers as numbers", async () => {
            const rs = await clients.number.execute("SELECT 42, -9007199254740991, typeof(42)");
            assert.equal(rs.rows[0][0], 42);
            assert.equal(rs.rows[0][1], -Number.MAX_SAFE_INTEGER);
            assert.equal(rs.rows[0][2], "integer");
        });

        it("number mode throws RangeError for an unsafe integer", async () => {
            const err = await rejects(clients.number.execute("SELECT 9007199254740993"));
            assert.ok(err instanceof RangeError, `expected RangeError, got ${err}`);
            // and the client stays usable afterwards
            const rs = await clients.number.execute("SELECT 1");
            assert.equal(rs.rows[0][0], 1);
        });

        it("number mode throws RangeError for an unsafe integer bound as bigint", async () => {
            const err = await rejects(clients.number.execute({ sql: "SELECT ?", args: [9007199254740993n] }));
            assert.ok(err instanceof RangeError, `expected RangeError, got ${err}`);
        });

        it("bigint mode returns exact 64-bit integers", async () => {
            const rs = await clients.bigint.execute({ sql: "SELECT 42, ?, 9223372036854775807", args: [9007199254740993n] });
            assert.deepEqual(Array.from(rs.rows[0]), [42n, 9007199254740993n, 9223372036854775807n]);
        });

        it("string mode returns integers as decimal strings", async () => {
            const rs = await clients.string.execute({ sql: "SELECT 42, ?, -9223372036854775808, 1.5", args: [9007199254740993n] });
            assert.deepEqual(Array.from(rs.rows[0]), ["42", "9007199254740993", "-9223372036854775808", 1.5]);
        });

        it("lastInsertRowid is a bigint in every mode", async () => {
            const t = tableName(proto, "intmode_rowid");
            await clients.bigint.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, x)`);
            for (const [mode, c] of Object.entries(clients)) {
                const rs = await c.execute(`INSERT INTO ${t} (x) VALUES ('${mode}')`);
                assert.equal(typeof rs.lastInsertRowid, "bigint", mode);
                const sel = await c.execute({ sql: `SELECT x FROM ${t} WHERE id = ?`, args: [rs.lastInsertRowid] });
                assert.equal(sel.rows[0][0], mode);
            }
        });
    });
}
