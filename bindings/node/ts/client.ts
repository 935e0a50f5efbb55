/** The client and its transactions: argument checks and shapes in TypeScript, everything
 * else in the Rust core through the native module. */
import { expandConfig } from "./config";
import { LibsqlError, mapError } from "./errors";
import {
  native,
  type NativeDatabase,
  type NativeSubscription,
  type NativeSyncStatus,
  type NativeTransaction,
  type RawStmt,
} from "./native";
import { conflict, nativeResolver, rawResolution } from "./offline";
import { resultSet } from "./result";
import type {
  Change,
  ChangeKind,
  Client,
  Config,
  Conflict,
  InArgs,
  InStatement,
  Replicated,
  Resolution,
  ResultSet,
  SubscribeOptions,
  SyncStatus,
  Transaction,
  TransactionMode,
} from "./types";

type Args = [unknown[] | null, string[] | null];

function args(a: InArgs | undefined | null): Args {
  if (a === undefined || a === null) return [null, null];
  if (Array.isArray(a)) return [a, null];
  if (typeof a === "object") {
    const names = Object.keys(a);
    const values = new Array<unknown>(names.length);
    for (let i = 0; i < names.length; i++) values[i] = a[names[i]];
    return [values, names];
  }
  throw new TypeError(`Statement arguments must be an array or an object, got ${typeof a}`);
}

/** `execute`'s two forms as `[sql, values, names]`. */
function statement(stmtOrSql: InStatement, a?: InArgs): RawStmt {
  if (typeof stmtOrSql === "string") {
    return [stmtOrSql, ...args(a)];
  }
  if (typeof stmtOrSql === "object" && stmtOrSql !== null && typeof stmtOrSql.sql === "string") {
    return [stmtOrSql.sql, ...args(stmtOrSql.args)];
  }
  throw new TypeError("A statement must be an SQL string or an object { sql: string, args? }");
}

/** A batch's statements: strings, `{ sql, args }` or `[sql, args]`. */
function statements(stmts: Array<InStatement | [string, InArgs?]>): RawStmt[] {
  if (!Array.isArray(stmts)) {
    throw new TypeError("A batch takes an array of statements");
  }
  return stmts.map((s) => (Array.isArray(s) ? statement(s[0], s[1]) : statement(s)));
}

function mode(m: unknown, fallback: TransactionMode): TransactionMode {
  const value = m ?? fallback;
  if (value !== "write" && value !== "read" && value !== "deferred") {
    throw new RangeError('Unknown transaction mode, supported values are "write", "read" and "deferred"');
  }
  return value;
}

type Listener = (change: Change) => void;

function callListener(listener: Listener, change: Change): void {
  try {
    listener(change);
  } catch (e) {
    process.emitWarning(e instanceof Error ? e : new Error(String(e)), "TidepoolChangeListenerWarning");
  }
}

/** A local or remote client's listeners, called after the call that made the change has
 * settled. Neither SQLite files nor the server push changes, so this reports the committed
 * writes made through this client. */
class Changes {
  #listeners = new Set<Listener>();

