// Hrana 3 through the stock @libsql/hrana-client (the protocol library that
// @libsql/client 0.18.0 is built on; @libsql/client itself only speaks Hrana 2).
// Covers POST /v3-protobuf/{pipeline,cursor} and the WebSocket subprotocols
// hrana3-protobuf and hrana3. (hrana-client 0.10.0 has the JSON /v3 HTTP
// endpoint commented out of its version discovery, so no stock JS client can
// reach POST /v3/pipeline; it falls back to /v2.)

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as hrana from "@libsql/hrana-client";
import { startServer, recordingFetch, rejects } from "./helpers.js";

let server;
before(async () => {
    server = await startServer();
});
after(async () => {
    await server?.stop();
});

const TRANSPORTS = {
    "http v3-protobuf": {
        open() {
            const rec = recordingFetch();
            const client = hrana.openHttp(server.httpUrl, undefined, rec.fetch, undefined, 3);
            return { client, paths: rec.paths };
        },
        prefix: "/v3-protobuf",
    },
    "ws hrana3-protobuf": {
        open() {
            return { client: hrana.openWs(server.wsUrl, undefined, 3) };
        },
        subprotocol: "hrana3-protobuf",
    },
    "ws hrana3 (json)": {
        open() {
            const socket = new hrana.WebSocket(server.wsUrl, ["hrana3"]);
            return { client: new hrana.WsClient(socket, undefined), socket };
        },
        subprotocol: "hrana3",
    },
};

function bytes(ab) {
    assert.ok(ab instanceof ArrayBuffer);
    return Array.from(new Uint8Array(ab));
}

