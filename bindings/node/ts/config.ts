/** `createClient`'s configuration checked and expanded as @libsql/client does it. */
import { LibsqlError } from "./errors";
import type { Config, ConflictPolicy, IntMode } from "./types";

export interface Expanded {
  /** The URL the core takes (no query string for remote URLs); a replica's server URL. */
  url: string;
  authToken: string | null;
  intMode: IntMode;
  concurrency: number;
  /** A replica's local file. */
  replicaPath: string | null;
  /** A replica's background sync period, in seconds. */
  syncInterval: number | null;
  /** An offline database's conflict policies (the replica is then an offline database). */
  offline: OfflinePolicies | null;
}

/** As the native module takes them. */
export interface OfflinePolicies {
  policies: Record<string, ConflictPolicy>;
  defaultPolicy?: ConflictPolicy;
}

const POLICIES = new Set(["column_lww", "server_wins", "client_wins"]);

function badConfig(message: string): LibsqlError {
  return new LibsqlError(message, "INVALID_CONFIG");
}

function checkPolicy(p: unknown, where: string): ConflictPolicy {
  if (typeof p !== "string" || !POLICIES.has(p)) {
    throw badConfig(
      `Unknown conflict policy ${JSON.stringify(p)} for ${where}: expected "column_lww", "server_wins" or "client_wins"`,
    );
  }
  return p as ConflictPolicy;
}

/** `conflictPolicy`: one policy for every table, or policies by table and a `default`. */
function offlinePolicies(config: Config): OfflinePolicies {
  const p = config.conflictPolicy;
  if (p === undefined) return { policies: {} };
  if (typeof p === "string") return { policies: {}, defaultPolicy: checkPolicy(p, "every table") };
  if (typeof p !== "object" || p === null || Array.isArray(p)) {
    throw badConfig(`conflictPolicy must be a policy name or an object of them by table, got ${JSON.stringify(p)}`);
  }
  const policies: Record<string, ConflictPolicy> = {};
  let defaultPolicy: ConflictPolicy | undefined;
  for (const [table, policy] of Object.entries(p)) {
    if (table === "default") defaultPolicy = checkPolicy(policy, "the default");
    else policies[table] = checkPolicy(policy, `table ${JSON.stringify(table)}`);
  }
  return defaultPolicy === undefined ? { policies } : { policies, defaultPolicy };
}

const REMOTE = new Set(["libsql:", "http:", "https:", "ws:", "wss:"]);