  subscribe(listener: Listener): () => void {
    if (typeof listener !== "function") throw new TypeError("subscribe takes a function");
    // A wrapper, so the same function subscribed twice is called twice and unsubscribes once.
    const entry: Listener = (c) => listener(c);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  emit(kind: ChangeKind, rowsAffected: number): void {
    if (this.#listeners.size === 0) return;
    const change: Change = { tables: null, origin: "local", kind, rowsAffected };
    for (const listener of [...this.#listeners]) {
      setImmediate(() => callListener(listener, change));
    }
  }
}

/** A subscription to an offline client's or a replica's database (the core's change
 * notifications: every connection's commits and every sync), kept so `reconnect()` can
 * subscribe it again to the reopened database. */
class TableSubscription {
  #native: NativeSubscription | null = null;

  constructor(
    readonly listener: Listener,
    readonly tables: Set<string> | null,
  ) {}

  attach(db: NativeDatabase): void {
    const tables = this.tables;
    const listener = this.listener;
    this.#native = db.subscribe(([changed, origin]) => {
      if (tables !== null && !changed.some((t) => tables.has(t))) return;
      callListener(listener, { tables: changed, origin });
    });
  }

  detach(): void {
    this.#native?.close();
    this.#native = null;
  }
}

function status(s: NativeSyncStatus): SyncStatus {
  const e = s.lastError;
  return {
    bootstrapped: s.bootstrapped,
    position: s.position,
    serverPosition: s.serverPosition,
    lastSyncedAt: s.lastSyncedAt == null ? null : new Date(s.lastSyncedAt),
    lastDurationMs: s.lastDurationMs ?? null,
    lastError: e == null ? null : new LibsqlError(e.message, e.code, e.extendedCode ?? undefined),
    syncing: s.syncing,
    syncs: s.syncs,
    pendingChanges: s.pendingChanges,
    conflicts: s.conflicts,
  };
}

function affected(results: ResultSet[]): number {
  let n = 0;
  for (const r of results) n += r.rowsAffected;
  return n;
}

/** @libsql/client's `Client` on the Tidepool core. */
export class TidepoolClient implements Client {
  #db: NativeDatabase;
  #open: () => NativeDatabase;
  /** Transactions begun and not yet ended (local statements run inline only when none is). */
  #transactions = 0;
  #local: boolean;
  /** Whether the database is a replica or an offline one (the core reports its changes). */
  #synced: boolean;
  #changes = new Changes();
  #subscriptions = new Set<TableSubscription>();
  closed = false;
  readonly protocol: string;

  /** @internal */
  constructor(open: () => NativeDatabase) {
    this.#open = open;
    this.#db = open();
    this.protocol = this.#db.protocol();
    const kind = this.#db.kind();
    this.#local = kind === "local";
    this.#synced = kind === "replica" || kind === "offline";
  }

  #check(): NativeDatabase {
    if (this.closed) throw new LibsqlError("The client is closed", "CLIENT_CLOSED");
    return this.#db;
  }

  async execute(stmtOrSql: InStatement, a?: InArgs): Promise<ResultSet> {
    const db = this.#check();
    const [sql, values, names] = statement(stmtOrSql, a);
    let raw;
    try {
      // A local database with no transaction open on this client runs the statement inline:
      // nothing it can wait for needs this thread (a transaction could hold the connection it
      // needs, and its commit would have to come from here).
      raw =
        this.#local && this.#transactions === 0
          ? db.executeSync(sql, values, names)
          : await db.execute(sql, values, names);
    } catch (e) {
      throw mapError(e);
    }
    const rs = resultSet(raw);
    if (rs.rowsAffected > 0) this.#changes.emit("statement", rs.rowsAffected);
    return rs;
  }

  async batch(stmts: Array<InStatement | [string, InArgs?]>, m?: TransactionMode): Promise<ResultSet[]> {
    const db = this.#check();
    const raw = await db.batch(statements(stmts), mode(m, "deferred")).catch(rethrow);
    const results = raw.map(resultSet);
    const n = affected(results);
    if (n > 0) this.#changes.emit("batch", n);
    return results;
  }

  async migrate(stmts: Array<InStatement>): Promise<ResultSet[]> {
    const db = this.#check();
    const raw = await db.migrate(statements(stmts)).catch(rethrow);
    const results = raw.map(resultSet);
    this.#changes.emit("batch", affected(results));
    return results;
  }

  async transaction(m?: TransactionMode): Promise<Transaction> {
    const db = this.#check();
    this.#transactions++;
    let tx;
    try {
      tx = await db.transaction(mode(m, "write"));
    } catch (e) {
      this.#transactions--;
      throw mapError(e);
    }
    let ended = false;
    const changes = this.#changes;
    return new TidepoolTransaction(tx, (committed) => {
      if (committed !== null) changes.emit("commit", committed);
      if (!ended) {
        ended = true;
        this.#transactions--;
      }
    });
  }