for (const [name, transport] of Object.entries(TRANSPORTS)) {
    describe(`Hrana 3 over ${name}`, () => {
        let client;
        let paths;
        let socket;
        const t = `h3_${name.replace(/[^a-z0-9]+/g, "_")}`;

        function stream() {
            const s = client.openStream();
            s.intMode = "bigint";
            return s;
        }

        before(async () => {
            ({ client, paths, socket } = transport.open());
            const s = stream();
            await s.run(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, v)`);
            s.close();
        });
        after(() => {
            client?.close();
        });

        it("negotiates protocol version 3", async () => {
            assert.equal(await client.getVersion(), 3);
            if (transport.prefix !== undefined) {
                const s = stream();
                await s.queryValue("SELECT 1");
                s.close();
                const posts = paths.filter((p) => p.startsWith("POST "));
                assert.ok(posts.length > 0);
                for (const p of posts) {
                    assert.ok(p.startsWith(`POST ${transport.prefix}/`), JSON.stringify(paths));
                }
            }
            if (socket !== undefined) {
                assert.equal(socket.protocol, transport.subprotocol);
            }
        });

        it("executes with positional and named args and round-trips every type", async () => {
            const s = stream();
            try {
                const blob = new Uint8Array([0, 1, 254, 255]);
                const rs = await s.query(
                    new hrana.Stmt("SELECT ?, ?, ?, ?, ?, :n, @m, $o").bindIndexes([
                        null,
                        9007199254740993n,
                        0.25,
                        "ünï\u0000code 🌊",
                        blob,
                    ]).bindName(":n", -9223372036854775808n).bindName("@m", "at").bindName("$o", 1.5),
                );
                const r = rs.rows[0];
                assert.equal(r[0], null);
                assert.equal(r[1], 9007199254740993n);
                assert.equal(r[2], 0.25);
                assert.equal(r[3], "ünï\u0000code 🌊");
                assert.deepEqual(bytes(r[4]), [0, 1, 254, 255]);
                assert.equal(r[5], -9223372036854775808n);
                assert.equal(r[6], "at");
                assert.equal(r[7], 1.5);
            } finally {
                s.close();
            }
        });

        it("reports affected rows, last insert rowid and declared types", async () => {
            const s = stream();
            try {
                const ins = await s.run(new hrana.Stmt(`INSERT INTO ${t} (id, name, v) VALUES (500, ?, ?)`).bindIndexes(["five hundred", 5n]));
                assert.equal(ins.affectedRowCount, 1);
                assert.equal(ins.lastInsertRowid, 500n);
                const rs = await s.query(`SELECT id, name AS n, v FROM ${t} WHERE id = 500`);
                assert.deepEqual(rs.columnNames, ["id", "n", "v"]);
                assert.deepEqual(rs.columnDecltypes, ["INTEGER", "TEXT", undefined]);
                assert.deepEqual(Array.from(rs.rows[0]), [500n, "five hundred", 5n]);
            } finally {
                s.close();
            }
        });

        it("returns SQL errors with their codes", async () => {
            const s = stream();
            try {
                const err = await rejects(s.run(`INSERT INTO ${t} (id, name) VALUES (500, 'dup')`));
                assert.ok(err instanceof hrana.ResponseError, `expected ResponseError, got ${err}`);
                assert.equal(err.code, "SQLITE_CONSTRAINT");
                const err2 = await rejects(s.run("SELEC 1"));
                assert.ok(err2 instanceof hrana.ResponseError, `expected ResponseError, got ${err2}`);
                assert.equal(err2.code, "SQLITE_ERROR");
                // the stream survives SQL errors
                assert.equal((await s.queryValue("SELECT 7")).value, 7n);
            } finally {
                s.close();
            }
        });

        for (const useCursor of [false, true]) {
            it(`runs a conditional batch${useCursor ? " through a cursor" : ""}`, async () => {
                const s = stream();
                try {
                    const batch = s.batch(useCursor);
                    const begin = batch.step();
                    const beginP = begin.run("BEGIN");
                    const ins = batch.step().condition(hrana.BatchCond.ok(begin));
                    const insP = ins.run(new hrana.Stmt(`INSERT INTO ${t} (name) VALUES (?)`).bindIndexes([`batch-${useCursor}`]));
                    const dup = batch.step().condition(hrana.BatchCond.ok(ins));
                    const dupP = dup.run(new hrana.Stmt(`INSERT INTO ${t} (name) VALUES (?)`).bindIndexes([`batch-${useCursor}`]));
                    const onErr = batch.step().condition(hrana.BatchCond.error(dup));
                    const onErrP = onErr.queryValue("SELECT 'dup failed'");
                    const skipped = batch.step().condition(hrana.BatchCond.ok(dup));
                    const skippedP = skipped.run("SELECT 'never'");
                    const inTx = batch.step().condition(
                        hrana.BatchCond.and(batch, [hrana.BatchCond.not(hrana.BatchCond.isAutocommit(batch)), hrana.BatchCond.ok(onErr)]),
                    );
                    const inTxP = inTx.queryValue(`SELECT count(*) FROM ${t} WHERE name = 'batch-${useCursor}'`);
                    const commit = batch.step().condition(hrana.BatchCond.or(batch, [hrana.BatchCond.ok(inTx), hrana.BatchCond.ok(skipped)]));
                    const commitP = commit.run("COMMIT");
                    const auto = batch.step().condition(hrana.BatchCond.isAutocommit(batch));
                    const autoP = auto.queryValue("SELECT 'autocommit again'");
                    const big = batch.step();
                    const bigP = big.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000) SELECT x FROM c");
                    dupP.catch(() => undefined);
                    await batch.execute();

                    assert.ok((await beginP) !== undefined);
                    assert.equal((await insP).affectedRowCount, 1);
                    const dupErr = await rejects(dupP);
                    assert.equal(dupErr.code, "SQLITE_CONSTRAINT");
                    assert.equal((await onErrP).value, "dup failed");
                    assert.equal(await skippedP, undefined);
                    assert.equal((await inTxP).value, 1n);
                    assert.ok((await commitP) !== undefined);
                    assert.equal((await autoP).value, "autocommit again");
                    const bigRs = await bigP;
                    assert.equal(bigRs.rows.length, 3000);
                    assert.equal(bigRs.rows[2999][0], 3000n);
                } finally {
                    s.close();
                }
                if (paths !== undefined && useCursor) {
                    assert.ok(paths.includes(`POST ${transport.prefix}/cursor`), JSON.stringify(paths));
                }
            });
        }

        it("tracks autocommit state", async () => {
            const s = stream();
            try {
                assert.equal(await s.getAutocommit(), true);
                await s.run("BEGIN");
                assert.equal(await s.getAutocommit(), false);
                await s.run(new hrana.Stmt(`INSERT INTO ${t} (name) VALUES (?)`).bindIndexes(["autocommit"]));
                await s.run("ROLLBACK");
                assert.equal(await s.getAutocommit(), true);
                assert.equal((await s.queryValue(`SELECT count(*) FROM ${t} WHERE name = 'autocommit'`)).value, 0n);
            } finally {
                s.close();
            }
        });

        it("describes statements", async () => {
            const s = stream();
            try {
                const d = await s.describe(`SELECT id, name FROM ${t} WHERE id = :id AND name = ?`);
                assert.deepEqual(d.paramNames, [":id", undefined]);
                assert.deepEqual(d.columns.map((c) => [c.name, c.decltype]), [["id", "INTEGER"], ["name", "TEXT"]]);
                assert.equal(d.isReadonly, true);
                assert.equal(d.isExplain, false);
                const w = await s.describe(`INSERT INTO ${t} (name) VALUES (?)`);
                assert.equal(w.isReadonly, false);
                assert.deepEqual(w.columns, []);
                const e = await s.describe("EXPLAIN SELECT 1");
                assert.equal(e.isExplain, true);
            } finally {
                s.close();
            }
        });

        it("runs sequences and stored SQL", async () => {
            const s = stream();
            try {
                await s.sequence(`INSERT INTO ${t} (name) VALUES ('seq-1'); INSERT INTO ${t} (name) VALUES ('seq-2');`);
                const owner = socket !== undefined || transport.subprotocol !== undefined ? client : s;
                const sql = owner.storeSql(`SELECT count(*) FROM ${t} WHERE name LIKE ?`);
                assert.equal((await s.queryValue(new hrana.Stmt(sql).bindIndexes(["seq-%"]))).value, 2n);
                assert.equal((await s.queryValue([sql, ["seq-1"]])).value, 1n);
                sql.close();
            } finally {
                s.close();
            }
        });

        it("keeps a transaction open across requests of one stream", async () => {
            const a = stream();
            const b = stream();
            try {
                await a.run("BEGIN");
                await a.run(new hrana.Stmt(`INSERT INTO ${t} (name) VALUES (?)`).bindIndexes(["iso"]));
                assert.equal((await b.queryValue(`SELECT count(*) FROM ${t} WHERE name = 'iso'`)).value, 0n);
                assert.equal((await a.queryValue(`SELECT count(*) FROM ${t} WHERE name = 'iso'`)).value, 1n);
                await a.run("COMMIT");
                assert.equal((await b.queryValue(`SELECT count(*) FROM ${t} WHERE name = 'iso'`)).value, 1n);
            } finally {
                a.close();
                b.close();
            }
        });
    });
}
