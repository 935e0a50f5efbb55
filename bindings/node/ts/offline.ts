/** Offline clients: conflicts and resolutions between the native module's raw shapes and the
 * package's, and the wrapper that lets a JavaScript function decide conflicts during sync. */
import type { RawConflict, RawImage, RawResolution } from "./native";
import type { Conflict, Resolution, RowImage, Value } from "./types";

function image(raw: RawImage): RowImage | null {
  if (raw === null) return null;
  const [names, values] = raw;
  const row: RowImage = {};
  for (let i = 0; i < names.length; i++) row[names[i]] = values[i] as Value;
  return row;
}

/** A conflict as the application sees it. */
export function conflict(raw: RawConflict): Conflict {
  const [id, table, key, kind, rule, outcome, columns, local, remote, base, error, writtenAt, unsafeInt] = raw;
  if (unsafeInt) {
    throw new RangeError("Received integer which is too large to be safely represented as a JavaScript number");
  }
  return {
    id,
    table,
    key: key as Value[],
    kind: kind as Conflict["kind"],
    rule: rule as Conflict["rule"],
    outcome: outcome as Conflict["outcome"],
    columns,
    local: image(local),
    remote: image(remote),
    base: image(base),
    error: error === null ? null : { code: error[0], message: error[1] },
    writtenAt: new Date(writtenAt),
  };
}

/** A resolution as the native module takes it; a `TypeError` for anything else. */
export function rawResolution(r: Resolution): RawResolution {
  if (r === "local" || r === "remote") return { keep: r };
  if (typeof r === "object" && r !== null && typeof r.merge === "object" && r.merge !== null && !Array.isArray(r.merge)) {
    const names = Object.keys(r.merge);
    return { keep: "merge", names, values: names.map((n) => r.merge[n]) };
  }
  throw new TypeError(
    `A resolution is "local", "remote" or { merge: { column: value, ... } }, got ${describe(r)}`,
  );
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function warn(message: string, cause?: unknown): void {
  const e = new Error(message, cause === undefined ? undefined : { cause });
  e.name = "TidepoolResolverWarning";
  process.emitWarning(e);
}

/** The application's resolver as the native module calls it: it never throws; a resolver that
 * throws or answers something else keeps the server's version, with a process warning. */
export function nativeResolver(resolve: (c: Conflict) => Resolution): (raw: RawConflict) => RawResolution {
  return (raw) => {
    let answer: unknown;
    try {
      answer = resolve(conflict(raw));
    } catch (e) {
      warn(`the conflict resolver threw for a conflict on ${raw[1]} (key ${describe(raw[2])}); keeping the server's version`, e);
      return { keep: "remote" };
    }
    try {
      return rawResolution(answer as Resolution);
    } catch (e) {
      warn(
        `the conflict resolver returned ${describe(answer)} for a conflict on ${raw[1]} (key ${describe(raw[2])}); ` +
          "keeping the server's version",
        e,
      );
      return { keep: "remote" };
    }
  };
}
