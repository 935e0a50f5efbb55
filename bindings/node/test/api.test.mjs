// The @libsql/client API on the real server over http and ws, and on a local file.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createClient, LibsqlError } from "../esm/index.mjs";
import { rejects, startServer, table, targets } from "./helpers.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

for (const target of targets(() => server)) {
  describe(`client API on ${target.name}`, () => {
    let db;
    before(() => (db = createClient({ url: target.url() })));
    after(() => db?.close());

    it("reports its protocol and open state", () => {
      assert.equal(db.protocol, target.name);
      assert.equal(db.closed, false);
    });

    it("executes with positional and named arguments", async () => {
      const t = table();
      await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT, score REAL)`);
      let rs = await db.execute({ sql: `INSERT INTO ${t} (name, score) VALUES (?, ?)`, args: ["ada", 1.5] });
      assert.equal(rs.rowsAffected, 1);
      assert.equal(rs.lastInsertRowid, 1n);
      assert.deepEqual(rs.columns, []);
      rs = await db.execute(`INSERT INTO ${t} (name, score) VALUES (:name, @score)`, { name: "bob", score: 2 });
      assert.equal(rs.lastInsertRowid, 2n);
      rs = await db.execute({ sql: `INSERT INTO ${t} (name) VALUES (?1)`, args: ["dee"] });
      assert.equal(rs.rowsAffected, 1);
      rs = await db.execute(`SELECT id, name, score FROM ${t} WHERE id <= ? ORDER BY id`, [2]);
      assert.deepEqual(rs.columns, ["id", "name", "score"]);
      assert.deepEqual(rs.columnTypes, ["INTEGER", "TEXT", "REAL"]);
      assert.equal(rs.rows.length, 2);
      assert.equal(rs.rows[1].name, "bob");
      assert.equal(rs.rows[1][1], "bob");
      assert.equal(rs.rows[1].score, 2);
    });

    it("shapes rows as @libsql/client does", async () => {
      const rs = await db.execute("SELECT 1 AS a, 'x' AS b, 2 AS a");
      const row = rs.rows[0];
      assert.equal(row.length, 3);
      assert.deepEqual(Object.keys(row), ["a", "b"]); // names enumerable, indexes not, first name wins
      assert.equal(row.a, 1);
      assert.equal(row[2], 2);
      assert.deepEqual(Array.from(row), [1, "x", 2]);
      assert.deepEqual({ ...row }, { a: 1, b: "x" });
      assert.deepEqual(rs.columnTypes, ["", "", ""]);
    });

    it("returns RETURNING rows with the rows affected", async () => {
      const t = table();
      await db.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT)`);
      const rs = await db.execute(`INSERT INTO ${t} (v) VALUES ('a'), ('b') RETURNING id, v`);
      assert.equal(rs.rowsAffected, 2);
      assert.deepEqual(rs.rows.map((r) => r.v), ["a", "b"]);
    });

    it("round-trips every value type", async () => {
      const blob = new Uint8Array([0, 1, 2, 255]);
      const date = new Date(1700000000123);
      const rs = await db.execute("SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?", [
        null, 42, 1.25, "héllo 🌊", blob, blob.buffer, true, false, 7n, date,
      ]);
      const r = rs.rows[0];
      assert.equal(r[0], null);
      assert.equal(r[1], 42);
      assert.equal(r[2], 1.25);
      assert.equal(r[3], "héllo 🌊");
      assert.ok(r[4] instanceof ArrayBuffer);
      assert.deepEqual([...new Uint8Array(r[4])], [0, 1, 2, 255]);
      assert.deepEqual([...new Uint8Array(r[5])], [0, 1, 2, 255]);
      assert.equal(r[6], 1);
      assert.equal(r[7], 0);
      assert.equal(r[8], 7);
      assert.equal(r[9], 1700000000123);
    });

    it("honours intMode", async () => {
      const big = "9007199254740993";
      const asBig = createClient({ url: target.url(), intMode: "bigint" });
      const asStr = createClient({ url: target.url(), intMode: "string" });
      try {
        assert.equal((await asBig.execute(`SELECT ${big}`)).rows[0][0], 9007199254740993n);
        assert.equal((await asBig.execute("SELECT 1.5")).rows[0][0], 1.5);
        assert.equal((await asStr.execute(`SELECT ${big}`)).rows[0][0], big);
        const e = await rejects(db.execute(`SELECT ${big}`));
        assert.ok(e instanceof RangeError, String(e));
        assert.equal((await db.execute("SELECT 9007199254740991")).rows[0][0], 9007199254740991);
      } finally {
        asBig.close();
        asStr.close();
      }
    });

    it("serialises results with toJSON", async () => {
      const rs = await db.execute("SELECT 1 AS n, x'0102' AS b, 'z' AS s");
      const json = JSON.parse(JSON.stringify(rs));
      assert.deepEqual(json.columns, ["n", "b", "s"]);
      assert.deepEqual(json.rows, [[1, "AQI=", "z"]]);
      assert.equal(typeof json.rowsAffected, "number");
    });

    it("runs batches atomically in every mode", async () => {
      const t = table();
      const rs = await db.batch(
        [
          `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT UNIQUE)`,
          { sql: `INSERT INTO ${t} (v) VALUES (?)`, args: ["a"] },
          [`INSERT INTO ${t} (v) VALUES (:v)`, { v: "b" }],
          `SELECT v FROM ${t} ORDER BY v`,
        ],
        "write",
      );
      assert.equal(rs.length, 4);
      assert.deepEqual(rs[3].rows.map((r) => r.v), ["a", "b"]);
      const e = await rejects(
        db.batch([`INSERT INTO ${t} (v) VALUES ('c')`, `INSERT INTO ${t} (v) VALUES ('a')`], "deferred"),
      );
      assert.ok(e instanceof LibsqlError);
      assert.equal(e.code, "SQLITE_CONSTRAINT");
      const count = await db.execute(`SELECT count(*) AS n FROM ${t}`);
      assert.equal(count.rows[0].n, 2, "the failed batch left nothing behind");
      const read = await db.batch([`SELECT count(*) FROM ${t}`], "read");
      assert.equal(read[0].rows[0][0], 2);
      const ro = await rejects(db.batch([`INSERT INTO ${t} (v) VALUES ('z')`], "read"));
      assert.ok(ro instanceof LibsqlError, String(ro));
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 2);
      assert.deepEqual(await db.batch([]), []);
    });

    it("runs interactive transactions", async () => {
      const t = table();
      await db.execute(`CREATE TABLE ${t} (v INTEGER)`);
      const tx = await db.transaction("write");
      assert.equal(tx.closed, false);
      await tx.execute({ sql: `INSERT INTO ${t} VALUES (?)`, args: [1] });
      const [inside] = await tx.batch([`SELECT count(*) AS n FROM ${t}`]);
      assert.equal(inside.rows[0].n, 1);
      await tx.executeMultiple(`INSERT INTO ${t} VALUES (2); INSERT INTO ${t} VALUES (3);`);
      await tx.commit();
      assert.equal(tx.closed, true);
      const e = await rejects(tx.execute("SELECT 1"));
      assert.equal(e.code, "TRANSACTION_CLOSED");
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 3);

      const rb = await db.transaction();
      await rb.execute(`DELETE FROM ${t}`);
      await rb.rollback();
      assert.equal(rb.closed, true);
      await rb.rollback(); // a no-op once closed
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 3);

      const closed = await db.transaction("deferred");
      await closed.execute(`DELETE FROM ${t}`);
      closed.close();
      assert.equal(closed.closed, true);
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 3);

      const read = await db.transaction("read");
      assert.equal((await read.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 3);
      const ro = await rejects(read.execute(`INSERT INTO ${t} VALUES (9)`));
      assert.ok(ro instanceof LibsqlError, String(ro));
      await read.rollback();
    });

    it("runs scripts with executeMultiple and migrations with migrate", async () => {
      const t = table();
      await db.executeMultiple(`
        CREATE TABLE ${t} (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES ${t}(id));
        INSERT INTO ${t} VALUES (1, NULL);
        INSERT INTO ${t} VALUES (2, 1);
      `);
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 2);
      const rs = await db.migrate([
        `CREATE TABLE ${t}_new (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES ${t}_new(id))`,
        `INSERT INTO ${t}_new SELECT * FROM ${t}`,
        `DROP TABLE ${t}`,
        `ALTER TABLE ${t}_new RENAME TO ${t}`,
      ]);
      assert.equal(rs.length, 4);
      assert.equal(rs[1].rowsAffected, 2);
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 2);
      const e = await rejects(db.executeMultiple(`INSERT INTO nowhere VALUES (1);`));
      assert.equal(e.code, "SQLITE_ERROR");
    });

    it("runs calls in parallel", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => db.execute("SELECT ? AS i", [i])),
      );
      assert.deepEqual(results.map((r) => r.rows[0].i), Array.from({ length: 50 }, (_, i) => i));
    });

    it("closes", async () => {
      const c = createClient({ url: target.url() });
      await c.execute("SELECT 1");
      c.close();
      assert.equal(c.closed, true);
      const e = await rejects(c.execute("SELECT 1"));
      assert.ok(e instanceof LibsqlError);
      assert.equal(e.code, "CLIENT_CLOSED");
      c.close(); // twice is fine
      c.reconnect();
      assert.equal(c.closed, false);
      assert.equal((await c.execute("SELECT 2")).rows[0][0], 2);
      c.close();
    });
  });
}

