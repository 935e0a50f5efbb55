#!/usr/bin/env bash
# Server benchmark: builds release, starts ONE tidepool-server on 127.0.0.1:0 with a fresh
# database, runs tidepool-loadgen (the Rust floor: hyper + tokio-tungstenite) and then the stock
# @libsql/client (bench/node) against that same server, and prints both tables.
#
# Usage: scripts/bench-server.sh [tidepool-loadgen args...]
#   e.g. scripts/bench-server.sh --requests 2000 --scenarios select
#
# Environment:
#   CARGO_TARGET_DIR   where cargo builds (default <repo>/target)
#   BENCH_OUT          directory for the JSON results (default: a temporary directory, printed)
#   BENCH_NODE=0       skip the @libsql/client run
#   BENCH_REQUESTS, BENCH_WARMUP, BENCH_CONCURRENCY   passed to both load generators
#
# Everything stays on loopback. Client and server share the machine's cores, so read the
# figures as "this box, both sides"; the core count is printed with them.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in
    /*) ;;
    *) target="$repo/$target" ;;
esac
requests="${BENCH_REQUESTS:-5000}"
warmup="${BENCH_WARMUP:-200}"
concurrency="${BENCH_CONCURRENCY:-64}"

log() { echo "== bench-server: $*" >&2; }

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
log "server $url (pid $server_pid), $(nproc) cores"

log "tidepool-loadgen"
"$target/release/tidepool-loadgen" --url "$url" --requests "$requests" --warmup "$warmup" \
    --concurrency "$concurrency" --json "$out/loadgen.json" "$@" >"$work/loadgen.txt"

node_ok=0
if [ "${BENCH_NODE:-1}" != "0" ]; then
    node_dir="$repo/bench/node"
    if ! command -v node >/dev/null; then
        log "node is not installed; skipping @libsql/client"
    else
        if [ ! -d "$node_dir/node_modules/@libsql/client" ]; then
            log "npm ci in bench/node"
            (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
        fi
        log "@libsql/client"
        (cd "$node_dir" && node libsql-client-bench.mjs --url "$url" --requests "$requests" \
            --warmup "$warmup" --concurrency "$concurrency" --json "$out/libsql-client.json") \
            >"$work/node.txt"
        node_ok=1
    fi
fi

echo
cat "$work/loadgen.txt"
if [ "$node_ok" = 1 ]; then
    echo
    cat "$work/node.txt"
fi
echo
log "JSON results in $out"
