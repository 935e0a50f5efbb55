/** The client and its transactions: argument checks and shapes in TypeScript, everything
 * else in the Rust core through the native module. */
import { expandConfig } from "./config";
import { LibsqlError, mapError } from "./errors";
import { native, type NativeDatabase, type NativeTransaction, type RawStmt } from "./native";
import { resultSet } from "./result";
import type {
  Change,
  ChangeKind,
  Client,
  Config,
  InArgs,
  InStatement,
  Replicated,
  ResultSet,
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

/** Listeners of one client, called after the call that made the change has settled. Neither
 * SQLite files nor the server push changes, so this reports what the client sees: its own
 * committed writes and what its syncs bring in. */
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
    const change: Change = { kind, rowsAffected };
    for (const listener of [...this.#listeners]) {
      setImmediate(() => {
        try {
          listener(change);
        } catch (e) {
          process.emitWarning(e instanceof Error ? e : new Error(String(e)), "TidepoolChangeListenerWarning");
        }
      });
    }
  }
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
  #changes = new Changes();
  closed = false;
  readonly protocol: string;

  /** @internal */
  constructor(open: () => NativeDatabase) {
    this.#open = open;
    this.#db = open();
    this.protocol = this.#db.protocol();
    this.#local = this.#db.kind() === "local";
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

  /** A replica pulls what changed on the server (the first sync copies everything); any
   * other client fails with `SYNC_NOT_SUPPORTED`, as @libsql/client's remote clients do. */
  async sync(): Promise<Replicated> {
    const db = this.#check();
    if (db.kind() !== "replica") {
      throw new LibsqlError("sync() needs an embedded replica (a file: url with a syncUrl)", "SYNC_NOT_SUPPORTED");
    }
    const r = await db.sync().catch(rethrow);
    if (r.rowsCopied + r.changesApplied > 0) this.#changes.emit("sync", r.rowsCopied + r.changesApplied);
    return { frame_no: r.position, frames_synced: r.rowsCopied + r.changesApplied, ...r };
  }

  /** A replica's sync state; `null` for a client that is not a replica. */
  syncStatus(): SyncStatus | null {
    const s = this.#check().syncStatus();
    if (s === null) return null;
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
    };
  }

  /** Calls `listener` after every committed change made through this client: a statement
   * that changed rows, a batch or migration, a script, a committed transaction, a sync that
   * brought changes. Listeners run after the call has settled, never inside it; one that
   * throws is reported as a process warning. Returns a function that unsubscribes. */
  subscribe(listener: (change: Change) => void): () => void {
    return this.#changes.subscribe(listener);
  }

  /** Closes the client: later calls fail with `CLIENT_CLOSED`; open transactions go on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#db.close();
  }

  /** Opens the database again after `close()` (or drops idle connections). */
  reconnect(): void {
    this.#db.close();
    this.#db = this.#open();
    this.closed = false;
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
  return new TidepoolClient(() => {
    try {
      return new Database(c.url, c.authToken, c.concurrency, c.intMode, c.replicaPath, c.syncInterval);
    } catch (e) {
      const mapped = mapError(e);
      if (mapped instanceof LibsqlError && mapped.code === "INVALID_CONFIG") {
        throw new LibsqlError(mapped.message.replace(/^INVALID_CONFIG: /, ""), "URL_INVALID");
      }
      throw mapped;
    }
  });
}
