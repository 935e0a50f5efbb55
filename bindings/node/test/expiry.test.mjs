// A transaction the server ends (idle stream expiry over HTTP, the transaction timeout over
// WebSocket) fails with a typed code, is closed afterwards, and the client goes on; pooled
// connections left idle past the expiry work again (no STREAM_EXPIRED for the caller).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient, LibsqlError } from "../esm/index.mjs";
import { rejects, startServer, table } from "./helpers.mjs";

let server;
before(async () => (server = await startServer(["--stream-expiry-secs", "1", "--txn-timeout-secs", "1"])));
after(async () => server?.stop());


for (const scheme of ["http", "ws"]) {
  describe(`server-ended transactions over ${scheme}`, () => {
    it("fails with a typed code, closes the transaction, and the client goes on", async () => {
      const db = createClient({ url: server[scheme] });
      const t = table();
      await db.execute(`CREATE TABLE ${t} (v)`);
      const tx = await db.transaction("write");
      await tx.execute(`INSERT INTO ${t} VALUES (1)`);
      await sleep(2500); // past both the stream expiry and the transaction timeout
      const e = await rejects(tx.execute("SELECT 1"));
      assert.ok(e instanceof LibsqlError, String(e));
      assert.equal(e.code, "TRANSACTION_LOST", e.message);
      assert.equal(tx.closed, true);
      assert.equal((await rejects(tx.commit())).code, "TRANSACTION_CLOSED");
      // Rolled back by the server; the client's pooled connections (idle past the expiry
      // too) work.
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 0);
      const again = await db.transaction("write");
      await again.execute(`INSERT INTO ${t} VALUES (2)`);
      await again.commit();
      assert.equal((await db.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 1);
      db.close();
    });
  });
}
