// Offline clients (`offline: true`): writes commit on the device and sync pushes them; two
// clients conflict on the same column and the later write wins it (ColumnLww); the loser's
// conflict is kept and resolved; per-table policies; a resolver written in JavaScript; a change
// the server refuses; change subscriptions; background sync; Drizzle on an offline client; bad
// input. All against the reference server, over http and ws, on real files.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createClient, LibsqlError } from "../esm/index.mjs";
import { rejects, startServer, table, tempDir } from "./helpers.mjs";

let server;
let primary;
before(async () => {
  server = await startServer();
  primary = createClient({ url: server.http });
});
after(async () => {
  primary?.close();
  await server?.stop();
});

const dir = tempDir("tidepool-node-offline-");
let files = 0;

/** An offline client of the shared server, on a new file. */
function device(options = {}, scheme = "http") {
  return createClient({
    url: `file:${path.join(dir, `device${files++}.db`)}`,
    syncUrl: server[scheme],
    offline: true,
    ...options,
  });
}

/** A table like the core's tests use, with two rows, on the server. */
async function items() {
  const t = table("items");
  await primary.executeMultiple(
    `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, code TEXT UNIQUE);
     INSERT INTO ${t} (id, name, qty) VALUES (1, 'apple', 1), (2, 'pear', 2);`,
  );
  return t;
}

async function rows(client, sql) {
  return (await client.execute(sql)).rows.map((r) => ({ ...r }));
}

