// SQL errors surface through @libsql/client as LibsqlError with the primary
// SQLite code; the raw wire error also carries extended_code.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { LibsqlError } from "@libsql/client";
import { PROTOCOLS, connect, startServer, tableName, rejects } from "./helpers.js";

let server;
before(async () => {
    server = await startServer();
});
after(async () => {
    await server?.stop();
});

for (const proto of PROTOCOLS) {
    describe(`SQL errors over ${proto}`, () => {
        let client;
        const t = tableName(proto, "uniq");

        before(async () => {
            client = connect(server, proto, { intMode: "bigint" });
            await client.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL, age INTEGER CHECK (age >= 0))`);
            await client.execute({ sql: `INSERT INTO ${t} (id, email, name) VALUES (1, ?, ?)`, args: ["a@example.com", "A"] });
        });
        after(() => {
            client?.close();
        });

        async function expectSqlError(stmt, code, messageRe) {
            const err = await rejects(client.execute(stmt));
            assert.ok(err instanceof LibsqlError, `expected LibsqlError, got ${err?.stack ?? err}`);
            assert.equal(err.code, code, `code of ${JSON.stringify(err.message)}`);
            assert.match(err.message, messageRe);
            // the client is still usable after the error
            const rs = await client.execute("SELECT 1");
            assert.equal(rs.rows[0][0], 1n);
            return err;
        }

        it("syntax error -> SQLITE_ERROR", async () => {
            await expectSqlError("SELEC 1", "SQLITE_ERROR", /syntax error/i);
        });

        it("no such table -> SQLITE_ERROR", async () => {
            await expectSqlError("SELECT * FROM no_such_table_xyz", "SQLITE_ERROR", /no such table/i);
        });

        it("no such column -> SQLITE_ERROR", async () => {
            await expectSqlError(`SELECT nope FROM ${t}`, "SQLITE_ERROR", /no such column/i);
        });

        it("UNIQUE constraint -> SQLITE_CONSTRAINT", async () => {
            await expectSqlError(
                { sql: `INSERT INTO ${t} (email, name) VALUES (?, ?)`, args: ["a@example.com", "B"] },
                "SQLITE_CONSTRAINT",
                /UNIQUE constraint failed/i,
            );
            const rs = await client.execute(`SELECT count(*) FROM ${t}`);
            assert.equal(rs.rows[0][0], 1n);
        });

        it("PRIMARY KEY constraint -> SQLITE_CONSTRAINT", async () => {
            await expectSqlError(
                `INSERT INTO ${t} (id, email, name) VALUES (1, 'other@example.com', 'C')`,
                "SQLITE_CONSTRAINT",
                /UNIQUE constraint failed|PRIMARY KEY/i,
            );
        });

        it("NOT NULL constraint -> SQLITE_CONSTRAINT", async () => {
            await expectSqlError(
                { sql: `INSERT INTO ${t} (email, name) VALUES (?, ?)`, args: ["n@example.com", null] },
                "SQLITE_CONSTRAINT",
                /NOT NULL constraint failed/i,
            );
        });

        it("CHECK constraint -> SQLITE_CONSTRAINT", async () => {
            await expectSqlError(
                { sql: `INSERT INTO ${t} (email, name, age) VALUES (?, ?, ?)`, args: ["c@example.com", "C", -1n] },
                "SQLITE_CONSTRAINT",
                /CHECK constraint failed/i,
            );
        });

        it("an error in one statement does not affect the next ones", async () => {
            await rejects(client.execute("SELEC 2"));
            const ins = await client.execute({ sql: `INSERT INTO ${t} (email, name) VALUES (?, ?)`, args: ["ok@example.com", "OK"] });
            assert.equal(ins.rowsAffected, 1);
        });
    });
}

describe("raw Hrana JSON over HTTP: error codes on the wire", () => {
    // @libsql/client 0.18.0 does not surface `extended_code`, so check the
    // wire format directly with a plain fetch to /v2/pipeline.
    async function pipeline(requests) {
        const resp = await fetch(`${server.httpUrl}/v2/pipeline`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ baton: null, requests }),
        });
        assert.equal(resp.status, 200);
        return await resp.json();
    }

    const t = "raw_codes";
    before(async () => {
        const body = await pipeline([
            { type: "execute", stmt: { sql: `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, u TEXT UNIQUE, nn TEXT NOT NULL)` } },
            { type: "execute", stmt: { sql: `INSERT INTO ${t} (id, u, nn) VALUES (1, 'x', 'y')` } },
            { type: "close" },
        ]);
        assert.equal(body.results[0].type, "ok", JSON.stringify(body));
        assert.equal(body.results[1].type, "ok", JSON.stringify(body));
    });

    const cases = [
        // a plain syntax error has no extended subtype: extended_code, if present, equals the primary code
        ["SELEC 1", "SQLITE_ERROR", undefined],
        [`INSERT INTO ${t} (u, nn) VALUES ('x', 'z')`, "SQLITE_CONSTRAINT", "SQLITE_CONSTRAINT_UNIQUE"],
        [`INSERT INTO ${t} (id, u, nn) VALUES (1, 'q', 'z')`, "SQLITE_CONSTRAINT", "SQLITE_CONSTRAINT_PRIMARYKEY"],
        [`INSERT INTO ${t} (u, nn) VALUES ('w', NULL)`, "SQLITE_CONSTRAINT", "SQLITE_CONSTRAINT_NOTNULL"],
    ];
    for (const [sql, code, extended] of cases) {
        it(`${JSON.stringify(sql)} -> ${code} / ${extended ?? code}`, async () => {
            const body = await pipeline([{ type: "execute", stmt: { sql } }, { type: "close" }]);
            const res = body.results[0];
            assert.equal(res.type, "error", JSON.stringify(body));
            assert.equal(typeof res.error.message, "string");
            assert.equal(res.error.code, code, JSON.stringify(res.error));
            if (extended === undefined) {
                assert.ok([undefined, null, code].includes(res.error.extended_code), JSON.stringify(res.error));
            } else {
                assert.equal(res.error.extended_code, extended, JSON.stringify(res.error));
            }
        });
    }
});
