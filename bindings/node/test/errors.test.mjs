// Bad input gives typed errors with stable codes: wrong argument types, bad configuration,
// closed clients and transactions, SQL errors, an unreachable server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createClient, LibsqlError } from "../esm/index.mjs";
import { rejects, startServer, table, targets } from "./helpers.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

describe("configuration", () => {
  it("refuses what @libsql/client refuses", () => {
    assert.throws(() => createClient("http://x"), TypeError);
    assert.throws(() => createClient({ url: 42 }), TypeError);
    assert.throws(() => createClient({ url: ":memory:", intMode: "float" }), TypeError);
    const cases = [
      ["ftp://example.com", "URL_SCHEME_NOT_SUPPORTED"],
      ["not a url", "URL_INVALID"],
      ["http://127.0.0.1:1?foo=bar", "URL_PARAM_NOT_SUPPORTED"],
      ["libsql://127.0.0.1?tls=2", "URL_INVALID"],
      ["libsql://127.0.0.1?tls=0", "URL_INVALID"],
      ["http://127.0.0.1:1#frag", "URL_INVALID"],
    ];
    for (const [url, code] of cases) {
      assert.throws(() => createClient({ url }), (e) => e instanceof LibsqlError && e.code === code, url);
    }
  });

  it("refuses what replicas cannot do, and sync() without a replica", async () => {
    const check = (config, code) =>
      assert.throws(() => createClient(config), (e) => e instanceof LibsqlError && e.code === code, JSON.stringify(config));
    check({ url: "file:/tmp/x.db", offline: true }, "INVALID_CONFIG");
    check({ url: ":memory:", syncUrl: "http://127.0.0.1:1" }, "URL_INVALID");
    check({ url: "file:/tmp/x.db", encryptionKey: "secret" }, "ENCRYPTION_NOT_SUPPORTED");
    check({ url: "file:/tmp/x.db", syncUrl: "ftp://127.0.0.1:1" }, "URL_SCHEME_NOT_SUPPORTED");
    assert.throws(() => createClient({ url: "file:/tmp/x.db", syncUrl: "http://127.0.0.1:1", syncInterval: -1 }), RangeError);
    const db = createClient({ url: ":memory:" });
    const e = await rejects(db.sync());
    assert.equal(e.code, "SYNC_NOT_SUPPORTED");
    assert.equal(db.syncStatus(), null);
    db.close();
  });

  it("takes libsql: URLs with tls=0 and an auth token in the URL", async () => {
    const db = createClient({ url: `libsql://127.0.0.1:${server.port}?tls=0&authToken=abc` });
    assert.equal(db.protocol, "http");
    assert.equal((await db.execute("SELECT 1")).rows[0][0], 1);
    db.close();
  });

  it("fails with CONNECT_FAILED when nothing listens", async () => {
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    for (const scheme of ["http", "ws"]) {
      const db = createClient({ url: `${scheme}://127.0.0.1:${port}` });
      const e = await rejects(db.execute("SELECT 1"));
      assert.ok(e instanceof LibsqlError, String(e));
      assert.equal(e.code, "CONNECT_FAILED", `${scheme}: ${e.message}`);
      db.close();
    }
  });
});

