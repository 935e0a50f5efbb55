#!/usr/bin/env bash
# The Python binding (bindings/python): installs its pinned tools and test dependencies into a
# venv, lints its Rust crate (fmt, clippy -D warnings), builds the extension module with maturin
# into the venv, builds the reference server, and runs the pytest suites against it.
#
# Environment:
#   TIDEPOOL_PY_VENV      venv to use (default: $HOME/.cache/tidepool-py-venv)
#   TIDEPOOL_SERVER_BIN   server binary to test against (default: built here, debug)
#   CARGO_TARGET_DIR      build outputs (default: $HOME/.cache/tidepool-target)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$repo/bindings/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
venv="${TIDEPOOL_PY_VENV:-$HOME/.cache/tidepool-py-venv}"

step() { echo; echo "==== python: $*"; }

step "venv ($venv) with bindings/python/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
# Install only when a pin differs from what is installed, so a warm run does no network work.
if ! "$venv/bin/python" - "$crate/requirements.txt" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if line:
        name, _, pinned = line.partition("==")
        try:
            ok = ok and version(name.strip()) == pinned.strip()
        except PackageNotFoundError:
            ok = False
sys.exit(0 if ok else 1)
PY
then
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$crate/requirements.txt"
fi

step "cargo fmt --check, clippy -D warnings (bindings/python)"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
(cd "$crate" && cargo fmt --check && cargo clippy --all-targets --locked -- -D warnings)

step "reference server"
if [ -z "${TIDEPOOL_SERVER_BIN:-}" ]; then
    (cd "$repo" && cargo build -p tidepool-server --locked)
    export TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/debug/tidepool-server"
fi

step "maturin develop (tidepool._native into the venv)"
(cd "$crate" && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --locked -q)

step "pytest"
(cd "$crate" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -q)
