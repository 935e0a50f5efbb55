#!/usr/bin/env bash
# One benchmark run of the Python binding, side by side with its peers (see bench.py): builds
# the release server and the release extension module into the venv, starts one server on a
# temporary database, and prints ops/s and ratios with the load average.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
venv="${TIDEPOOL_PY_VENV:-$HOME/.cache/tidepool-py-venv}"

if [ ! -x "$venv/bin/maturin" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/../requirements.txt"
fi
(cd "$repo" && cargo build --release --locked -p tidepool-server)
(cd "$here/.." && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --locked -q)

tmp="$(mktemp -d)"
log="$tmp/server.log"
"$CARGO_TARGET_DIR/release/tidepool-server" --http-listen-addr 127.0.0.1:0 --db-path "$tmp/bench.db" >"$log" 2>&1 &
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
