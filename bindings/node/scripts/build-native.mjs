// Builds the native module with cargo and copies it to native/tidepool.node, where the
// package loads it. `--release` (or TIDEPOOL_NODE_RELEASE=1) for an optimised build;
// `--out FILE` copies it elsewhere (the benchmark loads a release build from its own file).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const release = process.argv.includes("--release") || process.env.TIDEPOOL_NODE_RELEASE === "1";
const args = ["build", "--locked", "--manifest-path", path.join(root, "Cargo.toml")];
if (release) args.push("--release");
execFileSync("cargo", args, { stdio: "inherit" });

const target = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, "target");
const lib = {
  linux: "libtidepool_node.so",
  darwin: "libtidepool_node.dylib",
  win32: "tidepool_node.dll",
}[process.platform];
if (lib === undefined) throw new Error(`unsupported platform ${process.platform}`);
mkdirSync(path.join(root, "native"), { recursive: true });
const from = path.join(target, release ? "release" : "debug", lib);
const out = process.argv.indexOf("--out");
const to = out > 0 ? path.resolve(process.argv[out + 1]) : path.join(root, "native", "tidepool.node");
copyFileSync(from, to);
console.log(`native module: ${from} -> ${to}`);
