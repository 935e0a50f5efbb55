/** The public types, the same as @libsql/client's so code written for it type-checks here. */

/** How integers are returned: as numbers (a `RangeError` beyond 2^53), bigints or strings. */
export type IntMode = "number" | "bigint" | "string";

export interface Config {
  /** `libsql:`, `http(s):`, `ws(s):`, `file:` or `:memory:`. */
  url: string;
  /** The JWT sent to the server. */
  authToken?: string;
  /** With a `file:` url: a replica of this server in that file (reads local, writes on the
   * server, read-your-writes). */
  syncUrl?: string;
  /** A replica's background sync period, in seconds. */
  syncInterval?: number;
  /** Offline writes are not supported yet: `true` is refused with `OFFLINE_NOT_SUPPORTED`. */
  offline?: boolean;
  /** Whether a `libsql:` URL uses TLS (default true). */
  tls?: boolean;
  /** Integers as numbers (default), bigints or strings. */
  intMode?: IntMode;
  /** The most calls in flight at once (default 20). */
  concurrency?: number | undefined;
  /** Accepted for compatibility and ignored (the core's own timeouts apply). */
  timeout?: number;
  /** Not supported yet: refused with `ENCRYPTION_NOT_SUPPORTED` rather than ignored. */
  encryptionKey?: string;
  /** Accepted and ignored: a replica always reads its own writes. */
  readYourWrites?: boolean;
  /** Accepted and ignored: the core makes its own HTTP requests. */
  fetch?: Function;
}

export type Value = null | string | number | bigint | ArrayBuffer;
export type InValue = Value | boolean | Uint8Array | Date;
export type InArgs = Array<InValue> | Record<string, InValue>;
export type InStatement = { sql: string; args?: InArgs } | string;
export type TransactionMode = "write" | "read" | "deferred";

/** A row: an array-like of values whose columns are also (enumerable) properties by name. */
export interface Row {
  length: number;
  [index: number]: Value;
  [name: string]: Value;
}

export interface ResultSet {
  columns: Array<string>;
  columnTypes: Array<string>;
  rows: Array<Row>;
  rowsAffected: number;
  lastInsertRowid: bigint | undefined;
  toJSON(): any;
}

/** What `sync()` did: @libsql/client's `frame_no` (the replica's position in the server's
 * change stream) and `frames_synced` (rows and changes applied), and Tidepool's details. */
export type Replicated =
  | {
      frame_no: number;
      frames_synced: number;
      rowsCopied: number;
      tablesCopied: number;
      copiesResumed: number;
      tablesDropped: number;
      changesApplied: number;
      position: number;
      serverPosition: number;
    }
  | undefined;

/** What a committed change was: one statement, an atomic batch (or migration), a script
 * (`executeMultiple`, whose rows are not counted), a committed transaction, or a sync that
 * brought changes from the server. */
export type ChangeKind = "statement" | "batch" | "script" | "commit" | "sync";

/** A committed change made through this client (Tidepool's addition: `client.subscribe`). */
export interface Change {
  kind: ChangeKind;
  /** Rows inserted, updated or deleted (for a sync: rows copied and changes applied; 0 for a
   * script, whose rows are not counted). */
  rowsAffected: number;
}

/** Where a replica's syncing stands (Tidepool's addition: `client.syncStatus()`). */
export interface SyncStatus {
  /** Whether the first copy has completed (reads before it see an empty database). */
  bootstrapped: boolean;
  /** The replica's position in the server's change stream. */
  position: number;
  /** The server's position when last seen; the difference is how far behind the replica was. */
  serverPosition: number;
  /** When the last successful sync ended. */
  lastSyncedAt: Date | null;
  lastDurationMs: number | null;
  /** The last sync's error, if it failed. */
  lastError: import("./errors").LibsqlError | null;
  syncing: boolean;
  /** Successful syncs since the client was created. */
  syncs: number;
}

export interface Transaction {
  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  batch(stmts: Array<InStatement | [string, InArgs?]>): Promise<Array<ResultSet>>;
  executeMultiple(sql: string): Promise<void>;
  rollback(): Promise<void>;
  commit(): Promise<void>;
  close(): void;
  closed: boolean;
}

export interface Client {
  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  batch(stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode): Promise<Array<ResultSet>>;
  migrate(stmts: Array<InStatement>): Promise<Array<ResultSet>>;
  transaction(mode?: TransactionMode): Promise<Transaction>;
  executeMultiple(sql: string): Promise<void>;
  sync(): Promise<Replicated>;
  /** Tidepool: a replica's sync state; `null` for a client that is not a replica. */
  syncStatus(): SyncStatus | null;
  /** Tidepool: calls `listener` after every committed change made through this client (and
   * each sync that brought changes); returns a function that unsubscribes. */
  subscribe(listener: (change: Change) => void): () => void;
  close(): void;
  reconnect(): void;
  closed: boolean;
  protocol: string;
}
