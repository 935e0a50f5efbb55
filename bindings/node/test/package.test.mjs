// The package's entries: the CommonJS and ES module builds are one set of classes, and the
// .d.ts types accept code written for @libsql/client.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as esm from "../esm/index.mjs";
import { here, tempDir } from "./helpers.mjs";

const require = createRequire(import.meta.url);

it("exports the same API from require() and import", async () => {
  const cjs = require("..");
  assert.equal(cjs.createClient, esm.createClient);
  assert.equal(cjs.LibsqlError, esm.LibsqlError);
  const db = cjs.createClient({ url: ":memory:" });
  const e = await db.execute("SELEC").catch((x) => x);
  assert.ok(e instanceof esm.LibsqlError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, "LibsqlError");
  db.close();
  const batchError = new esm.LibsqlBatchError("m", 2, "SQLITE_ERROR");
  assert.ok(batchError instanceof esm.LibsqlError);
  assert.equal(batchError.statementIndex, 2);
});

it("type-checks code written for @libsql/client against the .d.ts", () => {
  const dir = tempDir("tidepool-node-types-");
  const file = path.join(dir, "use.ts");
  fs.writeFileSync(
    file,
    `import { createClient, LibsqlError, type Change, type Client, type Conflict, type Resolution, type ResultSet, type Row, type InArgs, type SyncStatus } from ${JSON.stringify(path.resolve(here, ".."))};
const db: Client = createClient({ url: ":memory:", intMode: "bigint" });
async function main(): Promise<void> {
  const args: InArgs = { id: 1 };
  const rs: ResultSet = await db.execute({ sql: "SELECT :id AS id", args });
  const row: Row = rs.rows[0];
  const id: unknown = row.id;
  const last: bigint | undefined = rs.lastInsertRowid;
  await db.batch(["SELECT 1", { sql: "SELECT ?", args: [1] }, ["SELECT ?", [2]]], "write");
  const tx = await db.transaction("read");
  await tx.commit();
  try { await db.execute("x"); } catch (e) { if (e instanceof LibsqlError) console.log(e.code, e.extendedCode, e.rawCode); }
  const stop: () => void = db.subscribe((c) => console.log(c.kind, c.rowsAffected));
  stop();
  const offline: Client = createClient({
    url: "file:device.db",
    syncUrl: "http://127.0.0.1:8080",
    offline: true,
    syncInterval: 5,
    conflictPolicy: { notes: "server_wins", default: "column_lww" },
    conflictResolver: (c: Conflict): Resolution =>
      c.kind === "update_update" && c.local !== null ? { merge: { body: String(c.local.body) } } : "remote",
  });
  const synced = await offline.sync();
  if (synced !== undefined) console.log(synced.frame_no, synced.changesPushed, synced.conflicts, synced.tablesChanged);
  for (const c of await offline.conflicts()) {
    const when: Date = c.writtenAt;
    console.log(c.id, c.table, c.key, c.rule, c.outcome, c.error?.code, c.remote?.body, when);
    await offline.resolveConflict(c.id, "local");
  }
  const pending: number = await offline.pendingChanges();
  const after: SyncStatus = await offline.waitForSync();
  const unsubscribe = offline.subscribe((c: Change) => console.log(c.tables?.join(), c.origin), { tables: ["notes"] });
  unsubscribe();
  console.log(pending, after.pendingChanges, after.conflicts);
  const status = db.syncStatus();
  if (status !== null) console.log(status.bootstrapped, status.lastSyncedAt?.getTime(), status.lastError?.code);
  console.log(id, last, db.protocol, db.closed);
}
void main;
`,
  );
  const tsc = path.resolve(here, "..", "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "commonjs", "--types", "node", "--typeRoots", path.resolve(here, "..", "node_modules", "@types"), file], {
    stdio: "pipe",
  });
  fs.rmSync(dir, { recursive: true, force: true });
});

it("exits cleanly with clients and transactions left open (finalizers after the runtime)", () => {
  const script = `
    import { createClient } from ${JSON.stringify(path.resolve(here, "..", "esm", "index.mjs"))};
    import { startServer } from ${JSON.stringify(path.resolve(here, "helpers.mjs"))};
    const server = await startServer();
    for (const url of [":memory:", server.http, server.ws]) {
      const db = createClient({ url });
      await db.execute("SELECT 1");
      const tx = await db.transaction("read");
      await tx.execute("SELECT 1");
    }
    // An offline client with a resolver, a subscription and background sync, left open.
    const remote = createClient({ url: server.http });
    await remote.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
    const offline = createClient({
      url: "file:" + ${JSON.stringify(path.join(tempDir("tidepool-node-exit-"), "offline.db"))},
      syncUrl: server.http,
      offline: true,
      syncInterval: 0.05,
      conflictResolver: () => "local",
    });
    await offline.sync();
    offline.subscribe(() => {});
    await offline.execute("INSERT INTO t VALUES (1, 'x')");
    await offline.waitForSync();
    await server.stop();
    console.log("finished");
  `;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), "finished");
  assert.doesNotMatch(run.stderr, /panicked/);
});
