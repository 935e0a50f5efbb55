// The protocol corpus's value cases (protocol/vectors/values.json) through the binding: every
// round-trip Value case is bound as an argument and read back (`SELECT ?1, typeof(?1)`) over
// http, ws and on a local file, and must come back as the same value with the same SQLite
// type. Values JavaScript cannot bind (non-finite floats) must be refused with RangeError, as
// @libsql/client refuses them. Decode-only and must-fail cases test wire decoders, which the
// Rust suite runs; they have no binding-level meaning.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createClient } from "../esm/index.mjs";
import { repoRoot, startServer, targets } from "./helpers.mjs";

const corpus = JSON.parse(fs.readFileSync(path.join(repoRoot, "protocol", "vectors", "values.json"), "utf8"));

/** Expands the corpus's `$repeat` / `$concat` string generators. */
function expand(v) {
  if (Array.isArray(v)) return v.map(expand);
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 2 && keys.includes("$repeat") && keys.includes("count")) return v.$repeat.repeat(v.count);
    if (keys.length === 1 && keys[0] === "$concat") return v.$concat.map(expand).join("");
    return Object.fromEntries(keys.map((k) => [k, expand(v[k])]));
  }
  return v;
}

const cases = corpus.cases.filter((c) => c.type === "Value" && "json" in c).map((c) => ({ ...c, json: expand(c.json) }));

/** `[argument, expected value, expected typeof]`, or `null` when JavaScript cannot bind it. */
function binding(json) {
  switch (json.type) {
    case "null":
      return [null, null, "null"];
    case "integer":
      return [BigInt(json.value), BigInt(json.value), "integer"];
    case "float": {
      const f = typeof json.value === "string" ? Number(json.value) : json.value;
      return Number.isFinite(f) ? [f, f, "real"] : null;
    }
    case "text":
      return [json.value, json.value, "text"];
    case "blob": {
      const bytes = Buffer.from(json.base64, "base64");
      return [new Uint8Array(bytes), bytes, "blob"];
    }
    default:
      throw new Error(`unknown value type ${json.type}`);
  }
}

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

it("covers the corpus's round-trip values", () => {
  assert.ok(cases.length >= 40, `only ${cases.length} value cases`);
  for (const type of ["null", "integer", "float", "text", "blob"]) {
    assert.ok(cases.some((c) => c.json.type === type), type);
  }
});

for (const target of targets(() => server)) {
  describe(`protocol value vectors on ${target.name}`, () => {
    let db;
    before(() => (db = createClient({ url: target.url(), intMode: "bigint" })));
    after(() => db?.close());

    for (const c of cases) {
      it(c.name, async () => {
        const b = binding(c.json);
        if (b === null) {
          await assert.rejects(db.execute("SELECT ?1", [Number(c.json.value)]), RangeError);
          return;
        }
        const [arg, expected, type] = b;
        const rs = await db.execute("SELECT ?1 AS v, typeof(?1) AS t", [arg]);
        const got = rs.rows[0].v;
        assert.equal(rs.rows[0].t, type);
        if (type === "blob") {
          assert.ok(got instanceof ArrayBuffer);
          assert.ok(Buffer.from(got).equals(expected), "blob bytes differ");
        } else if (type === "real") {
          assert.ok(Object.is(got, expected), `${got} is not ${expected}`);
        } else {
          assert.equal(got, expected);
        }
      });
    }
  });
}
