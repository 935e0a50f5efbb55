// Change subscriptions on local and remote clients: every committed change made through the
// client (statements, batches, scripts, committed transactions) reaches its listeners after
// the call settles; rolled-back work never does; unsubscribing stops them. A replica reports
// the tables its syncs changed (offline clients: test/offline.test.mjs).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setImmediate as tick, setTimeout as sleep } from "node:timers/promises";
import { createClient } from "../esm/index.mjs";
import { startServer, table, targets, tempDir } from "./helpers.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

for (const target of targets(() => server)) {
  describe(`change subscriptions on ${target.name}`, () => {
    it("reports committed writes and nothing else", async () => {
      const db = createClient({ url: target.url() });
      const t = table();
      await db.execute(`CREATE TABLE ${t} (v)`);
      const seen = [];
      const unsubscribe = db.subscribe((c) => seen.push(c));

      await db.execute(`INSERT INTO ${t} VALUES (1), (2)`);
      assert.equal(seen.length, 0, "listeners run after the call, not inside it");
      await tick();
      assert.deepEqual(seen, [{ tables: null, origin: "local", kind: "statement", rowsAffected: 2 }]);

      await db.execute(`SELECT * FROM ${t}`); // reads are not changes
      await db.batch([`INSERT INTO ${t} VALUES (3)`, `UPDATE ${t} SET v = v + 1`], "write");
      await db.executeMultiple(`INSERT INTO ${t} VALUES (9);`);
      const tx = await db.transaction("write");
      await tx.execute(`DELETE FROM ${t} WHERE v = 9`);
      await tx.batch([`INSERT INTO ${t} VALUES (10)`]);
      await tx.commit();
      const rolledBack = await db.transaction("write");
      await rolledBack.execute(`DELETE FROM ${t}`);
      await rolledBack.rollback();
      await db.batch([`INSERT INTO ${t} VALUES (11)`, "SELEC"]).catch(() => {}); // failed: nothing
      await tick();
      assert.deepEqual(
        seen.slice(1).map((c) => [c.kind, c.rowsAffected]),
        [
          ["batch", 4],
          ["script", 0],
          ["commit", 2],
        ],
      );

      unsubscribe();
      await db.execute(`INSERT INTO ${t} VALUES (12)`);
      await tick();
      assert.equal(seen.length, 4);
      assert.throws(() => db.subscribe("not a function"), TypeError);
      db.close();
    });
  });
}

it("reports the tables a replica's sync changed", async () => {
  const t = table("synced");
  const remote = createClient({ url: server.http });
  await remote.execute(`CREATE TABLE ${t} (v)`);
  await remote.execute(`INSERT INTO ${t} VALUES (1)`);
  const replica = createClient({ url: `file:${path.join(tempDir(), "changes.db")}`, syncUrl: server.http });
  const seen = [];
  replica.subscribe((c) => seen.push(c), { tables: [t] });
  await replica.sync();
  await until(() => seen.length >= 1);
  // (The first sync copies the other tests' tables too.)
  assert.equal(seen[0].origin, "remote");
  assert.ok(seen[0].tables.includes(t), JSON.stringify(seen[0]));
  await replica.sync(); // nothing new: no change
  await sleep(100);
  assert.equal(seen.length, 1);
  await remote.execute(`INSERT INTO ${t} VALUES (2)`);
  await replica.sync();
  await until(() => seen.length >= 2);
  assert.deepEqual(seen[1], { tables: [t], origin: "remote" });
  replica.close();
  remote.close();
});

async function until(check) {
  for (let i = 0; i < 200 && !check(); i++) await sleep(25);
}
