#!/usr/bin/env bash
# Benchmarks the Kotlin binding on a local file beside sqlite-jdbc on the same file, in one run
# (bindings/kotlin/bench): point reads and a 1,000-row insert in a transaction, as p50/p99,
# ops/s and ratios. Builds the uniffi library in release first.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
(cd "$repo/bindings/uniffi" && cargo build --release --locked -q --lib)
lib="$(mktemp -d)"
trap 'rm -rf "$lib"' EXIT
cp "$CARGO_TARGET_DIR/release/libtidepool_uniffi.so" "$lib/"
cd "$repo/bindings/kotlin/bench"
mvn -B -q compile exec:java -Dtidepool.lib.dir="$lib"
