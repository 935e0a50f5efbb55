/**
 * @tidepool/client: a drop-in for @libsql/client on Tidepool's Rust core. Change the import;
 * `createClient`, `ResultSet`, rows, `intMode` and `LibsqlError` behave as there.
 *
 * ```ts
 * import { createClient } from "@tidepool/client";
 * const db = createClient({ url: "http://127.0.0.1:8080" });
 * const rs = await db.execute({ sql: "SELECT ? AS answer", args: [42] });
 * rs.rows[0].answer; // 42
 * ```
 */
export { createClient } from "./client";
export { LibsqlError, LibsqlBatchError } from "./errors";
export type {
  Change,
  ChangeKind,
  Client,
  Config,
  Conflict,
  ConflictPolicy,
  InArgs,
  InStatement,
  InValue,
  IntMode,
  Replicated,
  Resolution,
  ResultSet,
  Row,
  RowImage,
  SubscribeOptions,
  SyncStatus,
  Transaction,
  TransactionMode,
  Value,
} from "./types";
