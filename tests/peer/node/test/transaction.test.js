// Interactive transactions: client.transaction(mode), commit, rollback, close,
// isolation as seen from a second, independent client.

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
    describe(`transactions over ${proto}`, () => {
        let client;
        let other;
        const t = tableName(proto, "accounts");

        async function names() {
            const rs = await other.execute(`SELECT name FROM ${t} ORDER BY name`);
            return rs.rows.map((r) => r[0]);
        }

        before(async () => {
            client = connect(server, proto, { intMode: "bigint" });
            other = connect(server, proto, { intMode: "bigint" });
            await client.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, balance INTEGER NOT NULL DEFAULT 0)`);
        });
        after(() => {
            client?.close();
            other?.close();
        });

        it("a committed write transaction becomes visible to other clients only after commit", async () => {
            const tx = await client.transaction("write");
            try {
                const ins = await tx.execute({ sql: `INSERT INTO ${t} (name, balance) VALUES (?, ?)`, args: ["commit-1", 100n] });
                assert.equal(ins.rowsAffected, 1);
                assert.equal(typeof ins.lastInsertRowid, "bigint");
                await tx.execute({ sql: `INSERT INTO ${t} (name, balance) VALUES (:n, :b)`, args: { n: "commit-2", b: 50n } });
                // the transaction sees its own writes
                const inside = await tx.execute(`SELECT name, balance FROM ${t} WHERE name LIKE 'commit-%' ORDER BY name`);
                assert.deepEqual(inside.rows.map((r) => Array.from(r)), [["commit-1", 100n], ["commit-2", 50n]]);
                // others do not, yet
                assert.deepEqual((await names()).filter((n) => n.startsWith("commit-")), []);
                await tx.commit();
            } finally {
                tx.close();
            }
            assert.equal(tx.closed, true);
            assert.deepEqual((await names()).filter((n) => n.startsWith("commit-")), ["commit-1", "commit-2"]);
        });

        it("a rolled-back transaction leaves no trace", async () => {
            await client.execute({ sql: `INSERT INTO ${t} (name, balance) VALUES (?, 10)`, args: ["rb-existing"] });
            const tx = await client.transaction("write");
            try {
                await tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["rb-new"] });
                await tx.execute({ sql: `UPDATE ${t} SET balance = 0 WHERE name = ?`, args: ["rb-existing"] });
                await tx.execute({ sql: `DELETE FROM ${t} WHERE name = ?`, args: ["commit-1"] });
                const inside = await tx.execute(`SELECT count(*) FROM ${t} WHERE name IN ('rb-new', 'commit-1')`);
                assert.equal(inside.rows[0][0], 1n);
                await tx.rollback();
            } finally {
                tx.close();
            }
            const rs = await other.execute(`SELECT name, balance FROM ${t} WHERE name IN ('rb-new', 'rb-existing', 'commit-1') ORDER BY name`);
            assert.deepEqual(rs.rows.map((r) => Array.from(r)), [["commit-1", 100n], ["rb-existing", 10n]]);
        });

        it("a transaction closed without commit is rolled back and releases its lock", async () => {
            const tx = await client.transaction("write");
            await tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["abandoned"] });
            tx.close();
            assert.equal(tx.closed, true);
            // give the server a moment to process the close
            let seen = null;
            for (let i = 0; i < 50; i++) {
                try {
                    await other.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: [`after-abandon-${proto}`] });
                    seen = await names();
                    break;
                } catch (e) {
                    // SQLITE_BUSY while the server has not yet rolled the abandoned transaction back
                    await new Promise((r) => setTimeout(r, 100));
                }
            }
            assert.ok(seen !== null, "the write lock of the abandoned transaction was never released");
            assert.ok(!seen.includes("abandoned"), "writes of a closed, uncommitted transaction became visible");
            assert.ok(seen.includes(`after-abandon-${proto}`));
        });

        it("a statement error inside a transaction does not abort it", async () => {
            const tx = await client.transaction("write");
            try {
                await tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["partial-ok"] });
                const err = await rejects(tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["partial-ok"] }));
                assert.ok(err instanceof LibsqlError, `expected LibsqlError, got ${err}`);
                assert.equal(err.code, "SQLITE_CONSTRAINT");
                await tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["partial-ok-2"] });
                await tx.commit();
            } finally {
                tx.close();
            }
            const all = await names();
            assert.ok(all.includes("partial-ok"));
            assert.ok(all.includes("partial-ok-2"));
        });

        it("batch and executeMultiple inside a transaction", async () => {
            const tx = await client.transaction("write");
            try {
                const results = await tx.batch([
                    { sql: `INSERT INTO ${t} (name, balance) VALUES (?, ?)`, args: ["txb-a", 1n] },
                    { sql: `INSERT INTO ${t} (name, balance) VALUES (?, ?)`, args: ["txb-b", 2n] },
                    `SELECT sum(balance) FROM ${t} WHERE name LIKE 'txb-%'`,
                ]);
                assert.equal(results.length, 3);
                assert.equal(results[2].rows[0][0], 3n);
                await tx.executeMultiple(`
                    UPDATE ${t} SET balance = balance + 10 WHERE name = 'txb-a';
                    INSERT INTO ${t} (name, balance) VALUES ('txb-c', 3);
                `);
                assert.deepEqual((await names()).filter((n) => n.startsWith("txb-")), []);
                await tx.commit();
            } finally {
                tx.close();
            }
            const rs = await other.execute(`SELECT name, balance FROM ${t} WHERE name LIKE 'txb-%' ORDER BY name`);
            assert.deepEqual(rs.rows.map((r) => Array.from(r)), [["txb-a", 11n], ["txb-b", 2n], ["txb-c", 3n]]);
        });

        it("a deferred transaction commits", async () => {
            const tx = await client.transaction("deferred");
            try {
                const before = await tx.execute(`SELECT count(*) FROM ${t}`);
                await tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["deferred-1"] });
                const after = await tx.execute(`SELECT count(*) FROM ${t}`);
                assert.equal(after.rows[0][0], before.rows[0][0] + 1n);
                await tx.commit();
            } finally {
                tx.close();
            }
            assert.ok((await names()).includes("deferred-1"));
        });

        it("a read transaction can read but cannot write", async () => {
            const tx = await client.transaction("read");
            try {
                const first = await tx.execute(`SELECT count(*) FROM ${t}`);
                const err = await rejects(tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: ["read-tx-write"] }));
                assert.ok(err instanceof LibsqlError, `expected LibsqlError, got ${err}`);
                const again = await tx.execute(`SELECT count(*) FROM ${t}`);
                assert.equal(again.rows[0][0], first.rows[0][0]);
                await tx.commit();
            } finally {
                tx.close();
            }
            assert.ok(!(await names()).includes("read-tx-write"));
        });

        it("two clients' sequential transactions both commit", async () => {
            for (const [i, c] of [client, other].entries()) {
                const tx = await c.transaction("write");
                try {
                    await tx.execute({ sql: `INSERT INTO ${t} (name) VALUES (?)`, args: [`seq-${i}`] });
                    await tx.commit();
                } finally {
                    tx.close();
                }
            }
            const all = await names();
            assert.ok(all.includes("seq-0") && all.includes("seq-1"));
        });
    });
}
