/**
 * Loads the native module built from this package's Rust crate (`npm run build:native`
 * copies it to `native/tidepool.node`). Nothing is downloaded: a missing module is an error
 * saying how to build it. `TIDEPOOL_NODE_NATIVE` names another file to load.
 */
import * as path from "node:path";

/** One statement of a batch: SQL, then positional values or named values with their names. */
export type RawStmt = [string, unknown[] | null, string[] | null];

/** `[columns, columnTypes, rows, rowsAffected, lastInsertRowid, unsafeInt]`. */
export type RawResult = [string[], string[], unknown[][], number, bigint | undefined, boolean];

export interface NativeTransaction {
  execute(sql: string, args: unknown[] | null, names: string[] | null): Promise<RawResult>;
  batch(stmts: RawStmt[]): Promise<RawResult[]>;
  executeMultiple(sql: string): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): void;
  readonly closed: boolean;
}

export interface NativeSyncReport {
  rowsCopied: number;
  tablesCopied: number;
  copiesResumed: number;
  tablesDropped: number;
  changesApplied: number;
  position: number;
  serverPosition: number;
  changesPushed: number;
  conflicts: number;
  tablesChanged: string[];
}

export interface NativeSyncStatus {
  bootstrapped: boolean;
  position: number;
  serverPosition: number;
  lastSyncedAt?: number | null;
  lastDurationMs?: number | null;
  lastError?: { code: string; extendedCode?: string | null; message: string } | null;
  syncing: boolean;
  syncs: number;
  pendingChanges: number;
  conflicts: number;
}

/** A row image: `null` or `[names, values]`. */
export type RawImage = [string[], unknown[]] | null;

/** `[id, table, key, kind, rule, outcome, columns, local, remote, base, error, writtenAtMs,
 * unsafeInt]`. */
export type RawConflict = [
  number,
  string,
  unknown[],
  string,
  string,
  string,
  string[],
  RawImage,
  RawImage,
  RawImage,
  [string, string] | null,
  number,
  boolean,
];

/** A resolution as the native module takes it. */
export interface RawResolution {
  keep: "local" | "remote" | "merge";
  names?: string[];
  values?: unknown[];
}

export interface NativeSubscription {
  close(): void;
}

export interface NativeDatabase {
  protocol(): string;
  kind(): "local" | "offline" | "replica" | "remote";
  sync(): Promise<NativeSyncReport>;
  syncStatus(): NativeSyncStatus | null;
  execute(sql: string, args: unknown[] | null, names: string[] | null): Promise<RawResult>;
  executeSync(sql: string, args: unknown[] | null, names: string[] | null): RawResult;
  batch(stmts: RawStmt[], mode: string): Promise<RawResult[]>;
  migrate(stmts: RawStmt[]): Promise<RawResult[]>;
  executeMultiple(sql: string): Promise<void>;
  transaction(mode: string): Promise<NativeTransaction>;
  conflicts(): Promise<RawConflict[]>;
  resolveConflict(id: number, resolution: RawResolution): Promise<void>;
  pendingChanges(): Promise<number>;
  waitForSync(): Promise<NativeSyncStatus>;
  subscribe(listener: (change: [string[], "local" | "remote"]) => void): NativeSubscription;
  close(): void;
}

export interface NativeModule {
  Database: new (
    url: string,
    authToken: string | null,
    concurrency: number,
    intMode: string,
    replicaPath: string | null,
    syncIntervalSecs: number | null,
    offline: { policies: Record<string, string>; defaultPolicy?: string } | null,
    resolver: ((conflict: RawConflict) => RawResolution) | null,
  ) => NativeDatabase;
}

let loaded: NativeModule | undefined;

export function native(): NativeModule {
  if (loaded === undefined) {
    const file =
      process.env.TIDEPOOL_NODE_NATIVE ?? path.join(__dirname, "..", "..", "native", "tidepool.node");
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(file) as NativeModule;
    } catch (e) {
      throw new Error(
        `the Tidepool native module could not be loaded from ${file}; build it with ` +
          "`npm run build` in bindings/node",
        { cause: e },
      );
    }
  }
  return loaded;
}
