// Change subscriptions: every committed change made through the client (statements, batches,
// scripts, committed transactions) reaches its listeners after the call settles; rolled-back
// work never does; unsubscribing stops them. A replica's sync that brings changes is reported.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { setImmediate as tick } from "node:timers/promises";
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
      assert.deepEqual(seen, [{ kind: "statement", rowsAffected: 2 }]);

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
      assert.deepEqual(seen.slice(1), [
        { kind: "batch", rowsAffected: 4 },
        { kind: "script", rowsAffected: 0 },
        { kind: "commit", rowsAffected: 2 },
      ]);

      unsubscribe();
      await db.execute(`INSERT INTO ${t} VALUES (12)`);
      await tick();
      assert.equal(seen.length, 4);
      assert.throws(() => db.subscribe("not a function"), TypeError);
      db.close();
    });
  });
}

it("reports a replica's sync that brought changes", async () => {
  const t = table("synced");
  const remote = createClient({ url: server.http });
  await remote.execute(`CREATE TABLE ${t} (v)`);
  await remote.execute(`INSERT INTO ${t} VALUES (1)`);
  const replica = createClient({ url: `file:${path.join(tempDir(), "changes.db")}`, syncUrl: server.http });
  const seen = [];
  replica.subscribe((c) => seen.push(c));
  await replica.sync();
  await tick();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].kind, "sync");
  assert.ok(seen[0].rowsAffected >= 1);
  await replica.sync(); // nothing new: no change
  await tick();
  assert.equal(seen.length, 1);
  replica.close();
  remote.close();
});