for (const target of targets(() => server)) {
  describe(`bad input on ${target.name}`, () => {
    let db;
    before(() => (db = createClient({ url: target.url() })));
    after(() => db?.close());

    it("refuses arguments of the wrong type", async () => {
      const cases = [
        [[undefined], TypeError],
        [[Symbol("s")], TypeError],
        [[() => 1], TypeError],
        [[NaN], RangeError],
        [[Infinity], RangeError],
        [[2n ** 63n], RangeError],
        [[-(2n ** 63n) - 1n], RangeError],
        [[new Date(NaN)], RangeError],
      ];
      for (const [args, type] of cases) {
        const e = await rejects(db.execute({ sql: "SELECT ?", args }));
        assert.ok(e instanceof type, `${String(args[0])}: ${e}`);
      }
      assert.ok((await rejects(db.execute({ sql: 42 }))) instanceof TypeError);
      assert.ok((await rejects(db.execute(null))) instanceof TypeError);
      assert.ok((await rejects(db.execute("SELECT ?", 5))) instanceof TypeError);
      assert.ok((await rejects(db.batch("SELECT 1"))) instanceof TypeError);
      assert.ok((await rejects(db.batch(["SELECT 1"], "sometimes"))) instanceof RangeError);
      assert.ok((await rejects(db.transaction("sometimes"))) instanceof RangeError);
      assert.ok((await rejects(db.executeMultiple(7))) instanceof TypeError);
      // Extremes that fit are fine.
      const rs = await createClient({ url: target.url(), intMode: "bigint" }).execute("SELECT ?, ?", [
        2n ** 63n - 1n,
        -(2n ** 63n),
      ]);
      assert.deepEqual([rs.rows[0][0], rs.rows[0][1]], [2n ** 63n - 1n, -(2n ** 63n)]);
      // Other objects bind as their text, as @libsql/client's remote clients do.
      assert.equal((await db.execute("SELECT ?", [{ toString: () => "obj" }])).rows[0][0], "obj");
    });

    it("reports SQL errors with SQLite's codes", async () => {
      let e = await rejects(db.execute("SELEC 1"));
      assert.ok(e instanceof LibsqlError);
      assert.equal(e.code, "SQLITE_ERROR");
      assert.equal(e.rawCode, 1);
      assert.match(e.message, /^SQLITE_ERROR: /);
      assert.doesNotMatch(e.message, /SQLITE_ERROR: SQLITE_ERROR/);
      const t = table();
      await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT UNIQUE NOT NULL)`);
      await db.execute(`INSERT INTO ${t} VALUES (1, 'a')`);
      e = await rejects(db.execute(`INSERT INTO ${t} VALUES (1, 'b')`));
      assert.equal(e.code, "SQLITE_CONSTRAINT");
      assert.equal(e.extendedCode, "SQLITE_CONSTRAINT_PRIMARYKEY");
      assert.equal(e.rawCode, 1555);
      e = await rejects(db.execute(`INSERT INTO ${t} VALUES (2, 'a')`));
      assert.equal(e.extendedCode, "SQLITE_CONSTRAINT_UNIQUE");
      assert.equal(e.rawCode, 2067);
      e = await rejects(db.execute(`INSERT INTO ${t} VALUES (3, NULL)`));
      assert.equal(e.extendedCode, "SQLITE_CONSTRAINT_NOTNULL");
      e = await rejects(db.execute("SELECT ?", [1, 2]));
      assert.ok(e instanceof LibsqlError, String(e));
      e = await rejects(db.execute("SELECT :a", { b: 1 }));
      assert.ok(e instanceof LibsqlError, String(e));
      e = await rejects(db.execute(""));
      assert.ok(e instanceof LibsqlError, String(e));
    });

    it("fails calls on a closed client and a closed transaction", async () => {
      const c = createClient({ url: target.url() });
      const tx = await c.transaction("deferred");
      c.close();
      for (const call of [
        () => c.execute("SELECT 1"),
        () => c.batch(["SELECT 1"]),
        () => c.transaction(),
        () => c.executeMultiple("SELECT 1"),
        () => c.migrate(["SELECT 1"]),
      ]) {
        const e = await rejects(call());
        assert.ok(e instanceof LibsqlError);
        assert.equal(e.code, "CLIENT_CLOSED");
      }
      // A transaction begun before close() goes on until it ends.
      assert.equal((await tx.execute("SELECT 1")).rows[0][0], 1);
      await tx.commit();
      for (const call of [() => tx.execute("SELECT 1"), () => tx.batch([]), () => tx.commit(), () => tx.executeMultiple("")]) {
        const e = await rejects(call());
        assert.equal(e.code, "TRANSACTION_CLOSED");
      }
      tx.close();
    });

    it("keeps a transaction usable after a failed statement", async () => {
      const tx = await db.transaction("write");
      const e = await rejects(tx.execute("SELECT * FROM no_such_table"));
      assert.equal(e.code, "SQLITE_ERROR");
      assert.equal((await tx.execute("SELECT 3")).rows[0][0], 3);
      await tx.rollback();
    });
  });
}
