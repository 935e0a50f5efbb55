// authToken against a server that requires JWTs: a valid token works (from the config or the
// URL), a missing or bad one fails with the server's auth code, a read-only one cannot write.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createClient, LibsqlError } from "../esm/index.mjs";
import { rejects, startServer, table, tempDir } from "./helpers.mjs";

const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");

function token(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${part({ alg: "EdDSA", typ: "JWT" })}.${part(claims)}`;
  return `${body}.${crypto.sign(null, Buffer.from(body), privateKey).toString("base64url")}`;
}

let server;
before(async () => {
  const keyFile = path.join(tempDir("tidepool-node-key-"), "jwt_key.pem");
  fs.writeFileSync(keyFile, publicKey.export({ type: "spki", format: "pem" }));
  server = await startServer(["--auth-jwt-key-file", keyFile]);
});
after(async () => server?.stop());

for (const scheme of ["http", "ws"]) {
  describe(`authentication over ${scheme}`, () => {
    it("accepts a valid token from the config or the URL", async () => {
      const rw = token({ a: "rw" });
      const t = table();
      const db = createClient({ url: server[scheme], authToken: rw });
      await db.execute(`CREATE TABLE ${t} (v)`);
      await db.execute(`INSERT INTO ${t} VALUES (1)`);
      db.close();
      const viaUrl = createClient({ url: `${server[scheme]}?authToken=${rw}` });
      assert.equal((await viaUrl.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 1);
      viaUrl.close();
    });

    it("refuses a missing, forged or expired token with an auth code", async () => {
      const forged = token({ a: "rw" }).replace(/.$/, (c) => (c === "A" ? "B" : "A"));
      for (const authToken of [undefined, forged, token({ a: "rw", exp: 1 })]) {
        const db = createClient({ url: server[scheme], authToken });
        const e = await rejects(db.execute("SELECT 1"));
        assert.ok(e instanceof LibsqlError, String(e));
        assert.match(e.code, /^AUTH_/, `${e.code}: ${e.message}`);
        db.close();
      }
    });

    it("lets a read-only token read and refuses its writes with FORBIDDEN", async () => {
      const t = table();
      const admin = createClient({ url: server[scheme], authToken: token({ a: "rw" }) });
      await admin.execute(`CREATE TABLE ${t} (v)`);
      const ro = createClient({ url: server[scheme], authToken: token({ a: "ro" }) });
      assert.equal((await ro.execute(`SELECT count(*) FROM ${t}`)).rows[0][0], 0);
      const e = await rejects(ro.execute(`INSERT INTO ${t} VALUES (1)`));
      assert.equal(e.code, "FORBIDDEN");
      admin.close();
      ro.close();
    });
  });
}
