/** The client and its transactions: argument checks and shapes in TypeScript, everything
 * else in the Rust core through the native module. */
import { expandConfig } from "./config";
import { LibsqlError, mapError } from "./errors";
import { native, type NativeDatabase, type NativeTransaction, type RawStmt } from "./native";
import { resultSet } from "./result";
import type {
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

/** @libsql/client's `Client` on the Tidepool core. */
export class TidepoolClient implements Client {
  #db: NativeDatabase;
  #open: () => NativeDatabase;
  /** Transactions begun and not yet ended (local statements run inline only when none is). */
  #transactions = 0;
  #local: boolean;
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
    return resultSet(raw);
  }

  async batch(stmts: Array<InStatement | [string, InArgs?]>, m?: TransactionMode): Promise<ResultSet[]> {
    const db = this.#check();
    const raw = await db.batch(statements(stmts), mode(m, "deferred")).catch(rethrow);
    return raw.map(resultSet);
  }

  async migrate(stmts: Array<InStatement>): Promise<ResultSet[]> {
    const db = this.#check();
    const raw = await db.migrate(statements(stmts)).catch(rethrow);
    return raw.map(resultSet);
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
    return new TidepoolTransaction(tx, () => {
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
  }

  /** A replica pulls what changed on the server (the first sync copies everything); any
   * other client fails with `SYNC_NOT_SUPPORTED`, as @libsql/client's remote clients do. */
  async sync(): Promise<Replicated> {
    const db = this.#check();
    if (db.kind() !== "replica") {
      throw new LibsqlError("sync() needs an embedded replica (a file: url with a syncUrl)", "SYNC_NOT_SUPPORTED");
    }
    const r = await db.sync().catch(rethrow);
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

/** An interactive transaction on a connection of its own. */
export class TidepoolTransaction implements Transaction {
  #tx: NativeTransaction;
  #ended: () => void;

  /** @internal */
  constructor(tx: NativeTransaction, ended: () => void) {
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

  async execute(stmtOrSql: InStatement, a?: InArgs): Promise<ResultSet> {
    const tx = this.#check();
    const [sql, values, names] = statement(stmtOrSql, a);
    return resultSet(await tx.execute(sql, values, names).catch(rethrow));
  }

  async batch(stmts: Array<InStatement | [string, InArgs?]>): Promise<ResultSet[]> {
    const tx = this.#check();
    const raw = await tx.batch(statements(stmts)).catch(rethrow);
    return raw.map(resultSet);
  }

  async executeMultiple(sql: string): Promise<void> {
    const tx = this.#check();
    if (typeof sql !== "string") throw new TypeError("executeMultiple takes an SQL string");
    await tx.executeMultiple(sql).catch(rethrow);
  }

  /** Rolls back; a no-op once the transaction is closed. */
  async rollback(): Promise<void> {
    if (this.#tx.closed) return;
    try {
      await this.#tx.rollback();
    } catch (e) {
      throw mapError(e);
    } finally {
      this.#ended();
    }
  }

  async commit(): Promise<void> {
    const tx = this.#check();
    try {
      await tx.commit();
    } catch (e) {
      throw mapError(e);
    } finally {
      this.#ended();
    }
  }

  /** Ends the transaction at once, rolling it back unless it was committed. */
  close(): void {
    this.#tx.close();
    this.#ended();
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