  async executeMultiple(sql: string): Promise<void> {
    const db = this.#check();
    if (typeof sql !== "string") throw new TypeError("executeMultiple takes an SQL string");
    await db.executeMultiple(sql).catch(rethrow);
    this.#changes.emit("script", 0);
  }

  /** A replica pulls what changed on the server (the first sync copies everything); an
   * offline client pushes its local changes first, recording conflicts. Any other client
   * fails with `SYNC_NOT_SUPPORTED`, as @libsql/client's remote clients do. */
  async sync(): Promise<Replicated> {
    const db = this.#check();
    if (!this.#synced) {
      throw new LibsqlError("sync() needs an embedded replica (a file: url with a syncUrl)", "SYNC_NOT_SUPPORTED");
    }
    const r = await db.sync().catch(rethrow);
    return { frame_no: r.position, frames_synced: r.rowsCopied + r.changesApplied, ...r };
  }

  /** A replica's or offline client's sync state; `null` for other clients. */
  syncStatus(): SyncStatus | null {
    const s = this.#check().syncStatus();
    return s === null ? null : status(s);
  }

  /** Offline: the recorded conflicts and refused changes, oldest first, until resolved.
   * `UNSUPPORTED` on other clients. */
  async conflicts(): Promise<Conflict[]> {
    const raw = await this.#check().conflicts().catch(rethrow);
    return raw.map(conflict);
  }

  /** Offline: settles conflict `id` with the device's version (`"local"`), the server's
   * (`"remote"`) or a merged row; `INVALID_ARGUMENT` for an unknown id. */
  async resolveConflict(id: number, resolution: Resolution): Promise<void> {
    const db = this.#check();
    if (typeof id !== "number" || !Number.isSafeInteger(id)) {
      throw new TypeError(`A conflict id is an integer, got ${typeof id === "number" ? id : typeof id}`);
    }
    await db.resolveConflict(id, rawResolution(resolution)).catch(rethrow);
  }

  /** Offline: how many local changes wait to be pushed. `UNSUPPORTED` on other clients. */
  async pendingChanges(): Promise<number> {
    return this.#check().pendingChanges().catch(rethrow);
  }

