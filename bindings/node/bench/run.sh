#!/usr/bin/env bash
# Builds release binaries (the native module and tidepool-server) and runs bench/bench.mjs
# once: Tidepool's Node client side by side with @libsql/client and better-sqlite3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
export npm_config_cache="${npm_config_cache:-$HOME/.cache/npm}"
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
# better-sqlite3 compiles from source here (no prebuilt binaries are reachable).
node -e 'require("better-sqlite3")' 2>/dev/null || npm rebuild better-sqlite3 --loglevel=error || true
npx tsc -p tsconfig.json
node scripts/build-native.mjs --release --out native/tidepool-release.node
(cd "$repo" && cargo build --release -p tidepool-server)
TIDEPOOL_NODE_NATIVE="$here/native/tidepool-release.node" \
    TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/release/tidepool-server" \
    node bench/bench.mjs
