#!/usr/bin/env bash
# One benchmark run of the Python binding, side by side with its peers (see bench.py): builds
# the release server and a release wheel into a venv of its own, starts one server on a
# temporary database, and prints ops/s and ratios with the load average. TIDEPOOL_SERVER_BIN
# names a release server binary to use instead of building one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
# A venv of its own, so a test run installing its debug build cannot swap the module mid-run.
venv="${TIDEPOOL_PY_BENCH_VENV:-$HOME/.cache/tidepool-py-bench-venv}"

if [ ! -x "$venv/bin/maturin" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/../requirements.txt"
fi
server_bin="${TIDEPOOL_SERVER_BIN:-}"
if [ -z "$server_bin" ]; then
    (cd "$repo" && cargo build --release --locked -p tidepool-server)
    server_bin="$CARGO_TARGET_DIR/release/tidepool-server"
fi
tmp="$(mktemp -d)"
# A release wheel installed (not editable: the in-tree module is the test runs' debug build).
(cd "$here/.." && "$venv/bin/maturin" build --release --locked -q -o "$tmp/wheels")
"$venv/bin/python" -m pip install --disable-pip-version-check -q --force-reinstall --no-deps "$tmp"/wheels/*.whl

log="$tmp/server.log"
"$server_bin" --http-listen-addr 127.0.0.1:0 --db-path "$tmp/bench.db" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
port=""
for _ in $(seq 1 300); do
    port="$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)"
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "the server did not start" >&2; exit 1; }

"$venv/bin/python" "$here/bench.py" --server-url "http://127.0.0.1:$port" "$@"