  /** Replica or offline: waits until the next sync (background or explicit) has ended and
   * returns the status (its `lastError` says whether it worked). */
  async waitForSync(): Promise<SyncStatus> {
    return status(await this.#check().waitForSync().catch(rethrow));
  }

  /** Calls `listener` after committed changes. On an offline client or a replica: the
   * tables each commit (from any connection of this client) or sync changed, with its
   * origin, optionally only for some `tables`. On a local or remote client: each change
   * made through it (a statement that changed rows, a batch or migration, a script, a
   * committed transaction). Listeners run after the change, never inside a call; one that
   * throws is reported as a process warning. Returns a function that unsubscribes. */
  subscribe(listener: (change: Change) => void, options?: SubscribeOptions): () => void {
    const db = this.#check();
    if (typeof listener !== "function") throw new TypeError("subscribe takes a function");
    const tables = options?.tables;
    if (tables !== undefined && !(Array.isArray(tables) && tables.every((t) => typeof t === "string"))) {
      throw new TypeError("subscribe's tables option is an array of table names");
    }
    if (!this.#synced) {
      if (tables !== undefined) {
        throw new LibsqlError(
          "Filtering changes by table needs an offline client or a replica (a local or remote client does not know which tables a call changed)",
          "UNSUPPORTED",
        );
      }
      return this.#changes.subscribe(listener);
    }
    const sub = new TableSubscription(listener, tables === undefined ? null : new Set(tables));
    try {
      sub.attach(db);
    } catch (e) {
      throw mapError(e);
    }
    this.#subscriptions.add(sub);
    return () => {
      sub.detach();
      this.#subscriptions.delete(sub);
    };
  }

  /** Closes the client: later calls fail with `CLIENT_CLOSED`; open transactions go on;
   * subscriptions stop. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.#subscriptions) sub.detach();
    this.#db.close();
  }

  /** Opens the database again after `close()` (or drops idle connections); subscriptions
   * go on with the reopened database. */
  reconnect(): void {
    for (const sub of this.#subscriptions) sub.detach();
    this.#db.close();
    this.#db = this.#open();
    this.closed = false;
    for (const sub of this.#subscriptions) sub.attach(this.#db);
  }
}

function rethrow(e: unknown): never {
  throw mapError(e);
}

/** Codes that mean the server ended the transaction (rolled back): it is closed after them. */
const TRANSACTION_GONE = new Set(["TRANSACTION_LOST", "TRANSACTION_TIMEOUT", "STREAM_CLOSED", "STREAM_EXPIRED"]);

/** An interactive transaction on a connection of its own. */
export class TidepoolTransaction implements Transaction {
  #tx: NativeTransaction;
  #ended: (committed: number | null) => void;
  /** Rows changed so far, reported when the transaction commits. */
  #affected = 0;
  /** Whether a script ran (its rows are not counted, so it may have written). */
  #script = false;

  /** @internal */
  constructor(tx: NativeTransaction, ended: (committed: number | null) => void) {
    this.#tx = tx;
    this.#ended = ended;
  }

  get closed(): boolean {
    return this.#tx.closed;
  }

  #check(): NativeTransaction {
    if (this.#tx.closed) throw new LibsqlError("The transaction is closed", "TRANSACTION_CLOSED");
    return this.#tx;
  }

  /** Maps an error, and closes the transaction when the server has ended it. */
  #fail = (e: unknown): never => {
    const mapped = mapError(e);
    if (mapped instanceof LibsqlError && TRANSACTION_GONE.has(mapped.code)) this.close();
    throw mapped;
  };

  async execute(stmtOrSql: InStatement, a?: InArgs): Promise<ResultSet> {
    const tx = this.#check();
    const [sql, values, names] = statement(stmtOrSql, a);
    const rs = resultSet(await tx.execute(sql, values, names).catch(this.#fail));
    this.#affected += rs.rowsAffected;
    return rs;
  }

  async batch(stmts: Array<InStatement | [string, InArgs?]>): Promise<ResultSet[]> {
    const tx = this.#check();
    const raw = await tx.batch(statements(stmts)).catch(this.#fail);
    const results = raw.map(resultSet);
    this.#affected += affected(results);
    return results;
  }

  async executeMultiple(sql: string): Promise<void> {
    const tx = this.#check();
    if (typeof sql !== "string") throw new TypeError("executeMultiple takes an SQL string");
    await tx.executeMultiple(sql).catch(this.#fail);
    this.#script = true;
  }

  /** Rolls back; a no-op once the transaction is closed. */
  async rollback(): Promise<void> {
    if (this.#tx.closed) return;
    try {
      await this.#tx.rollback();
    } catch (e) {
      throw mapError(e);
    } finally {
      this.#ended(null);
    }
  }

  async commit(): Promise<void> {
    const tx = this.#check();
    let committed: number | null = null;
    try {
      await tx.commit();
      if (this.#affected > 0 || this.#script) committed = this.#affected;
    } catch (e) {
      throw mapError(e);
    } finally {
      this.#ended(committed);
    }
  }

  /** Ends the transaction at once, rolling it back unless it was committed. */
  close(): void {
    this.#tx.close();
    this.#ended(null);
  }
}

/** Creates a client, as @libsql/client's `createClient` does. */
export function createClient(config: Config): Client {
  const c = expandConfig(config);
  const { Database } = native();
  const resolver = config.conflictResolver === undefined ? null : nativeResolver(config.conflictResolver);
  return new TidepoolClient(() => {
    try {
      return new Database(
        c.url,
        c.authToken,
        c.concurrency,
        c.intMode,
        c.replicaPath,
        c.syncInterval,
        c.offline,
        resolver,
      );
    } catch (e) {
      const mapped = mapError(e);
      if (mapped instanceof LibsqlError && mapped.code === "INVALID_CONFIG") {
        throw new LibsqlError(mapped.message.replace(/^INVALID_CONFIG: /, ""), "URL_INVALID");
      }
      throw mapped;
    }
  });
}
