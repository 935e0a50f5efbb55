/**
 * Errors, shaped as @libsql/client's: `LibsqlError` with a machine-readable `code`, the
 * SQLite `extendedCode` and numeric `rawCode` when known, and a `cause`. Bad arguments are
 * `TypeError`s and `RangeError`s, as there.
 */

/** Every error the client reports about the database, the network or its own state. */
export class LibsqlError extends Error {
  /** A stable code: SQLite's primary code (`SQLITE_CONSTRAINT`), a server code
   * (`STREAM_EXPIRED`, `FORBIDDEN`) or a client code (`CLIENT_CLOSED`, `CONNECT_FAILED`). */
  code: string;
  /** The extended SQLite code (`SQLITE_CONSTRAINT_PRIMARYKEY`), when known. */
  extendedCode?: string;
  /** The numeric SQLite result code (extended when known), for SQLite errors. */
  rawCode?: number;

  constructor(message: string, code: string, extendedCode?: string, rawCode?: number, cause?: Error) {
    const prefixed = message.startsWith(`${code}: `) ? message : `${code}: ${message}`;
    super(prefixed, cause === undefined ? undefined : { cause });
    this.name = "LibsqlError";
    this.code = code;
    this.extendedCode = extendedCode;
    this.rawCode = rawCode;
  }
}

/** A failed statement of a batch. `statementIndex` is -1 when the server did not say which. */
export class LibsqlBatchError extends LibsqlError {
  statementIndex: number;

  constructor(
    message: string,
    statementIndex: number,
    code: string,
    extendedCode?: string,
    rawCode?: number,
    cause?: Error,
  ) {
    super(message, code, extendedCode, rawCode, cause);
    this.name = "LibsqlBatchError";
    this.statementIndex = statementIndex;
  }
}

const PRIMARY: Record<string, number> = {
  SQLITE_ERROR: 1, SQLITE_INTERNAL: 2, SQLITE_PERM: 3, SQLITE_ABORT: 4, SQLITE_BUSY: 5,
  SQLITE_LOCKED: 6, SQLITE_NOMEM: 7, SQLITE_READONLY: 8, SQLITE_INTERRUPT: 9,
  SQLITE_IOERR: 10, SQLITE_CORRUPT: 11, SQLITE_NOTFOUND: 12, SQLITE_FULL: 13,
  SQLITE_CANTOPEN: 14, SQLITE_PROTOCOL: 15, SQLITE_EMPTY: 16, SQLITE_SCHEMA: 17,
  SQLITE_TOOBIG: 18, SQLITE_CONSTRAINT: 19, SQLITE_MISMATCH: 20, SQLITE_MISUSE: 21,
  SQLITE_NOLFS: 22, SQLITE_AUTH: 23, SQLITE_FORMAT: 24, SQLITE_RANGE: 25, SQLITE_NOTADB: 26,
  SQLITE_NOTICE: 27, SQLITE_WARNING: 28,
};

/** Extended codes as (primary | n << 8), from SQLite's result-code list. */
const EXTENDED: Record<string, number> = {
  SQLITE_CONSTRAINT_CHECK: 19 | (1 << 8),
  SQLITE_CONSTRAINT_COMMITHOOK: 19 | (2 << 8),
  SQLITE_CONSTRAINT_FOREIGNKEY: 19 | (3 << 8),
  SQLITE_CONSTRAINT_FUNCTION: 19 | (4 << 8),
  SQLITE_CONSTRAINT_NOTNULL: 19 | (5 << 8),
  SQLITE_CONSTRAINT_PRIMARYKEY: 19 | (6 << 8),
  SQLITE_CONSTRAINT_TRIGGER: 19 | (7 << 8),
  SQLITE_CONSTRAINT_UNIQUE: 19 | (8 << 8),
  SQLITE_CONSTRAINT_VTAB: 19 | (9 << 8),
  SQLITE_CONSTRAINT_ROWID: 19 | (10 << 8),
  SQLITE_CONSTRAINT_PINNED: 19 | (11 << 8),
  SQLITE_CONSTRAINT_DATATYPE: 19 | (12 << 8),
  SQLITE_BUSY_RECOVERY: 5 | (1 << 8),
  SQLITE_BUSY_SNAPSHOT: 5 | (2 << 8),
  SQLITE_BUSY_TIMEOUT: 5 | (3 << 8),
  SQLITE_LOCKED_SHAREDCACHE: 6 | (1 << 8),
  SQLITE_LOCKED_VTAB: 6 | (2 << 8),
  SQLITE_READONLY_RECOVERY: 8 | (1 << 8),
  SQLITE_READONLY_CANTLOCK: 8 | (2 << 8),
  SQLITE_READONLY_ROLLBACK: 8 | (3 << 8),
  SQLITE_READONLY_DBMOVED: 8 | (4 << 8),
  SQLITE_READONLY_DIRECTORY: 8 | (6 << 8),
  SQLITE_ERROR_MISSING_COLLSEQ: 1 | (1 << 8),
  SQLITE_ERROR_RETRY: 1 | (2 << 8),
  SQLITE_ERROR_SNAPSHOT: 1 | (3 << 8),
  SQLITE_ABORT_ROLLBACK: 4 | (2 << 8),
};

function rawCodeOf(code: string, extendedCode: string | undefined): number | undefined {
  return (extendedCode !== undefined ? EXTENDED[extendedCode] : undefined) ?? PRIMARY[code];
}

/** Turns what the native module threw into the error @libsql/client would throw. */
export function mapError(e: unknown): unknown {
  if (!(e instanceof Error)) {
    return e;
  }
  const text = e.message;
  if (text.charCodeAt(0) !== 1) {
    // napi-rs's own argument checks (a string where a number was expected, ...).
    const status = (e as { code?: unknown }).code;
    if (typeof status === "string" && /Expected|InvalidArg/.test(status)) {
      return new TypeError(text);
    }
    return e;
  }
  const a = text.indexOf("\u0001", 1);
  const b = text.indexOf("\u0001", a + 1);
  const code = text.slice(1, a);
  const extended = text.slice(a + 1, b) || undefined;
  const message = text.slice(b + 1);
  switch (code) {
    case "ARG_TYPE":
      return new TypeError(message);
    case "ARG_RANGE":
      return new RangeError(message);
    default:
      return new LibsqlError(message, code, extended, rawCodeOf(code, extended));
  }
}