describe("local databases", () => {
  it("opens :memory: and file::memory:", async () => {
    for (const url of [":memory:", "file::memory:"]) {
      const db = createClient({ url });
      assert.equal(db.protocol, "file");
      await db.execute("CREATE TABLE t (x)");
      await db.execute("INSERT INTO t VALUES (1)");
      assert.equal((await db.execute("SELECT count(*) FROM t")).rows[0][0], 1);
      db.close();
    }
  });

  it("lets a statement wait for a transaction's connection without blocking the event loop", async () => {
    for (const url of [":memory:", targets(() => null)[2].url()]) {
      const db = createClient({ url });
      await db.execute("CREATE TABLE t (x)");
      const tx = await db.transaction("write");
      await tx.execute("INSERT INTO t VALUES (1)");
      // The writer (the only connection, in memory) is the transaction's until it ends.
      const pending = db.execute("INSERT INTO t VALUES (2)");
      await tx.commit();
      await pending;
      assert.equal((await db.execute("SELECT count(*) FROM t")).rows[0][0], 2, url);
      db.close();
    }
  });

  it("reports SELECT results without a rowid and writes with one", async () => {
    const db = createClient({ url: ":memory:" });
    await db.execute("CREATE TABLE t (x)");
    const w = await db.execute("INSERT INTO t VALUES (5)");
    assert.equal(w.lastInsertRowid, 1n);
    const r = await db.execute("SELECT x FROM t");
    assert.equal(r.rowsAffected, 0);
    db.close();
  });
});
