// Replicas (`file:` url + `syncUrl`): a local file mirroring the server, synced on demand and
// in the background, with reads local and writes on the server (read-your-writes), between
// two clients, over http and ws.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "../esm/index.mjs";
import { startServer, table, tempDir } from "./helpers.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

for (const scheme of ["http", "ws"]) {
  describe(`replica over ${scheme}`, () => {
    it("syncs changes another client made, and reads its own writes", async () => {
      const t = table("replicated");
      const remote = createClient({ url: server[scheme] });
      await remote.execute(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT)`);
      await remote.execute(`INSERT INTO ${t} (v) VALUES ('from the server')`);

      const file = path.join(tempDir(), "replica.db");
      const replica = createClient({ url: `file:${file}`, syncUrl: server[scheme] });
      assert.equal(replica.protocol, "file");
      const before = replica.syncStatus();
      assert.equal(before.bootstrapped, false);
      assert.equal(before.syncs, 0);

      const first = await replica.sync();
      assert.ok(first.rowsCopied >= 1, JSON.stringify(first));
      assert.equal(first.frame_no, first.position);
      let rs = await replica.execute(`SELECT v FROM ${t}`);
      assert.deepEqual(rs.rows.map((r) => r.v), ["from the server"]);
      const status = replica.syncStatus();
      assert.equal(status.bootstrapped, true);
      assert.equal(status.syncs, 1);
      assert.ok(status.lastSyncedAt instanceof Date);
      assert.equal(status.lastError, null);

      // Writes go to the server, and the replica reads them back at once.
      const w = await replica.execute({ sql: `INSERT INTO ${t} (v) VALUES (?)`, args: ["from the replica"] });
      assert.equal(w.rowsAffected, 1);
      rs = await replica.execute(`SELECT count(*) AS n FROM ${t}`);
      assert.equal(rs.rows[0].n, 2);
      rs = await remote.execute(`SELECT count(*) AS n FROM ${t}`);
      assert.equal(rs.rows[0].n, 2);

      // Another client's write reaches the replica with the next sync.
      await remote.execute(`UPDATE ${t} SET v = 'changed' WHERE id = 1`);
      const second = await replica.sync();
      assert.ok(second.changesApplied >= 1, JSON.stringify(second));
      rs = await replica.execute(`SELECT v FROM ${t} WHERE id = 1`);
      assert.equal(rs.rows[0].v, "changed");

      // A transaction on a replica runs on the server.
      const tx = await replica.transaction("write");
      await tx.execute(`DELETE FROM ${t} WHERE id = 1`);
      await tx.commit();
      rs = await remote.execute(`SELECT count(*) FROM ${t}`);
      assert.equal(rs.rows[0][0], 1);
      replica.close();
      remote.close();
    });

    it("syncs in the background every syncInterval seconds", async () => {
      const t = table("background");
      const remote = createClient({ url: server[scheme] });
      await remote.execute(`CREATE TABLE ${t} (v)`);
      const file = path.join(tempDir(), "bg.db");
      const replica = createClient({
        url: `file:${file}`,
        syncUrl: server[scheme],
        syncInterval: 0.1,
      });
      await remote.execute(`INSERT INTO ${t} VALUES (1)`);
      // Wait (bounded) until a background sync has brought the row; no timing is asserted.
      // (A sync's rows can be visible a moment before its status records it.)
      let seen = 0;
      for (let i = 0; i < 200 && (seen === 0 || replica.syncStatus().syncs === 0); i++) {
        await sleep(50);
        const rs = await replica.execute(`SELECT count(*) FROM ${t}`).catch(() => null);
        seen = rs?.rows[0][0] ?? 0;
      }
      assert.equal(seen, 1);
      assert.ok(replica.syncStatus().syncs >= 1);
      assert.equal(replica.syncStatus().bootstrapped, true);
      replica.close();
      // close() stops the background sync: a later change stays off the file.
      await remote.execute(`INSERT INTO ${t} VALUES (2)`);
      await sleep(500);
      const reopened = createClient({ url: `file:${file}` });
      assert.equal((await reopened.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 1);
      reopened.close();
      remote.close();
    });

    it("reports a failed sync in syncStatus and as a LibsqlError", async () => {
      const replica = createClient({ url: `file:${path.join(tempDir(), "down.db")}`, syncUrl: `${scheme}://127.0.0.1:1` });
      const e = await replica.sync().catch((x) => x);
      assert.equal(e.name, "LibsqlError");
      assert.equal(e.code, "CONNECT_FAILED");
      assert.equal(replica.syncStatus().lastError.code, "CONNECT_FAILED");
      replica.close();
    });
  });
}
