/** Result sets and rows in @libsql/client's shapes, from the native module's raw results. */
import type { RawResult } from "./native";
import type { ResultSet, Row, Value } from "./types";

class ResultSetImpl implements ResultSet {
  constructor(
    public columns: string[],
    public columnTypes: string[],
    public rows: Row[],
    public rowsAffected: number,
    public lastInsertRowid: bigint | undefined,
  ) {}

  /** Bigints as strings and blobs as base64, so `JSON.stringify` works. */
  toJSON(): unknown {
    return {
      columns: this.columns,
      columnTypes: this.columnTypes,
      rows: this.rows.map((row) => Array.prototype.map.call(row, jsonValue)),
      rowsAffected: this.rowsAffected,
      lastInsertRowid: this.lastInsertRowid === undefined ? null : String(this.lastInsertRowid),
    };
  }
}

function jsonValue(v: Value): unknown {
  if (typeof v === "bigint") return String(v);
  if (v instanceof ArrayBuffer) return Buffer.from(v).toString("base64");
  return v;
}

/** A row: values at non-enumerable indexes and `length`; the first column of each name as an
 * enumerable property (so spreading a row or `Object.keys` gives the column names). */
function makeRow(columns: string[], values: unknown[]): Row {
  const row = {} as Row;
  Object.defineProperty(row, "length", { value: values.length });
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    Object.defineProperty(row, i, { value });
    const name = columns[i];
    if (name !== undefined && !Object.prototype.hasOwnProperty.call(row, name)) {
      Object.defineProperty(row, name, { value, enumerable: true, configurable: true, writable: true });
    }
  }
  return row;
}

export function resultSet(raw: RawResult): ResultSet {
  const [columns, columnTypes, values, rowsAffected, lastInsertRowid, unsafeInt] = raw;
  if (unsafeInt) {
    throw new RangeError(
      "Received integer which is too large to be safely represented as a JavaScript number",
    );
  }
  const rows = new Array<Row>(values.length);
  for (let r = 0; r < values.length; r++) {
    rows[r] = makeRow(columns, values[r]);
  }
  return new ResultSetImpl(columns, columnTypes, rows, rowsAffected, lastInsertRowid);
}
