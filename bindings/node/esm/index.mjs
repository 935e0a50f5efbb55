// The ES module entry: the CommonJS build re-exported, so both entries share one set of
// classes (an error thrown through either is `instanceof` the same `LibsqlError`).
import cjs from "../dist/cjs/index.js";

export const { createClient, LibsqlError, LibsqlBatchError } = cjs;