/** Waits (bounded) until `check()` is true; no timing is asserted. */
async function until(check, what) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("offline client", () => {
  it("commits writes with the server down and pushes them once it is back", async () => {
    const t = await items();
    const db = device();
    const first = await db.sync();
    assert.ok(first.rowsCopied >= 2, JSON.stringify(first));
    assert.equal(first.frame_no, first.position);
    assert.deepEqual(first.tablesChanged.includes(t), true);
    assert.equal(db.protocol, "file");

    await server.pause();
    try {
      await db.execute({ sql: `INSERT INTO ${t} (id, name, qty) VALUES (?, ?, ?)`, args: [3, "plum", 3] });
      const tx = await db.transaction("write");
      await tx.execute(`UPDATE ${t} SET qty = qty + 10 WHERE id = 1`);
      await tx.execute(`DELETE FROM ${t} WHERE id = 2`);
      await tx.commit();
      assert.equal(await db.pendingChanges(), 3);
      const e = await rejects(db.sync());
      assert.ok(e instanceof LibsqlError, String(e));
      assert.ok(db.syncStatus().lastError instanceof LibsqlError);
      // The device keeps its writes.
      assert.deepEqual(await rows(db, `SELECT id, qty FROM ${t} ORDER BY id`), [
        { id: 1, qty: 11 },
        { id: 3, qty: 3 },
      ]);
    } finally {
      await server.resume();
    }

    const report = await db.sync();
    assert.equal(report.changesPushed, 3);
    assert.equal(report.conflicts, 0);
    assert.equal(await db.pendingChanges(), 0);
    const status = db.syncStatus();
    assert.equal(status.lastError, null);
    assert.equal(status.pendingChanges, 0);
    assert.equal(status.conflicts, 0);
    const order = `SELECT id, name, qty FROM ${t} ORDER BY id`;
    assert.deepEqual(await rows(primary, order), await rows(db, order));
    db.close();
  });

  for (const scheme of ["http", "ws"]) {
    it(`the later write wins a column, and the earlier writer records the conflict (${scheme})`, async () => {
      const t = await items();
      const a = device({}, "http");
      const b = device({}, scheme);
      await a.sync();
      await b.sync();

      // Different columns of one row: both apply. The same column: b writes later.
      await a.execute(`UPDATE ${t} SET name = 'green apple' WHERE id = 1`);
      await b.execute(`UPDATE ${t} SET qty = 5 WHERE id = 1`);
      await a.execute(`UPDATE ${t} SET qty = 20 WHERE id = 2`);
      await sleep(5);
      await b.execute(`UPDATE ${t} SET qty = 30 WHERE id = 2`);
      assert.equal((await a.sync()).conflicts, 0);
      const report = await b.sync();
      assert.equal(report.conflicts, 1);
      assert.ok(report.changesPushed >= 2, JSON.stringify(report));
      await a.sync();

      const expected = [
        { id: 1, name: "green apple", qty: 5 },
        { id: 2, name: "pear", qty: 30 },
      ];
      const order = `SELECT id, name, qty FROM ${t} ORDER BY id`;
      assert.deepEqual(await rows(primary, order), expected);
      assert.deepEqual(await rows(a, order), expected);
      assert.deepEqual(await rows(b, order), expected);

      const conflicts = await b.conflicts();
      assert.equal(conflicts.length, 1);
      const c = conflicts[0];
      assert.equal(typeof c.id, "number");
      assert.equal(c.table, t);
      assert.deepEqual(c.key, [2]);
      assert.equal(c.kind, "update_update");
      assert.equal(c.rule, "column_lww");
      assert.equal(c.outcome, "local");
      assert.deepEqual(c.columns, ["qty"]);
      assert.equal(c.remote.qty, 20);
      assert.equal(c.local.qty, 30);
      assert.deepEqual(c.base, { id: 2, name: "pear", qty: 2, code: null });
      assert.equal(c.error, null);
      assert.ok(c.writtenAt instanceof Date && !Number.isNaN(c.writtenAt.getTime()));
      assert.equal(b.syncStatus().conflicts, 1);
      assert.deepEqual(await a.conflicts(), []);
      a.close();
      b.close();
    });
  }

  it("the losing device shows the server's row; resolving with its version pushes it", async () => {
    const t = await items();
    const a = device();
    const b = device();
    await a.sync();
    await b.sync();
    await b.execute(`UPDATE ${t} SET name = 'b-pear' WHERE id = 2`);
    await sleep(5);
    await a.execute(`UPDATE ${t} SET name = 'a-pear' WHERE id = 2`);
    await a.sync();
    assert.equal((await b.sync()).conflicts, 1);

    const nameOf2 = `SELECT name FROM ${t} WHERE id = 2`;
    assert.deepEqual(await rows(b, nameOf2), [{ name: "a-pear" }]);
    const [c] = await b.conflicts();
    assert.equal(c.outcome, "remote");
    assert.equal(c.rule, "column_lww");
    assert.equal(c.local.name, "b-pear");
    assert.equal(c.remote.name, "a-pear");
    assert.equal(c.base.name, "pear");

    const unknown = await rejects(b.resolveConflict(999999, "local"));
    assert.ok(unknown instanceof LibsqlError);
    assert.equal(unknown.code, "INVALID_ARGUMENT");
    await b.resolveConflict(c.id, "local");
    assert.deepEqual(await b.conflicts(), []);
    assert.deepEqual(await rows(b, nameOf2), [{ name: "b-pear" }]);
    assert.equal(await b.pendingChanges(), 1);
    assert.equal((await b.sync()).conflicts, 0);
    await a.sync();
    assert.deepEqual(await rows(a, nameOf2), [{ name: "b-pear" }]);
    assert.deepEqual(await rows(primary, nameOf2), [{ name: "b-pear" }]);
    a.close();
    b.close();
  });

  it("resolves with a merged row or the server's version", async () => {
    const t = await items();
    const a = device();
    const b = device();
    await a.sync();
    await b.sync();
    await b.execute(`UPDATE ${t} SET name = 'b1', qty = 10 WHERE id = 1`);
    await b.execute(`UPDATE ${t} SET name = 'b2' WHERE id = 2`);
    await sleep(5);
    await a.execute(`UPDATE ${t} SET name = 'a1', qty = 11 WHERE id = 1`);
    await a.execute(`UPDATE ${t} SET name = 'a2' WHERE id = 2`);
    await a.sync();
    assert.equal((await b.sync()).conflicts, 2);
    const [c1, c2] = await b.conflicts();
    assert.deepEqual([c1.key, c2.key], [[1], [2]]);
    await assert.rejects(b.resolveConflict(c1.id, "mine"), TypeError);
    await assert.rejects(b.resolveConflict(c1.id, { merge: ["name"] }), TypeError);
    await assert.rejects(b.resolveConflict("1", "local"), TypeError);
    await b.resolveConflict(c1.id, { merge: { name: "merged", qty: 12n } });
    await b.resolveConflict(c2.id, "remote");
    assert.deepEqual(await b.conflicts(), []);
    await b.sync();
    assert.deepEqual(await rows(primary, `SELECT id, name, qty FROM ${t} ORDER BY id`), [
      { id: 1, name: "merged", qty: 12 },
      { id: 2, name: "a2", qty: 2 },
    ]);
    a.close();
    b.close();
  });

  it("decides conflicts by the configured policies", async () => {
    const t = await items();
    const other = table("others");
    await primary.execute(`CREATE TABLE ${other} (id INTEGER PRIMARY KEY, v TEXT)`);
    await primary.execute(`INSERT INTO ${other} VALUES (1, 'server')`);
    const a = device();
    const b = device({ conflictPolicy: { [t]: "server_wins", default: "client_wins" } });
    await a.sync();
    await b.sync();
    // b writes later everywhere: its items write loses anyway, its other-table write wins.
    await a.execute(`UPDATE ${t} SET qty = 7 WHERE id = 1`);
    await a.execute(`UPDATE ${other} SET v = 'a' WHERE id = 1`);
    await sleep(5);
    await b.execute(`UPDATE ${t} SET qty = 8 WHERE id = 1`);
    await b.execute(`UPDATE ${other} SET v = 'b' WHERE id = 1`);
    await a.sync();
    await b.sync();
    assert.deepEqual(await rows(primary, `SELECT qty FROM ${t} WHERE id = 1`), [{ qty: 7 }]);
    assert.deepEqual(await rows(primary, `SELECT v FROM ${other}`), [{ v: "b" }]);
    const byTable = Object.fromEntries((await b.conflicts()).map((c) => [c.table, [c.rule, c.outcome]]));
    assert.deepEqual(byTable[t], ["server_wins", "remote"]);
    assert.deepEqual(byTable[other], ["client_wins", "local"]);
    a.close();
    b.close();
  });

  it("lets a JavaScript resolver decide each conflict during sync", async () => {
    const t = await items();
    const a = device();
    const seen = [];
    const b = device({
      intMode: "bigint",
      conflictResolver: (c) => {
        seen.push(c);
        if (c.key[0] === 1n) return { merge: { name: `${c.local.name}+${c.remote.name}` } };
        return "local";
      },
    });
    await a.sync();
    await b.sync();
    await b.execute(`UPDATE ${t} SET name = 'b1' WHERE id = 1`);
    await b.execute(`UPDATE ${t} SET qty = 50 WHERE id = 2`);
    await sleep(5);
    await a.execute(`UPDATE ${t} SET name = 'a1' WHERE id = 1`);
    await a.execute(`UPDATE ${t} SET qty = 40 WHERE id = 2`);
    await a.sync();
    const report = await b.sync();
    assert.equal(report.conflicts, 2);
    assert.equal(seen.length, 2);
    assert.equal(seen[0].table, t);
    assert.equal(typeof seen[0].key[0], "bigint", "values follow the client's intMode");
    assert.equal(seen[0].kind, "update_update");
    await a.sync();
    const expected = [
      { id: 1n, name: "b1+a1", qty: 1n },
      { id: 2n, name: "pear", qty: 50n },
    ];
    assert.deepEqual(await rows(b, `SELECT id, name, qty FROM ${t} ORDER BY id`), expected);
    const onServer = await rows(primary, `SELECT id, name, qty FROM ${t} ORDER BY id`);
    assert.deepEqual(onServer, [
      { id: 1, name: "b1+a1", qty: 1 },
      { id: 2, name: "pear", qty: 50 },
    ]);
    const recorded = await b.conflicts();
    assert.deepEqual(
      recorded.map((c) => [c.rule, c.outcome]),
      [
        ["resolver", "merged"],
        ["resolver", "local"],
      ],
    );
    a.close();
    b.close();
  });

  it("keeps the server's version when the resolver throws or answers junk, with a warning", async () => {
    const t = await items();
    const a = device();
    let calls = 0;
    const b = device({
      conflictResolver: (c) => {
        calls++;
        if (c.key[0] === 1) throw new Error("resolver bug");
        return { keep: "mine" };
      },
    });
    await a.sync();
    await b.sync();
    await b.execute(`UPDATE ${t} SET name = 'b1' WHERE id = 1`);
    await b.execute(`UPDATE ${t} SET name = 'b2' WHERE id = 2`);
    await sleep(5);
    await a.execute(`UPDATE ${t} SET name = 'a1' WHERE id = 1`);
    await a.execute(`UPDATE ${t} SET name = 'a2' WHERE id = 2`);
    await a.sync();
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      assert.equal((await b.sync()).conflicts, 2);
      await until(() => warnings.length >= 2, "two warnings");
    } finally {
      process.off("warning", onWarning);
    }
    assert.equal(calls, 2);
    assert.ok(warnings.every((w) => w.name === "TidepoolResolverWarning"), warnings.map(String).join("; "));
    assert.deepEqual(await rows(b, `SELECT name FROM ${t} ORDER BY id`), [{ name: "a1" }, { name: "a2" }]);
    assert.deepEqual(
      (await b.conflicts()).map((c) => [c.rule, c.outcome]),
      [
        ["resolver", "remote"],
        ["resolver", "remote"],
      ],
    );
    a.close();
    b.close();
  });

  it("records a change the server refuses, and pushes the rest", async () => {
    const t = await items();
    const a = device();
    const b = device();
    await a.sync();
    await b.sync();
    await a.execute(`INSERT INTO ${t} VALUES (10, 'ten', 1, 'X')`);
    await b.execute(`INSERT INTO ${t} VALUES (20, 'twenty', 1, 'X')`);
    await b.execute(`UPDATE ${t} SET qty = 99 WHERE id = 1`);
    await a.sync();
    const report = await b.sync();
    assert.equal(report.changesPushed, 2);
    assert.equal(report.conflicts, 1);
    const [c] = await b.conflicts();
    assert.equal(c.kind, "rejected");
    assert.equal(c.rule, "rejected");
    assert.ok(c.error.code.startsWith("SQLITE_CONSTRAINT"), `${c.error.code}: ${c.error.message}`);
    assert.equal(typeof c.error.message, "string");
    assert.equal(c.local.id, 20);
    const order = `SELECT id, qty FROM ${t} ORDER BY id`;
    const expected = await rows(primary, order);
    assert.deepEqual(await rows(b, order), expected);
    assert.ok(expected.some((r) => r.id === 1 && r.qty === 99));
    assert.ok(!expected.some((r) => r.id === 20));
    a.close();
    b.close();
  });

  it("tells subscribers about local commits and synced changes, until they unsubscribe", async () => {
    const t = await items();
    const notes = table("notes");
    await primary.execute(`CREATE TABLE ${notes} (id TEXT PRIMARY KEY, body TEXT)`);
    const db = device();
    await db.sync();
    const all = [];
    const onlyItems = [];
    const unsubscribe = db.subscribe((c) => all.push(c));
    const unsubscribeItems = db.subscribe((c) => onlyItems.push(c), { tables: [t] });

    await db.execute(`INSERT INTO ${notes} VALUES ('n1', 'hi')`);
    await until(() => all.length >= 1, "the local write's notification");
    assert.deepEqual(all[0], { tables: [notes], origin: "local" });
    // A rolled-back transaction is not announced; a committed one (its own connection) is.
    const rolledBack = await db.transaction("write");
    await rolledBack.execute(`INSERT INTO ${t} (id, name) VALUES (50, 'x')`);
    await rolledBack.rollback();
    const tx = await db.transaction("write");
    await tx.execute(`INSERT INTO ${t} (id, name) VALUES (51, 'y')`);
    await tx.commit();
    await until(() => all.length >= 2, "the transaction's notification");
    assert.deepEqual(all[1], { tables: [t], origin: "local" });

    await primary.execute(`UPDATE ${t} SET qty = 3 WHERE id = 2`);
    await db.sync();
    await until(() => all.some((c) => c.origin === "remote" && c.tables.includes(t)), "the sync's notification");
    assert.ok(onlyItems.length >= 2 && onlyItems.every((c) => c.tables.includes(t)), JSON.stringify(onlyItems));
    assert.ok(onlyItems.some((c) => c.origin === "remote"));

    // reconnect() reopens the database; subscriptions go on with it.
    db.reconnect();
    const heard = all.length;
    await db.execute(`INSERT INTO ${notes} VALUES ('n2', 'after reconnect')`);
    await until(() => all.length > heard, "a notification after reconnect()");
    assert.deepEqual(all.at(-1), { tables: [notes], origin: "local" });

    unsubscribe();
    unsubscribeItems();
    unsubscribe(); // twice is fine
    const before = [all.length, onlyItems.length];
    await db.execute(`INSERT INTO ${t} (id, name) VALUES (52, 'z')`);
    await primary.execute(`UPDATE ${t} SET qty = 4 WHERE id = 2`);
    await db.sync();
    await sleep(100);
    assert.deepEqual([all.length, onlyItems.length], before);
    assert.throws(() => db.subscribe(() => {}, { tables: "items" }), TypeError);
    db.close();
  });

  it("syncs in the background soon after a write, and waitForSync waits for it", async () => {
    const t = await items();
    const db = device({ syncInterval: 60 });
    await db.sync();
    const waiting = db.waitForSync();
    await db.execute(`INSERT INTO ${t} (id, name) VALUES (7, 'seven')`);
    const status = await waiting;
    assert.equal(status.lastError, null);
    assert.ok(status.syncs >= 2);
    await until(async () => (await db.pendingChanges()) === 0, "the background push");
    assert.deepEqual(await rows(primary, `SELECT name FROM ${t} WHERE id = 7`), [{ name: "seven" }]);
    db.close();
  });

  it("calls the resolver from a background sync", async () => {
    const t = await items();
    const a = device();
    const resolved = [];
    const b = device({
      syncInterval: 60,
      conflictResolver: (c) => {
        resolved.push(c.key[0]);
        return { merge: { name: "both" } };
      },
    });
    await a.sync();
    await b.sync();
    await a.execute(`UPDATE ${t} SET name = 'a' WHERE id = 1`);
    await a.sync();
    await b.execute(`UPDATE ${t} SET name = 'b' WHERE id = 1`); // wakes b's background sync
    await until(async () => (await b.pendingChanges()) === 0 && resolved.length > 0, "the background push");
    assert.deepEqual(resolved, [1]);
    await until(async () => (await rows(primary, `SELECT name FROM ${t} WHERE id = 1`))[0].name === "both", "the merge");
    b.close();
    a.close();
  });

  it("runs Drizzle: insert offline, sync, and the server has the rows", async () => {
    const name = table("users");
    await primary.execute(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)`);
    const users = sqliteTable(name, {
      id: integer("id").primaryKey(),
      name: text("name").notNull(),
      email: text("email"),
    });
    const client = device();
    await client.sync();
    const db = drizzle(client);
    await db.insert(users).values([
      { id: 1, name: "Ada", email: "ada@example.com" },
      { id: 2, name: "Grace" },
    ]);
    await db.transaction(async (tx) => {
      await tx.update(users).set({ email: "grace@example.com" }).where(eq(users.id, 2));
    });
    assert.deepEqual(await db.select({ name: users.name }).from(users).orderBy(users.id), [
      { name: "Ada" },
      { name: "Grace" },
    ]);
    assert.equal(await client.pendingChanges(), 3);
    assert.equal((await client.sync()).changesPushed, 3);
    const onServer = drizzle(primary);
    assert.deepEqual(await onServer.select().from(users).orderBy(users.id), [
      { id: 1, name: "Ada", email: "ada@example.com" },
      { id: 2, name: "Grace", email: "grace@example.com" },
    ]);
    client.close();
  });
});

describe("offline: bad input", () => {
  it("refuses bad configuration with typed errors at createClient", () => {
    const base = { url: `file:${path.join(dir, "bad.db")}`, syncUrl: "http://127.0.0.1:1", offline: true };
    const code = (config, expected) =>
      assert.throws(
        () => createClient(config),
        (e) => e instanceof LibsqlError && e.code === expected,
        JSON.stringify(config),
      );
    code({ ...base, conflictPolicy: "newest" }, "INVALID_CONFIG");
    code({ ...base, conflictPolicy: { items: "server_wins", default: "latest" } }, "INVALID_CONFIG");
    code({ ...base, conflictPolicy: { items: 3 } }, "INVALID_CONFIG");
    code({ ...base, conflictPolicy: ["server_wins"] }, "INVALID_CONFIG");
    code({ url: base.url, offline: true }, "INVALID_CONFIG");
    code({ url: "http://127.0.0.1:1", offline: true }, "INVALID_CONFIG");
    code({ url: base.url, syncUrl: base.syncUrl, conflictPolicy: "server_wins" }, "INVALID_CONFIG");
    code({ ...base, url: ":memory:" }, "URL_INVALID");
    assert.throws(() => createClient({ ...base, conflictResolver: "local" }), TypeError);
    assert.throws(() => createClient({ ...base, offline: "yes" }), TypeError);
    const ok = createClient({ ...base, conflictPolicy: { default: "client_wins" } });
    ok.close();
  });

  it("offline calls on other clients are UNSUPPORTED; a closed client is CLIENT_CLOSED", async () => {
    const remote = createClient({ url: server.http });
    const local = createClient({ url: `file:${path.join(dir, "plain.db")}` });
    const replica = createClient({ url: `file:${path.join(dir, "replica.db")}`, syncUrl: server.http });
    for (const client of [remote, local]) {
      for (const call of [() => client.conflicts(), () => client.resolveConflict(1, "local"), () => client.pendingChanges(), () => client.waitForSync()]) {
        const e = await rejects(call());
        assert.ok(e instanceof LibsqlError, String(e));
        assert.equal(e.code, "UNSUPPORTED");
      }
      assert.throws(() => client.subscribe(() => {}, { tables: ["x"] }), (e) => e.code === "UNSUPPORTED");
    }
    assert.equal((await rejects(replica.conflicts())).code, "UNSUPPORTED");
    assert.equal((await rejects(replica.pendingChanges())).code, "UNSUPPORTED");
    const db = device();
    db.close();
    assert.equal((await rejects(db.conflicts())).code, "CLIENT_CLOSED");
    assert.throws(() => db.subscribe(() => {}), (e) => e.code === "CLIENT_CLOSED");
    remote.close();
    local.close();
    replica.close();
  });

  it("a waitForSync pending when the client closes fails with CLIENT_CLOSED", async () => {
    const db = device();
    const waiting = db.waitForSync().catch((e) => e);
    db.close();
    const e = await waiting;
    assert.ok(e instanceof LibsqlError, String(e));
    assert.equal(e.code, "CLIENT_CLOSED");
  });
});
