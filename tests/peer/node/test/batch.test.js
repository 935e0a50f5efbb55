// client.batch() in every transaction mode, failing batches, executeMultiple().

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { LibsqlError, LibsqlBatchError } from "@libsql/client";
import { PROTOCOLS, connect, startServer, tableName, rejects } from "./helpers.js";

let server;
before(async () => {
    server = await startServer();
});
after(async () => {
    await server?.stop();
});

async function count(client, table) {
    const rs = await client.execute(`SELECT count(*) FROM ${table}`);
    return rs.rows[0][0];
}

for (const proto of PROTOCOLS) {
    describe(`batch over ${proto}`, () => {
        let client;
        let other; // a second, independent client
        const t = tableName(proto, "items");

        before(async () => {
            client = connect(server, proto, { intMode: "bigint" });
            other = connect(server, proto, { intMode: "bigint" });
            await client.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, qty INTEGER)`);
        });
        after(() => {
            client?.close();
            other?.close();
        });

        for (const mode of ["write", "deferred"]) {
            it(`"${mode}" batch commits every statement and returns each result`, async () => {
                const before = await count(client, t);
                const results = await client.batch(
                    [
                        { sql: `INSERT INTO ${t} (name, qty) VALUES (?, ?)`, args: [`${mode}-a`, 1n] },
                        { sql: `INSERT INTO ${t} (name, qty) VALUES (:name, :qty)`, args: { name: `${mode}-b`, qty: 2n } },
                        `UPDATE ${t} SET qty = qty * 10 WHERE name LIKE '${mode}-%'`,
                        { sql: `SELECT name, qty FROM ${t} WHERE name LIKE ? ORDER BY name`, args: [`${mode}-%`] },
                    ],
                    mode,
                );
                assert.equal(results.length, 4);
                assert.equal(results[0].rowsAffected, 1);
                assert.equal(typeof results[0].lastInsertRowid, "bigint");
                assert.equal(results[1].rowsAffected, 1);
                assert.equal(results[1].lastInsertRowid, results[0].lastInsertRowid + 1n);
                assert.equal(results[2].rowsAffected, 2);
                assert.deepEqual(results[3].columns, ["name", "qty"]);
                assert.deepEqual(
                    results[3].rows.map((r) => Array.from(r)),
                    [
                        [`${mode}-a`, 10n],
                        [`${mode}-b`, 20n],
                    ],
                );
                // committed: visible to an independent client
                assert.equal(await count(other, t), before + 2n);
            });

            it(`a failing "${mode}" batch rolls back all of its statements`, async () => {
                await client.execute({ sql: `INSERT INTO ${t} (name, qty) VALUES (?, 0)`, args: [`${mode}-dup`] });
                const before = await count(client, t);
                const err = await rejects(
                    client.batch(
                        [
                            { sql: `INSERT INTO ${t} (name, qty) VALUES (?, 1)`, args: [`${mode}-rb1`] },
                            { sql: `UPDATE ${t} SET qty = 999 WHERE name = ?`, args: [`${mode}-dup`] },
                            { sql: `INSERT INTO ${t} (name, qty) VALUES (?, 2)`, args: [`${mode}-dup`] }, // UNIQUE violation
                            { sql: `INSERT INTO ${t} (name, qty) VALUES (?, 3)`, args: [`${mode}-rb3`] },
                        ],
                        mode,
                    ),
                );
                assert.ok(err instanceof LibsqlError, `expected LibsqlError, got ${err}`);
                assert.ok(err instanceof LibsqlBatchError, `expected LibsqlBatchError, got ${err}`);
                assert.equal(err.statementIndex, 2);
                assert.equal(err.code, "SQLITE_CONSTRAINT");
                assert.match(err.message, /UNIQUE/i);

                assert.equal(await count(client, t), before);
                assert.equal(await count(other, t), before);
                const rs = await other.execute({
                    sql: `SELECT name, qty FROM ${t} WHERE name IN (?, ?, ?) ORDER BY name`,
                    args: [`${mode}-dup`, `${mode}-rb1`, `${mode}-rb3`],
                });
                assert.deepEqual(rs.rows.map((r) => Array.from(r)), [[`${mode}-dup`, 0n]]);
                // the connection is not left inside a transaction
                await client.execute({ sql: `INSERT INTO ${t} (name, qty) VALUES (?, 4)`, args: [`${mode}-after`] });
                assert.equal(await count(other, t), before + 1n);
            });
        }

        it("default-mode batch works", async () => {
            const results = await client.batch([
                { sql: `INSERT INTO ${t} (name, qty) VALUES (?, 5)`, args: ["default-a"] },
                { sql: `SELECT qty FROM ${t} WHERE name = ?`, args: ["default-a"] },
            ]);
            assert.equal(results[0].rowsAffected, 1);
            assert.equal(results[1].rows[0][0], 5n);
        });

        it('"read" batch runs reads and sees committed data', async () => {
            await client.execute({ sql: `INSERT INTO ${t} (name, qty) VALUES (?, 77)`, args: ["read-src"] });
            const results = await client.batch(
                [
                    { sql: `SELECT qty FROM ${t} WHERE name = ?`, args: ["read-src"] },
                    `SELECT count(*) FROM ${t}`,
                    "SELECT 1 + 1",
                ],
                "read",
            );
            assert.equal(results.length, 3);
            assert.equal(results[0].rows[0][0], 77n);
            assert.equal(results[1].rows[0][0], await count(other, t));
            assert.equal(results[2].rows[0][0], 2n);
        });

        it('a "read" batch cannot write', async () => {
            const before = await count(client, t);
            const err = await rejects(
                client.batch(
                    [
                        `SELECT count(*) FROM ${t}`,
                        { sql: `INSERT INTO ${t} (name, qty) VALUES (?, 1)`, args: ["read-write-attempt"] },
                    ],
                    "read",
                ),
            );
            assert.ok(err instanceof LibsqlError, `expected LibsqlError, got ${err}`);
            assert.equal(typeof err.code, "string");
            assert.equal(await count(other, t), before);
            const rs = await other.execute({ sql: `SELECT count(*) FROM ${t} WHERE name = ?`, args: ["read-write-attempt"] });
            assert.equal(rs.rows[0][0], 0n);
        });

        it("an empty batch returns no results", async () => {
            const results = await client.batch([], "write");
            assert.deepEqual(results, []);
        });

        it("executeMultiple runs every statement of a script", async () => {
            const s = tableName(proto, "script");
            await client.executeMultiple(`
                CREATE TABLE ${s} (id INTEGER PRIMARY KEY, v TEXT);
                INSERT INTO ${s} (v) VALUES ('one');
                INSERT INTO ${s} (v) VALUES ('two'); -- a comment
                INSERT INTO ${s} (v) VALUES ('semi;colon');
            `);
            const rs = await other.execute(`SELECT v FROM ${s} ORDER BY id`);
            assert.deepEqual(rs.rows.map((r) => r[0]), ["one", "two", "semi;colon"]);
        });

        it("executeMultiple stops at the first error, keeping earlier statements", async () => {
            const s = tableName(proto, "script_err");
            const err = await rejects(
                client.executeMultiple(`
                    CREATE TABLE ${s} (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
                    INSERT INTO ${s} (v) VALUES ('kept');
                    INSERT INTO ${s} (v) VALUES (NULL);
                    INSERT INTO ${s} (v) VALUES ('never');
                `),
            );
            assert.ok(err instanceof LibsqlError, `expected LibsqlError, got ${err}`);
            assert.equal(err.code, "SQLITE_CONSTRAINT");
            const rs = await other.execute(`SELECT v FROM ${s} ORDER BY id`);
            assert.deepEqual(rs.rows.map((r) => r[0]), ["kept"]);
        });

        it("executeMultiple with an explicit transaction", async () => {
            const s = tableName(proto, "script_tx");
            await client.executeMultiple(`
                CREATE TABLE ${s} (v);
                BEGIN;
                INSERT INTO ${s} VALUES (1);
                INSERT INTO ${s} VALUES (2);
                COMMIT;
                BEGIN;
                INSERT INTO ${s} VALUES (3);
                ROLLBACK;
            `);
            const rs = await other.execute(`SELECT v FROM ${s} ORDER BY v`);
            assert.deepEqual(rs.rows.map((r) => r[0]), [1n, 2n]);
        });
    });
}
