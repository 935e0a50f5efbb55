#!/usr/bin/env bash
# Swift binding benchmark: what the Swift API costs over the Rust client it wraps. Builds
# release binaries (tidepool-server, client-compare, the uniffi cdylib, and the Swift package's
# tidepool-swift-bench inside the trixie root), starts ONE server, and runs client-compare's
# `select/seq` scenario (`SELECT ?`, one connection, one request at a time) through the Rust
# crate and through Swift, over HTTP and WebSocket, against that server in one run. Prints both
# and the ratios.
#
# Usage: scripts/bench-swift.sh [requests] [warmup]          (default 5000 200)
#
# Everything stays on loopback; clients and server share the machine's cores.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
cache="${TIDEPOOL_SWIFT_CACHE:-$HOME/.cache/tidepool-swift}"
package="$(cd "$repo/bindings/swift" && pwd -P)"
requests="${1:-5000}"
warmup="${2:-200}"

log() { echo "== bench-swift: $*" >&2; }

bash scripts/swift-toolchain.sh >/dev/null
log "cargo build --release (server, client-compare, uniffi cdylib)"
cargo build --release --locked -p tidepool-server -p tidepool-bench
(cd bindings/uniffi && cargo build --release --locked --lib)
lib="$cache/release-lib"
mkdir -p "$lib"
cp "$CARGO_TARGET_DIR/release/libtidepool_uniffi.so" "$lib/"
# The committed bindings must match the crate (their checksums are checked at load).
bash scripts/swift-generate.sh --check

log "swift build -c release (inside the trixie root)"
export TIDEPOOL_CHROOT_BINDS="$repo:$cache:$package"
linker=(-Xlinker -L"$lib" -Xlinker -rpath -Xlinker "$lib")
(cd "$package" && bash "$repo/scripts/swift-chroot.sh" swift build -c release --product tidepool-swift-bench \
    --scratch-path "$cache/build-release" "${linker[@]}" >&2)

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
mkfifo "$work/out"
env $(env | sed -n 's/^\(TIDEPOOL_[A-Za-z0-9_]*\)=.*/-u \1/p') \
    "$CARGO_TARGET_DIR/release/tidepool-server" --http-listen-addr 127.0.0.1:0 --db-path "$work/bench.db" \
    >"$work/out" 2>"$work/server.log" &
server_pid=$!
exec 3<"$work/out"
read -r -t 30 line <&3 || { cat "$work/server.log" >&2; exit 1; }
cat <&3 >/dev/null &
url="${line##* on }"
log "server $url, $(nproc) cores; $(uptime)"

log "Rust client (client-compare select/seq)"
"$CARGO_TARGET_DIR/release/client-compare" --url "$url" --no-node --requests "$requests" --warmup "$warmup" \
    --concurrent-requests 1000 --batch-rounds 1 --json "$work/rust.json" >/dev/null
log "Swift binding (tidepool-swift-bench)"
(cd "$package" && bash "$repo/scripts/swift-chroot.sh" \
    "$cache/build-release/release/tidepool-swift-bench" "$url" "$requests" "$warmup") >"$work/swift.jsonl"

python3 - "$work/rust.json" "$work/swift.jsonl" <<'PY'
import json, sys
rust = {r["scenario"]: r for r in json.load(open(sys.argv[1]))["results"]}
swift = {r["scenario"]: r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'select/seq':<6} | {'Rust p50':>10} {'ops/s':>8} | {'Swift p50':>10} {'ops/s':>8} | Swift/Rust p50  ops/s")
for via in ("http", "ws"):
    r, s = rust[f"tidepool/{via}/select/seq"], swift[f"swift/{via}/select/seq"]
    print(f"{via:<10} | {r['p50_us']:8.1f}µs {r['ops_per_sec']:8.0f} | {s['p50_us']:8.1f}µs {s['ops_per_sec']:8.0f} |"
          f" {s['p50_us'] / r['p50_us']:5.2f}x  {s['ops_per_sec'] / r['ops_per_sec']:5.2f}x")
print("p50 ratio above 1.0x: Swift is slower by that factor; ops/s ratio below 1.0x: Swift does fewer.")
PY
log "$(uptime)"
