#!/usr/bin/env bash
# Client benchmark: builds release, starts ONE tidepool-server on 127.0.0.1:0 with a fresh
# database, and runs client-compare against it: the tidepool crate (HTTP and WebSocket), the
# libsql crate's remote client (HTTP), then the stock @libsql/client (bench/node, run by
# client-compare on the same server). Prints one table with tidepool's ratios to each.
#
# Usage: scripts/bench-client.sh [client-compare args...]
#   e.g. scripts/bench-client.sh --requests 2000 --concurrent-requests 5000
#
# Environment:
#   CARGO_TARGET_DIR   where cargo builds (default <repo>/target)
#   BENCH_OUT          directory for the JSON results (default: a temporary directory, printed)
#   BENCH_NODE=0       skip @libsql/client
#   BENCH_MEMORY=1     also run stream-memory (1,000,000 streamed rows per client) on the server
#
# Everything stays on loopback. Clients and server share the machine's cores; the load average
# before and after is printed with the figures.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in
    /*) ;;
    *) target="$repo/$target" ;;
esac

log() { echo "== bench-client: $*" >&2; }

log "cargo build --release -p tidepool-server -p tidepool-bench"
(cd "$repo" && cargo build --release -p tidepool-server -p tidepool-bench)

work="$(mktemp -d)"
out="${BENCH_OUT:-$work}"
mkdir -p "$out"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work/db"
}
trap cleanup EXIT

mkdir -p "$work/db"
fifo="$work/server.out"
mkfifo "$fifo"
"$target/release/tidepool-server" --http-listen-addr 127.0.0.1:0 --db-path "$work/db/bench.db" \
    >"$fifo" 2>"$work/server.log" &
server_pid=$!
exec 3<"$fifo"
if ! read -r -t 30 line <&3; then
    log "server did not start; its log:"
    cat "$work/server.log" >&2
    exit 1
fi
url="${line##* on }"
case "$url" in
    http://127.0.0.1:*) ;;
    *)
        log "unexpected first line from the server: $line"
        exit 1
        ;;
esac
log "server $url (pid $server_pid), $(nproc) cores; $(uptime)"

node_args=()
if [ "${BENCH_NODE:-1}" = "0" ]; then
    node_args+=(--no-node)
elif ! command -v node >/dev/null; then
    log "node is not installed; skipping @libsql/client"
    node_args+=(--no-node)
elif [ ! -d "$repo/bench/node/node_modules/@libsql/client" ]; then
    log "npm ci in bench/node"
    (cd "$repo/bench/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

log "client-compare"
"$target/release/client-compare" --url "$url" \
    --node-script "$repo/bench/node/libsql-client-bench.mjs" "${node_args[@]}" \
    --json "$out/client-compare.json" "$@" >"$work/compare.txt"

if [ "${BENCH_MEMORY:-0}" = "1" ]; then
    log "stream-memory"
    "$target/release/stream-memory" --url "$url" >"$work/memory.txt"
fi

echo
cat "$work/compare.txt"
if [ "${BENCH_MEMORY:-0}" = "1" ]; then
    echo
    cat "$work/memory.txt"
fi
echo
log "$(uptime)"
log "JSON results in $out"
