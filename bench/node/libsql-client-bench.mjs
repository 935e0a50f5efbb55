// The stock @libsql/client against a running server, measured the way tidepool-loadgen measures
// its floor: `SELECT ?` with one argument, sequential and N-concurrent, over http:// and ws://.
// Prints the same columns (req/s, p50/p90/p99/max µs from an exact sorted-array percentile).
//
// Usage: node libsql-client-bench.mjs --url http://127.0.0.1:8080
//          [--requests 5000] [--concurrent-requests N (default: --requests)] [--warmup 200]
//          [--concurrency 64] [--duration-secs S] [--auth-token T] [--json out.json]
//
// Each client is one createClient() call, as an application would hold it: over http:// every
// execute() is a stateless pipeline on fetch's keep-alive pool; over ws:// every execute() runs
// on the client's single socket (the client opens a stream per execute outside transactions).

import { createClient } from "@libsql/client";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";

function parseArgs(argv) {
  const opts = {
    url: process.env.TIDEPOOL_URL,
    requests: 5000,
    concurrentRequests: null,
    warmup: 200,
    concurrency: 64,
    durationSecs: null,
    authToken: process.env.TIDEPOOL_AUTH_TOKEN,
    json: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case "--url": opts.url = value(); break;
      case "--requests": opts.requests = Number(value()); break;
      case "--concurrent-requests": opts.concurrentRequests = Number(value()); break;
      case "--warmup": opts.warmup = Number(value()); break;
      case "--concurrency": opts.concurrency = Number(value()); break;
      case "--duration-secs": opts.durationSecs = Number(value()); break;
      case "--auth-token": opts.authToken = value(); break;
      case "--json": opts.json = value(); break;
      default: throw new Error(`unknown argument ${arg}`);
    }
  }
  if (!opts.url) throw new Error("--url http://host:port is required");
  if (opts.concurrentRequests == null) opts.concurrentRequests = opts.requests;
  return opts;
}

// Nearest rank: the smallest sample with at least p% of the samples at or below it.
function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

// Runs `requests` calls (or as many as fit in the time budget) from `concurrency` workers.
// Returns per-request latencies in ns and the wall time in ns.
async function drive(client, concurrency, requests, durationNs, first) {
  const limit = durationNs == null ? requests : 50_000_000;
  const latencies = [];
  let next = 0;
  const start = process.hrtime.bigint();
  const deadline = durationNs == null ? null : start + BigInt(Math.round(durationNs));
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= limit) return;
      if (deadline !== null && process.hrtime.bigint() >= deadline) return;
      const t = process.hrtime.bigint();
      const rs = await client.execute({ sql: "SELECT ?", args: [first + i] });
      latencies.push(Number(process.hrtime.bigint() - t));
      if (rs.rows.length !== 1) throw new Error("expected one row");
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, elapsedNs: Number(process.hrtime.bigint() - start) };
}

function report(scenario, concurrency, latencies, elapsedNs) {
  const sorted = Float64Array.from(latencies).sort();
  const us = (ns) => ns / 1000;
  const rps = latencies.length / (elapsedNs / 1e9);
  return {
    scenario,
    requests: latencies.length,
    concurrency,
    ops_per_request: 1,
    elapsed_secs: elapsedNs / 1e9,
    requests_per_sec: rps,
    ops_per_sec: rps,
    p50_us: us(percentile(sorted, 50)),
    p90_us: us(percentile(sorted, 90)),
    p99_us: us(percentile(sorted, 99)),
    max_us: us(sorted.length ? sorted[sorted.length - 1] : 0),
  };
}

function table(title, reports) {
  const pad = (s, n) => String(s).padStart(n);
  const lines = [title];
  lines.push(
    "scenario".padEnd(34) + pad("conc", 6) + pad("reqs", 8) + pad("req/s", 11) + pad("stmts/s", 12) +
      pad("p50 µs", 10) + pad("p90 µs", 10) + pad("p99 µs", 10) + pad("max µs", 11),
  );
  for (const r of reports) {
    if (r.error) {
      lines.push(r.scenario.padEnd(34) + pad(r.concurrency, 6) + " FAILED: " + r.error);
      continue;
    }
    lines.push(
      r.scenario.padEnd(34) + pad(r.concurrency, 6) + pad(r.requests, 8) +
        pad(r.requests_per_sec.toFixed(0), 11) + pad(r.ops_per_sec.toFixed(0), 12) +
        pad(r.p50_us.toFixed(1), 10) + pad(r.p90_us.toFixed(1), 10) + pad(r.p99_us.toFixed(1), 10) +
        pad(r.max_us.toFixed(1), 11),
    );
  }
  return lines.join("\n");
}

function clientVersion() {
  try {
    const url = new URL("./node_modules/@libsql/client/package.json", import.meta.url);
    return JSON.parse(readFileSync(url, "utf8")).version;
  } catch {
    return "?";
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const httpUrl = opts.url.replace(/\/+$/, "");
  const wsUrl = httpUrl.replace(/^http:/, "ws:").replace(/^https:/, "wss:");
  const durationNs = opts.durationSecs == null ? null : opts.durationSecs * 1e9;
  const reports = [];
  for (const [scheme, url] of [["http", httpUrl], ["ws", wsUrl]]) {
    for (const concurrency of [1, opts.concurrency]) {
      const name = `libsql-client/${scheme}/select/${concurrency === 1 ? "seq" : `c${concurrency}`}`;
      process.stderr.write(name.padEnd(36));
      const client = createClient({ url, authToken: opts.authToken });
      try {
        await drive(client, concurrency, opts.warmup, null, 0);
        const requests = concurrency === 1 ? opts.requests : opts.concurrentRequests;
        const { latencies, elapsedNs } = await drive(client, concurrency, requests, durationNs, opts.warmup);
        const r = report(name, concurrency, latencies, elapsedNs);
        process.stderr.write(
          `${r.requests_per_sec.toFixed(0).padStart(9)} req/s  p50 ${r.p50_us.toFixed(1).padStart(8)} µs  p99 ${r.p99_us.toFixed(1).padStart(8)} µs\n`,
        );
        reports.push(r);
      } catch (e) {
        process.stderr.write(`FAILED: ${e.message}\n`);
        reports.push({ scenario: name, concurrency, error: String(e.message ?? e) });
      } finally {
        client.close();
      }
    }
  }
  const amount = durationNs == null ? `${opts.requests} requests per scenario` : `${opts.durationSecs} s per scenario`;
  const title =
    `@libsql/client ${clientVersion()} on node ${process.version}: ` +
    `${httpUrl}; ${amount} after ${opts.warmup} warm-up; ${availableParallelism()} cores shared by client and server`;
  console.log(table(title, reports));
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ url: httpUrl, client: "@libsql/client", node: process.version, results: reports }, null, 2));
  }
  if (reports.some((r) => r.error)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
