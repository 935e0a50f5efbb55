// Test helpers: a real tidepool-server on a loopback port and a temporary database, and the
// three targets every suite runs against (http, ws, a local file).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..", "..");

export function serverBin() {
  if (process.env.TIDEPOOL_SERVER_BIN) return process.env.TIDEPOOL_SERVER_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, "target");
  return path.resolve(repoRoot, target, "debug", "tidepool-server");
}

export function tempDir(prefix = "tidepool-node-") {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts tidepool-server on 127.0.0.1 (a free port) with a fresh database file. `pause()`
 * stops it and `resume()` starts it again on the same port and file. */
export async function startServer(extraArgs = []) {
  const dir = tempDir("tidepool-node-server-");
  const bin = serverBin();
  if (!fs.existsSync(bin)) throw new Error(`no server binary at ${bin}: cargo build -p tidepool-server`);
  let { child, port } = await spawnServer(bin, dir, 0, extraArgs);
  const stopChild = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  };
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    pause: stopChild,
    async resume() {
      ({ child } = await spawnServer(bin, dir, port, extraArgs));
    },
    async stop() {
      await stopChild();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnServer(bin, dir, port, extraArgs) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TIDEPOOL_")));
  const child = spawn(
    bin,
    ["--http-listen-addr", `127.0.0.1:${port}`, "--db-path", path.join(dir, "server.db"), ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...env, NO_COLOR: "1" } },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-32768)));
  const bound = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`server exited (${code}):\n${stderr}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve(Number(m[1]));
      }
    });
  });
  return { child, port: bound };
}

/** The targets a suite runs on: `{ name, url() }`, where url() gives a fresh database for
 * `file` and the shared server for http and ws (tests use their own table names). */
export function targets(getServer) {
  const dir = tempDir();
  let n = 0;
  return [
    { name: "http", url: () => getServer().http },
    { name: "ws", url: () => getServer().ws },
    { name: "file", url: () => `file:${path.join(dir, `db${n++}.sqlite`)}` },
  ];
}

let tables = 0;
/** A table name no other test uses. */
export function table(base = "t") {
  return `${base}_${process.pid}_${tables++}`;
}

export async function rejects(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}
