/** `createClient`'s configuration checked and expanded as @libsql/client does it. */
import { LibsqlError } from "./errors";
import type { Config, IntMode } from "./types";

export interface Expanded {
  /** The URL the core takes (no query string for remote URLs). */
  url: string;
  authToken: string | null;
  intMode: IntMode;
  concurrency: number;
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
  if (config.syncUrl !== undefined) {
    throw new LibsqlError(
      "Embedded replicas (syncUrl) are not supported by this version of the Tidepool client",
      "SYNC_NOT_SUPPORTED",
    );
  }
  const concurrency = Math.max(1, config.concurrency || 20);
  let authToken = config.authToken ?? null;
  const url = config.url;
  if (url === ":memory:" || url.startsWith("file:")) {
    if (url.includes("#")) {
      throw new LibsqlError(`URL fragments are not supported: ${JSON.stringify(url)}`, "URL_INVALID");
    }
    return { url, authToken: null, intMode, concurrency };
  }
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
  let tls = config.tls;
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
  return { url: core, authToken, intMode, concurrency };
}
