// Shared helpers for the @libsql/client compatibility suites: start a
// tidepool-server on a temp database, mint Ed25519 JWTs, run a suite over
// both http:// and ws://.

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..", "..", "..");

import { createClient } from "@libsql/client";

/**
 * The transports every @libsql/client suite runs over. @libsql/client 0.18.0
 * speaks Hrana 2 on both: POST /v2/pipeline (JSON) over HTTP, and the
 * WebSocket subprotocols hrana2/hrana1 (JSON) over ws://. Hrana 3 (/v3,
 * /v3-protobuf, hrana3, hrana3-protobuf) is covered by hrana3.test.js through
 * @libsql/hrana-client, the protocol library @libsql/client is built on.
 */
export const PROTOCOLS = ["http", "ws"];

/**
 * A fetch that records "METHOD /path" of every request into `paths`, and
 * answers 404 to GETs of the paths in `hidden` (to steer version discovery).
 */
export function recordingFetch(hidden = []) {
    const paths = [];
    const f = (input, init) => {
        const req = input instanceof Request ? input : new Request(input, init);
        const pathname = new URL(req.url).pathname;
        paths.push(`${req.method} ${pathname}`);
        if (req.method === "GET" && hidden.includes(pathname)) {
            return Promise.resolve(new Response("hidden by the test", { status: 404 }));
        }
        return fetch(req);
    };
    return { fetch: f, paths };
}

/**
 * createClient() for `server` over `transport` ("http" | "ws"); `extra` is
 * merged into the config (e.g. { intMode, authToken, url }). Over HTTP the
 * client gets a recording `fetch` (a documented config option) and the
 * returned client has `requestPaths`: "METHOD /path" of every request made.
 */
export function connect(server, transport, extra = {}) {
    const config = { url: server.url(transport), ...extra };
    let requestPaths;
    if (transport === "http") {
        const rec = recordingFetch();
        config.fetch = rec.fetch;
        requestPaths = rec.paths;
    }
    const client = createClient(config);
    client.requestPaths = requestPaths;
    return client;
}

/** Path of the tidepool-server binary (env TIDEPOOL_SERVER_BIN, else the cargo debug build). */
export function serverBin() {
    if (process.env.TIDEPOOL_SERVER_BIN) {
        return process.env.TIDEPOOL_SERVER_BIN;
    }
    const targetDir = process.env.CARGO_TARGET_DIR || path.join(repoRoot, "target");
    return path.resolve(repoRoot, targetDir, "debug", "tidepool-server");
}

const LISTEN_RE = /^tidepool-server listening on http:\/\/127\.0\.0\.1:(\d+)$/;

/**
 * Start a server on a fresh temp database. Options:
 *   jwtPublicKeyPem: if set, written to a file and passed as --auth-jwt-key-file.
 * Returns { port, httpUrl, wsUrl, url(proto), dir, dbPath, stop(), stderr() }.
 */
export async function startServer({ jwtPublicKeyPem } = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tidepool-peer-node-"));
    const dbPath = path.join(dir, "test.db");
    const args = ["--http-listen-addr", "127.0.0.1:0", "--db-path", dbPath];
    if (jwtPublicKeyPem !== undefined) {
        const keyFile = path.join(dir, "jwt_key.pem");
        fs.writeFileSync(keyFile, jwtPublicKeyPem);
        args.push("--auth-jwt-key-file", keyFile);
    }
    const bin = serverBin();
    if (!fs.existsSync(bin)) {
        throw new Error(`tidepool-server binary not found at ${bin} (set TIDEPOOL_SERVER_BIN or build it with 'cargo build -p tidepool-server')`);
    }
    // the server also reads TIDEPOOL_* settings from the environment: keep the caller's out
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TIDEPOOL_")));
    env.NO_COLOR = "1";
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let stderrBuf = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
        stderrBuf += chunk;
        if (stderrBuf.length > 64 * 1024) {
            stderrBuf = stderrBuf.slice(-64 * 1024);
        }
    });

    const port = await new Promise((resolve, reject) => {
        const rl = readline.createInterface({ input: child.stdout });
        const timer = setTimeout(() => {
            fail(new Error("tidepool-server did not print its listening line within 30 s"));
        }, 30_000);
        function fail(err) {
            clearTimeout(timer);
            rl.close();
            child.kill("SIGKILL");
            reject(new Error(`${err.message}\n--- server stderr ---\n${stderrBuf}`));
        }
        child.once("error", fail);
        child.once("exit", (code, signal) => {
            fail(new Error(`tidepool-server exited early (code ${code}, signal ${signal})`));
        });
        rl.on("line", (line) => {
            const m = LISTEN_RE.exec(line.trim());
            if (m) {
                clearTimeout(timer);
                child.removeAllListeners("exit");
                child.removeListener("error", fail);
                // keep draining stdout so the server never blocks on a full pipe
                rl.removeAllListeners("line");
                child.stdout.resume();
                resolve(Number(m[1]));
            }
        });
    });

    const httpUrl = `http://127.0.0.1:${port}`;
    const wsUrl = `ws://127.0.0.1:${port}`;
    return {
        port,
        dir,
        dbPath,
        httpUrl,
        wsUrl,
        url(proto) {
            if (proto === "http") return httpUrl;
            if (proto === "ws") return wsUrl;
            throw new Error(`unknown protocol ${proto}`);
        },
        stderr() {
            return stderrBuf;
        },
        async stop() {
            if (child.exitCode === null && child.signalCode === null) {
                const exited = new Promise((resolve) => child.once("exit", resolve));
                child.kill("SIGTERM");
                const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
                await exited;
                clearTimeout(t);
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

function b64url(buf) {
    return Buffer.from(buf).toString("base64url");
}

/** A fresh Ed25519 key pair; publicKeyPem is SPKI PEM as the server expects. */
export function genKeyPair() {
    const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
    return {
        publicKey,
        privateKey,
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }),
    };
}

/** Mint an EdDSA JWT with the given claims, e.g. { a: "rw" } or { a: "ro", exp }. */
export function mintToken(privateKey, claims) {
    const header = b64url(JSON.stringify({ alg: "EdDSA", typ: "JWT" }));
    const payload = b64url(JSON.stringify(claims));
    const signingInput = `${header}.${payload}`;
    const sig = crypto.sign(null, Buffer.from(signingInput), privateKey);
    return `${signingInput}.${b64url(sig)}`;
}

/** Per-protocol unique table-name prefix so the http and ws suites never collide. */
export function tableName(proto, base) {
    return `${base}_${proto.replaceAll("-", "_")}`;
}

/** Assert that `promise` rejects; return the error. */
export async function rejects(promise) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    throw new Error("expected the promise to reject, but it resolved");
}
