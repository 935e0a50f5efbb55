// Side-by-side benchmark, one run: Tidepool's Node client against @libsql/client (and
// better-sqlite3 for local reads), reported as ops/s and ratios.
//
//   local:  point reads by primary key on a `file:` database (SELECT * FROM t WHERE id = ?)
//   remote: sequential `SELECT ?` over HTTP (and WebSocket) against one tidepool-server
//
// Run it through bench/run.sh, which builds release binaries first. Each client runs in
// alternating rounds (so a load spike hits all of them) and its best round counts.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient as tidepool } from "../esm/index.mjs";
import { createClient as libsql } from "@libsql/client";

const LOCAL_OPS = Number(process.env.BENCH_LOCAL_OPS ?? 20000);
const REMOTE_OPS = Number(process.env.BENCH_REMOTE_OPS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROWS = 10000;

async function loadBetterSqlite3() {
  try {
    return (await import("better-sqlite3")).default;
  } catch (e) {
    console.log(`better-sqlite3 unavailable (${e.message.split("\n")[0]}); skipped`);
    return undefined;
  }
}

/** ops/s of `op(i)` run `n` times in sequence. */
async function measure(n, op) {
  for (let i = 0; i < Math.min(200, n); i++) await op(i); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await op(i);
  const ns = Number(process.hrtime.bigint() - start);
  return n / (ns / 1e9);
}

async function compare(title, n, contenders) {
  const best = new Map(contenders.map(([name]) => [name, 0]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op] of contenders) {
      best.set(name, Math.max(best.get(name), await measure(n, op)));
    }
  }
  console.log(`\n${title} (${n} ops x ${ROUNDS} rounds, best round)`);
  const base = best.get(contenders[0][0]);
  for (const [name] of contenders) {
    const ops = best.get(name);
    const ratio = name === contenders[0][0] ? "" : `  tidepool/${name} = ${(base / ops).toFixed(2)}x`;
    console.log(`  ${name.padEnd(24)} ${ops.toFixed(0).padStart(8)} ops/s${ratio}`);
  }
  return best;
}

async function local() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tidepool-node-bench-"));
  const file = path.join(dir, "bench.db");
  const setup = tidepool({ url: `file:${file}` });
  await setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)");
  const rows = Array.from({ length: ROWS }, (_, i) => ({
    sql: "INSERT INTO t VALUES (?, ?, ?)",
    args: [i + 1, `name ${i + 1}`, i * 0.5],
  }));
  await setup.batch(rows, "write");
  setup.close();

  const tp = tidepool({ url: `file:${file}` });
  const ls = libsql({ url: `file:${file}` });
  const sql = "SELECT * FROM t WHERE id = ?";
  const key = (i) => ((i * 7919) % ROWS) + 1;
  const contenders = [
    ["tidepool", async (i) => check((await tp.execute({ sql, args: [key(i)] })).rows[0], key(i))],
    ["@libsql/client", async (i) => check((await ls.execute({ sql, args: [key(i)] })).rows[0], key(i))],
  ];
  const Better = await loadBetterSqlite3();
  let bs;
  if (Better) {
    bs = new Better(file, { readonly: true });
    const stmt = bs.prepare(sql);
    contenders.push(["better-sqlite3", async (i) => check(stmt.get(key(i)), key(i))]);
  }
  await compare("local point reads by primary key, file:", LOCAL_OPS, contenders);
  tp.close();
  ls.close();
  bs?.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

function check(row, id) {
  if (row === undefined || Number(row.id) !== id) throw new Error(`wrong row for id ${id}`);
}

async function startServer() {
  const bin = process.env.TIDEPOOL_SERVER_BIN;
  if (!bin) throw new Error("TIDEPOOL_SERVER_BIN must name a (release) tidepool-server");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tidepool-node-bench-server-"));
  const child = spawn(bin, ["--http-listen-addr", "127.0.0.1:0", "--db-path", path.join(dir, "s.db")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    child.once("exit", (c) => reject(new Error(`server exited ${c}`)));
    child.stdout.on("data", (d) => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec((out += d));
      if (m) resolve(Number(m[1]));
    });
  });
  return {
    port,
    stop() {
      child.removeAllListeners("exit");
      child.kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function remote() {
  const server = await startServer();
  const http = `http://127.0.0.1:${server.port}`;
  const ws = `ws://127.0.0.1:${server.port}`;
  const clients = {
    tpHttp: tidepool({ url: http }),
    lsHttp: libsql({ url: http }),
    tpWs: tidepool({ url: ws }),
    lsWs: libsql({ url: ws }),
  };
  const select = (c) => async (i) => {
    const rs = await c.execute({ sql: "SELECT ?", args: [i] });
    if (rs.rows[0][0] !== i) throw new Error("wrong answer");
  };
  try {
    await compare("remote sequential SELECT ? over HTTP", REMOTE_OPS, [
      ["tidepool", select(clients.tpHttp)],
      ["@libsql/client", select(clients.lsHttp)],
    ]);
    await compare("remote sequential SELECT ? over WebSocket", REMOTE_OPS, [
      ["tidepool", select(clients.tpWs)],
      ["@libsql/client", select(clients.lsWs)],
    ]);
  } finally {
    for (const c of Object.values(clients)) c.close();
    server.stop();
  }
}

console.log(`node ${process.version}, ${os.cpus().length} cores, load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
await local();
await remote();
console.log(`\nload average after: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
