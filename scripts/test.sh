#!/usr/bin/env bash
# Installs what the tests need and runs every test: formatting and lints, the Rust workspace
# (protocol vectors, unit and integration tests against a real server on loopback), the
# independent protobuf check of the vector corpus, and the stock-client suites
# (@libsql/client from npm, libsql-client from PyPI).
#
# Build outputs are cached outside the clone (CARGO_TARGET_DIR, default ~/.cache/tidepool-target)
# when they exist; nothing depends on them being there.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Debug info is not needed for tests and doubles link times on two cores.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"

step() { echo; echo "==== $*"; }

step "toolchain"
command -v cargo >/dev/null || { echo "cargo is required (rustup)" >&2; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version; node --version; python3 --version

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "protocol vectors: independent protobuf check"
venv="${TIDEPOOL_VENV:-$HOME/.cache/tidepool-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r protocol/vectors/requirements.txt
"$venv/bin/python" protocol/vectors/check_protobuf.py

step "stock clients against the reference server"
cargo build -p tidepool-server --locked
TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/debug/tidepool-server" TIDEPOOL_VENV="$venv" \
    bash scripts/test-peers.sh

step "Swift binding (scripts/test-swift.sh)"
bash scripts/test-swift.sh

step "Python binding (scripts/test-python.sh)"
TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/debug/tidepool-server" bash scripts/test-python.sh

step "Kotlin binding (scripts/test-kotlin.sh)"
TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/debug/tidepool-server" bash scripts/test-kotlin.sh

step "Node binding (scripts/test-node.sh)"
TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/debug/tidepool-server" bash scripts/test-node.sh

step "fuzz targets: stable smoke (scripts/fuzz-smoke.sh)"
bash scripts/fuzz-smoke.sh

echo
echo "==== all tests passed"
