/** The public types, the same as @libsql/client's so code written for it type-checks here. */

/** How integers are returned: as numbers (a `RangeError` beyond 2^53), bigints or strings. */
export type IntMode = "number" | "bigint" | "string";

export interface Config {
  /** `libsql:`, `http(s):`, `ws(s):`, `file:` or `:memory:`. */
  url: string;
  /** The JWT sent to the server. */
  authToken?: string;
  /** Replicas are not available yet: a `syncUrl` is refused with `SYNC_NOT_SUPPORTED`. */
  syncUrl?: string;
  syncInterval?: number;
  offline?: boolean;
  /** Whether a `libsql:` URL uses TLS (default true). */
  tls?: boolean;
  /** Integers as numbers (default), bigints or strings. */
  intMode?: IntMode;
  /** The most calls in flight at once (default 20). */
  concurrency?: number | undefined;
  /** Accepted for compatibility and ignored (the core's own timeouts apply). */
  timeout?: number;
  encryptionKey?: string;
  readYourWrites?: boolean;
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

export type Replicated = { frame_no: number; frames_synced: number } | undefined;

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
  close(): void;
  reconnect(): void;
  closed: boolean;
  protocol: string;
}