export function expandConfig(config: Config): Expanded {
  if (typeof config !== "object" || config === null) {
    throw new TypeError(`Expected client configuration as object, got ${typeof config}`);
  }
  const intMode = config.intMode ?? "number";
  if (intMode !== "number" && intMode !== "bigint" && intMode !== "string") {
    throw new TypeError(
      `Invalid value for intMode, expected "number", "bigint" or "string", got ${JSON.stringify(intMode)}`,
    );
  }
  if (typeof config.url !== "string") {
    throw new TypeError(`Expected config.url to be a string, got ${typeof config.url}`);
  }
  const encrypted = config as { encryptionKey?: unknown; remoteEncryptionKey?: unknown };
  if (encrypted.encryptionKey !== undefined || encrypted.remoteEncryptionKey !== undefined) {
    // Ignoring a key would leave the data in the clear while the caller believes otherwise.
    throw new LibsqlError("Encrypted databases are not supported yet", "ENCRYPTION_NOT_SUPPORTED");
  }
  const offline = config.offline === true;
  if (config.offline !== undefined && typeof config.offline !== "boolean") {
    throw new TypeError(`Expected config.offline to be a boolean, got ${typeof config.offline}`);
  }
  if (!offline && (config.conflictPolicy !== undefined || config.conflictResolver !== undefined)) {
    throw badConfig("conflictPolicy and conflictResolver need an offline client (offline: true)");
  }
  if (config.conflictResolver !== undefined && typeof config.conflictResolver !== "function") {
    throw new TypeError(`Expected config.conflictResolver to be a function, got ${typeof config.conflictResolver}`);
  }
  const policies = offline ? offlinePolicies(config) : null;
  const concurrency = Math.max(1, config.concurrency || 20);
  const url = config.url;
  if (url === ":memory:" || url.startsWith("file:")) {
    if (url.includes("#")) {
      throw new LibsqlError(`URL fragments are not supported: ${JSON.stringify(url)}`, "URL_INVALID");
    }
    if (config.syncUrl === undefined) {
      if (offline) throw badConfig("An offline client needs a syncUrl: the server it syncs with");
      return { url, authToken: null, intMode, concurrency, replicaPath: null, syncInterval: null, offline: null };
    }
    if (url === ":memory:" || url.startsWith("file::memory:")) {
      throw new LibsqlError(
        `An ${offline ? "offline client" : "embedded replica"} needs a file, not an in-memory database`,
        "URL_INVALID",
      );
    }
    if (config.syncInterval !== undefined && !(typeof config.syncInterval === "number" && config.syncInterval > 0)) {
      throw new RangeError(`syncInterval must be a positive number of seconds, got ${String(config.syncInterval)}`);
    }
    const remote = expandRemote(config.syncUrl, config.authToken ?? null, config.tls);
    const replicaPath = url.startsWith("file://") ? new URL(url).pathname : url.slice("file:".length);
    return {
      ...remote,
      intMode,
      concurrency,
      replicaPath,
      syncInterval: config.syncInterval ?? null,
      offline: policies,
    };
  }
  if (offline) throw badConfig('An offline client needs a local "file:" url and a syncUrl');
  const remote = expandRemote(url, config.authToken ?? null, config.tls);
  return { ...remote, intMode, concurrency, replicaPath: null, syncInterval: null, offline: null };
}

/** A remote URL checked as @libsql/client checks it: its scheme, `authToken` and `tls`
 * parameters, and `libsql:` resolved to HTTPS (or HTTP with `tls=0`). */
function expandRemote(url: string, token: string | null, tlsOption: boolean | undefined): { url: string; authToken: string | null } {
  let authToken = token;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LibsqlError(`The URL ${JSON.stringify(url)} is not in a valid format`, "URL_INVALID");
  }
  if (!REMOTE.has(parsed.protocol)) {
    throw new LibsqlError(
      'The client supports only "libsql:", "wss:", "ws:", "https:", "http:" and "file:" URLs, ' +
        `got ${JSON.stringify(parsed.protocol)}`,
      "URL_SCHEME_NOT_SUPPORTED",
    );
  }
  if (parsed.hash !== "") {
    throw new LibsqlError(`URL fragments are not supported: ${JSON.stringify(parsed.hash)}`, "URL_INVALID");
  }
  let tls = tlsOption;
  for (const [key, value] of parsed.searchParams) {
    if (key === "authToken") {
      authToken = value;
    } else if (key === "tls") {
      if (value !== "0" && value !== "1") {
        throw new LibsqlError(
          `Unknown value for the "tls" query argument: ${JSON.stringify(value)}. Supported values are: ["0", "1"]`,
          "URL_INVALID",
        );
      }
      tls = value === "1";
    } else {
      throw new LibsqlError(`Unsupported URL query parameter ${JSON.stringify(key)}`, "URL_PARAM_NOT_SUPPORTED");
    }
  }
  let scheme = parsed.protocol;
  if (scheme === "libsql:") {
    if (tls === false) {
      if (parsed.port === "") {
        throw new LibsqlError('A "libsql:" URL with ?tls=0 must specify an explicit port', "URL_INVALID");
      }
      scheme = "http:";
    } else {
      scheme = "https:";
    }
  }
  const auth = parsed.username !== "" ? `${parsed.username}${parsed.password ? ":" + parsed.password : ""}@` : "";
  const core = `${scheme}//${auth}${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
  return { url: core, authToken };
}
