// JWT auth (--auth-jwt-key-file): Ed25519/EdDSA tokens with claim a = "rw" | "ro".

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { LibsqlError } from "@libsql/client";
import { PROTOCOLS, connect, startServer, genKeyPair, mintToken, tableName, rejects } from "./helpers.js";

let server;
let keys;
let rwToken;
let roToken;
before(async () => {
    keys = genKeyPair();
    server = await startServer({ jwtPublicKeyPem: keys.publicKeyPem });
    rwToken = mintToken(keys.privateKey, { a: "rw" });
    roToken = mintToken(keys.privateKey, { a: "ro", exp: Math.floor(Date.now() / 1000) + 3600 });
});
after(async () => {
    await server?.stop();
});

for (const proto of PROTOCOLS) {
    describe(`JWT auth over ${proto}`, () => {
        const t = tableName(proto, "secured");
        let rw;

        async function rows() {
            const rs = await rw.execute(`SELECT v FROM ${t} ORDER BY v`);
            return rs.rows.map((r) => r[0]);
        }

        async function expectDenied(authToken, label) {
            const c = connect(server, proto, { authToken });
            try {
                const err = await rejects(c.execute("SELECT 1"));
                assert.ok(err instanceof LibsqlError, `${label}: expected LibsqlError, got ${err?.stack ?? err}`);
                const err2 = await rejects(c.execute({ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: [label] }));
                assert.ok(err2 instanceof LibsqlError, `${label}: expected LibsqlError, got ${err2?.stack ?? err2}`);
            } finally {
                c.close();
            }
            assert.ok(!(await rows()).includes(label), `${label}: a denied client managed to write`);
        }

        before(async () => {
            rw = connect(server, proto, { authToken: rwToken });
            await rw.execute(`CREATE TABLE ${t} (v TEXT)`);
        });
        after(() => {
            rw?.close();
        });

        it("a valid read-write token can read and write", async () => {
            const ins = await rw.execute({ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: ["rw-write"] });
            assert.equal(ins.rowsAffected, 1);
            assert.deepEqual(await rows(), ["rw-write"]);
            const results = await rw.batch([{ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: ["rw-batch"] }, `SELECT count(*) FROM ${t}`], "write");
            assert.equal(results[1].rows[0][0], 2);
        });

        it("a valid token passed as ?authToken= in the URL works", async () => {
            const c = connect(server, proto, { url: `${server.url(proto)}?authToken=${rwToken}` });
            try {
                const rs = await c.execute("SELECT 40 + 2");
                assert.equal(rs.rows[0][0], 42);
            } finally {
                c.close();
            }
        });

        it("a read-write token with a future exp works", async () => {
            const token = mintToken(keys.privateKey, { a: "rw", exp: Math.floor(Date.now() / 1000) + 600 });
            const c = connect(server, proto, { authToken: token });
            try {
                const rs = await c.execute({ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: ["rw-exp"] });
                assert.equal(rs.rowsAffected, 1);
            } finally {
                c.close();
            }
            assert.ok((await rows()).includes("rw-exp"));
        });

        it("no token is rejected", async () => {
            await expectDenied(undefined, "no-token");
        });

        it("a garbage token is rejected", async () => {
            await expectDenied("not-a-jwt", "garbage-token");
        });

        it("a token signed by another key is rejected", async () => {
            const stranger = genKeyPair();
            await expectDenied(mintToken(stranger.privateKey, { a: "rw" }), "foreign-key-token");
        });

        it("a token with a tampered payload is rejected", async () => {
            const [h, , s] = rwToken.split(".");
            const forged = `${h}.${Buffer.from(JSON.stringify({ a: "rw", x: 1 })).toString("base64url")}.${s}`;
            await expectDenied(forged, "tampered-token");
        });

        it("an expired token is rejected", async () => {
            const expired = mintToken(keys.privateKey, { a: "rw", exp: Math.floor(Date.now() / 1000) - 3600 });
            await expectDenied(expired, "expired-token");
        });

        it("a read-only token can read but cannot write", async () => {
            const ro = connect(server, proto, { authToken: roToken });
            try {
                const before = await rows();
                const rs = await ro.execute(`SELECT v FROM ${t} ORDER BY v`);
                assert.deepEqual(rs.rows.map((r) => r[0]), before);

                const err = await rejects(ro.execute({ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: ["ro-insert"] }));
                assert.ok(err instanceof LibsqlError, `expected LibsqlError, got ${err?.stack ?? err}`);
                const err2 = await rejects(ro.batch([{ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: ["ro-batch"] }], "write"));
                assert.ok(err2 instanceof LibsqlError, `expected LibsqlError, got ${err2?.stack ?? err2}`);
                const err3 = await rejects(ro.execute(`DELETE FROM ${t}`));
                assert.ok(err3 instanceof LibsqlError, `expected LibsqlError, got ${err3?.stack ?? err3}`);
                const err4 = await rejects(ro.execute(`CREATE TABLE ${t}_ro_ddl (x)`));
                assert.ok(err4 instanceof LibsqlError, `expected LibsqlError, got ${err4?.stack ?? err4}`);

                // still able to read afterwards
                const again = await ro.execute(`SELECT count(*) FROM ${t}`);
                assert.equal(again.rows[0][0], before.length);
                assert.deepEqual(await rows(), before);
            } finally {
                ro.close();
            }
        });
    });
}
