#!/usr/bin/env bash
# Compatibility suites: drive tidepool-server with STOCK libSQL clients from
# the registries (@libsql/client from npm, libsql-client from PyPI).
#
# Usage: scripts/test-peers.sh [node] [python]      (default: both)
#
# Environment:
#   TIDEPOOL_SERVER_BIN  server binary to test; if unset, `cargo build -p tidepool-server`
#                        is run and ${CARGO_TARGET_DIR:-<repo>/target}/debug/tidepool-server used
#   TIDEPOOL_VENV        Python venv for the Python suite (default: $HOME/.cache/tidepool-venv)
#   TIDEPOOL_PYTHON      interpreter used to create that venv (default: python3)
#
# Installs are skipped when already in place (node_modules stamped with a hash
# of package.json + package-lock.json; the venv checked against the pins), so a
# second run does no network work. Exits non-zero if any suite fails.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_dir="$repo/tests/peer/node"
py_dir="$repo/tests/peer/python"
venv="${TIDEPOOL_VENV:-$HOME/.cache/tidepool-venv}"
python="${TIDEPOOL_PYTHON:-python3}"

suites=("$@")
if [ "${#suites[@]}" -eq 0 ]; then
    suites=(node python)
fi
want() {
    local s
    for s in "${suites[@]}"; do
        [ "$s" = "$1" ] && return 0
    done
    return 1
}
for s in "${suites[@]}"; do
    case "$s" in
        node | python) ;;
        *)
            echo "test-peers: unknown suite '$s' (expected: node, python)" >&2
            exit 2
            ;;
    esac
done

log() { echo "== test-peers: $*" >&2; }

hash_of() {
    # hash of the given files' contents
    { cat "$@"; } | sha256sum | cut -d' ' -f1
}

# --- node: npm ci, only when package-lock.json changed ---------------------
install_node() {
    command -v node >/dev/null || { echo "test-peers: node is not installed" >&2; exit 1; }
    command -v npm >/dev/null || { echo "test-peers: npm is not installed" >&2; exit 1; }
    local stamp="$node_dir/node_modules/.tidepool-stamp"
    local want_hash
    want_hash="$(hash_of "$node_dir/package.json" "$node_dir/package-lock.json")-$(node --version)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_hash" ]; then
        log "node deps up to date"
        return
    fi
    log "npm ci in tests/peer/node"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want_hash" >"$stamp"
}

# --- python: venv + pip install -r, only when requirements changed ---------
install_python() {
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
        command -v "$python" >/dev/null || { echo "test-peers: $python is not installed" >&2; exit 1; }
        log "creating venv at $venv with $("$python" --version 2>&1)"
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        "$python" -m venv "$venv"
    fi
    # The venv may be shared with other tooling, so rather than trusting a
    # stamp, check that every pinned name==version is what is installed.
    if "$venv/bin/python" - "$py_dir/requirements.txt" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, pinned = line.partition("==")
    try:
        ok = ok and version(name.strip()) == pinned.strip()
    except PackageNotFoundError:
        ok = False
sys.exit(0 if ok else 1)
PY
    then
        log "python deps up to date"
        return
    fi
    log "pip install -r tests/peer/python/requirements.txt into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$py_dir/requirements.txt"
}

# --- server binary ---------------------------------------------------------
if [ -z "${TIDEPOOL_SERVER_BIN:-}" ]; then
    target="${CARGO_TARGET_DIR:-$repo/target}"
    case "$target" in
        /*) ;;
        *) target="$repo/$target" ;;
    esac
    log "cargo build -p tidepool-server"
    (cd "$repo" && cargo build -p tidepool-server)
    export TIDEPOOL_SERVER_BIN="$target/debug/tidepool-server"
fi
if [ ! -x "$TIDEPOOL_SERVER_BIN" ]; then
    echo "test-peers: server binary $TIDEPOOL_SERVER_BIN does not exist or is not executable" >&2
    exit 1
fi
log "server: $TIDEPOOL_SERVER_BIN"

want node && install_node
want python && install_python

status=0
if want node; then
    log "node suite (@libsql/client)"
    if ! (cd "$node_dir" && node --test --test-reporter=spec test/*.test.js); then
        log "node suite FAILED"
        status=1
    fi
fi
if want python; then
    log "python suite (libsql-client)"
    # -p no:cacheprovider: leave no .pytest_cache in the source tree
    if ! (cd "$py_dir" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q); then
        log "python suite FAILED"
        status=1
    fi
fi

if [ "$status" -eq 0 ]; then
    log "all peer suites passed"
else
    log "some peer suites failed"
fi
exit "$status"
