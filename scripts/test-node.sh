#!/usr/bin/env bash
# The Node binding (bindings/node): lints its cargo workspace (fmt, clippy -D warnings),
# installs its npm dev dependencies (npm ci, cached under ~/.cache/npm; skipped when
# node_modules already matches package-lock.json), builds the native module and the
# TypeScript package, and runs its `node --test` suites against a real tidepool-server.
#
# Environment:
#   TIDEPOOL_SERVER_BIN  server binary (default: `cargo build -p tidepool-server`, debug)
#   CARGO_TARGET_DIR     cargo's build directory (default ~/.cache/tidepool-target)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo/bindings/node"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export npm_config_cache="${npm_config_cache:-$HOME/.cache/npm}"

log() { echo "== test-node: $*" >&2; }
command -v node >/dev/null || { echo "test-node: node is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "test-node: npm is required" >&2; exit 1; }

cd "$dir"
log "cargo fmt --check, clippy (bindings/node workspace)"
cargo fmt --all --check
cargo clippy --all-targets --locked -- -D warnings

# Install scripts are off: the suites need none (better-sqlite3, which compiles from source
# here, is only for the benchmark: bench/run.sh builds it).
stamp="node_modules/.tidepool-stamp"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)-$(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "npm dependencies up to date"
else
    log "npm ci"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
fi

log "build: native module (cargo, debug) and TypeScript"
node scripts/build-native.mjs
npx tsc -p tsconfig.json

if [ -z "${TIDEPOOL_SERVER_BIN:-}" ]; then
    log "cargo build -p tidepool-server"
    (cd "$repo" && cargo build -p tidepool-server --locked)
    export TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/debug/tidepool-server"
fi

log "node --test"
npm test
