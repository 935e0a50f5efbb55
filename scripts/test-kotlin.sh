#!/usr/bin/env bash
# The Kotlin/JVM binding: lints, unit-tests and builds the uniffi crate (bindings/uniffi),
# regenerates the Kotlin bindings from the built library and fails if the committed ones
# drifted, then runs the JUnit suite (bindings/kotlin, Maven) against the library and the
# reference server.
#
# Environment:
#   TIDEPOOL_SERVER_BIN        server binary (default: built here, $CARGO_TARGET_DIR/debug)
#   TIDEPOOL_UPDATE_GENERATED  1: write the regenerated bindings into the tree instead of failing
#
# Maven's downloads stay in ~/.m2 and cargo's outputs in $CARGO_TARGET_DIR
# (~/.cache/tidepool-target): a warm run does no network work.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$repo/$CARGO_TARGET_DIR" ;; esac
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
uniffi="$repo/bindings/uniffi"
kotlin="$repo/bindings/kotlin"
generated="src/main/kotlin/dev/tidepool/ffi"

log() { echo "== test-kotlin: $*" >&2; }

if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
    log "installing maven and a JDK (Debian packages)"
    apt-get update -qq && apt-get install -y -qq maven default-jdk-headless >/dev/null
fi

log "uniffi crate: fmt, clippy, unit tests, build"
(cd "$uniffi" && cargo fmt --check)
(cd "$uniffi" && cargo clippy --all-targets --locked -q -- -D warnings)
(cd "$uniffi" && cargo test --locked -q)
(cd "$uniffi" && cargo build --locked -q)
# A copy of its own: the Swift suite builds the same crate into the same target directory.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/lib"
cp "$CARGO_TARGET_DIR/debug/libtidepool_uniffi.so" "$tmp/lib/"
lib="$tmp/lib/libtidepool_uniffi.so"

log "generated Kotlin: regenerate and compare"
(cd "$uniffi" && cargo run --locked -q --bin uniffi-bindgen -- generate --no-format \
    --library "$lib" --language kotlin --out-dir "$tmp" >/dev/null)
if ! diff -ru "$kotlin/$generated" "$tmp/dev/tidepool/ffi" >"$tmp/drift.diff"; then
    if [ "${TIDEPOOL_UPDATE_GENERATED:-}" = 1 ]; then
        log "updating $generated"
        rm -rf "${kotlin:?}/$generated" && mkdir -p "$kotlin/$generated"
        cp "$tmp/dev/tidepool/ffi/"* "$kotlin/$generated/"
    else
        head -n 40 "$tmp/drift.diff" >&2
        log "bindings/kotlin/$generated differs from what the uniffi crate generates;"
        log "run TIDEPOOL_UPDATE_GENERATED=1 scripts/test-kotlin.sh and commit the result"
        exit 1
    fi
fi

if [ -z "${TIDEPOOL_SERVER_BIN:-}" ]; then
    log "cargo build -p tidepool-server"
    (cd "$repo" && cargo build -p tidepool-server --locked -q)
    TIDEPOOL_SERVER_BIN="$CARGO_TARGET_DIR/debug/tidepool-server"
fi

log "JUnit suite (mvn test)"
rm -rf "$kotlin/target/surefire-reports"
status=0
(cd "$kotlin" && mvn -B -q test \
    -Dtidepool.lib.dir="$(dirname "$lib")" \
    -Dtidepool.server.bin="$TIDEPOOL_SERVER_BIN") || status=$?

# A closing line for people and CI (mvn -q prints nothing when every test passes).
python3 - "$kotlin/target/surefire-reports" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for path in glob.glob(sys.argv[1] + "/TEST-*.xml"):
    r = ET.parse(path).getroot()
    t += int(r.get("tests", 0)); f += int(r.get("failures", 0))
    e += int(r.get("errors", 0)); s += int(r.get("skipped", 0))
print(f"kotlin: {t - f - e - s} passed, {f + e} failed, {s} skipped")
PY
exit "$status"
