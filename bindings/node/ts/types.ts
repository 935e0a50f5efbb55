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
  /** A replica's background sync period, in seconds (offline: also soon after each write). */
  syncInterval?: number;
  /** With a `file:` url and a `syncUrl`: writes commit on the device and sync pushes them
   * (the first `sync()` must reach the server: it copies its tables). */
  offline?: boolean;
  /** Offline: how conflicts are decided, for every table or per table (with a `default`).
   * `"column_lww"` (the default: the later write wins each column), `"server_wins"` or
   * `"client_wins"`. Ignored when a `conflictResolver` is set. */
  conflictPolicy?: ConflictPolicy | ({ [table: string]: ConflictPolicy } & { default?: ConflictPolicy });
  /** Offline: decides each conflict during sync (never called for refused changes). It runs
   * while the sync waits, so it must be synchronous; if it throws or returns anything else
   * than a `Resolution`, the server's version stays and a warning is emitted. The conflict
   * it gets is not stored or decided yet: its `id` is 0, and `rule` and `outcome` are
   * placeholders (`conflicts()` later shows rule `"resolver"` and the outcome). */
  conflictResolver?: (conflict: Conflict) => Resolution;
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
      /** Offline: local changes pushed to the server. */
      changesPushed: number;
      /** Offline: conflicts and refused changes this sync recorded. */
      conflicts: number;
      /** Tables whose rows this sync changed on the device, sorted. */
      tablesChanged: string[];
    }
  | undefined;

/** A local or remote client's change: one statement, an atomic batch (or migration), a
 * script (`executeMultiple`, whose rows are not counted) or a committed transaction. */
export type ChangeKind = "statement" | "batch" | "script" | "commit";

/** A committed change (Tidepool's addition: `client.subscribe`). On an offline client or a
 * replica: the tables a commit (on any connection of the client) or a sync changed. On a
 * local or remote client, which hears only the calls made through it: what the call was. */
export interface Change {
  /** The tables changed, sorted; `null` on a local or remote client. */
  tables: string[] | null;
  /** `"local"`: a write committed on this device; `"remote"`: changes a sync brought. */
  origin: "local" | "remote";
  /** Local or remote client only. */
  kind?: ChangeKind;
  /** Local or remote client only: rows inserted, updated or deleted (0 for a script). */
  rowsAffected?: number;
}

/** Options of `client.subscribe`. */
export interface SubscribeOptions {
  /** Offline client or replica: only changes to these tables. */
  tables?: string[];
}

/** How an offline client decides a table's conflicts when no resolver is set. */
export type ConflictPolicy = "column_lww" | "server_wins" | "client_wins";

/** A row as column → value. */
export type RowImage = Record<string, Value>;

/** A conflict or a change the server refused, kept until resolved (`client.conflicts()`). */
export interface Conflict {
  id: number;
  table: string;
  /** The row's key values (its primary key's columns, or the rowid). */
  key: Value[];
  kind: "update_update" | "insert_insert" | "update_deleted" | "delete_updated" | "rejected";
  /** What decided it. */
  rule: "column_lww" | "server_wins" | "client_wins" | "resolver" | "rejected";
  /** Whose version the row has now. */
  outcome: "local" | "remote" | "merged";
  /** The columns both sides wrote. */
  columns: string[];
  /** The device's version (`null` for a delete). */
  local: RowImage | null;
  /** The server's version when the change arrived (`null` if it had no such row). */
  remote: RowImage | null;
  /** The row before the device's write (`null` for an insert). */
  base: RowImage | null;
  /** A refused change: the server's error. */
  error: { code: string; message: string } | null;
  /** When the device made its write. */
  writtenAt: Date;
}

/** How a conflict is settled: the device's version, the server's, or this row (columns
 * left out keep their current values). */
export type Resolution = "local" | "remote" | { merge: Record<string, InValue> };

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
  /** Offline: local changes waiting to be pushed, as of the last sync. */
  pendingChanges: number;
  /** Offline: unresolved conflicts, as of the last sync. */
  conflicts: number;
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
  /** Tidepool, offline: the recorded conflicts and refused changes, oldest first. */
  conflicts(): Promise<Conflict[]>;
  /** Tidepool, offline: settles a conflict; `"local"` and a merge are written as a new local
   * change that the next sync pushes. */
  resolveConflict(id: number, resolution: Resolution): Promise<void>;
  /** Tidepool, offline: how many local changes wait to be pushed. */
  pendingChanges(): Promise<number>;
  /** Tidepool, replica or offline: waits for the next sync (background or explicit) to end. */
  waitForSync(): Promise<SyncStatus>;
  /** Tidepool: calls `listener` after committed changes (see `Change`); returns a function
   * that unsubscribes. */
  subscribe(listener: (change: Change) => void, options?: SubscribeOptions): () => void;
  close(): void;
  reconnect(): void;
  closed: boolean;
  protocol: string;
}
