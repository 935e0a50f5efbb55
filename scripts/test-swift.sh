#!/usr/bin/env bash
# The Swift binding's suite (bindings/swift): installs the Swift toolchain into a cached Debian
# trixie root (scripts/swift-toolchain.sh), builds the uniffi crate on the host and checks that
# the committed generated Swift matches it (scripts/swift-generate.sh), lints the package with
# `swift format`, starts reference servers on loopback ports (open; requiring tokens; a 1 s
# transaction timeout; TLS with a self-signed certificate), then runs `swift build` and the XCTest
# suite inside the root, which shares the host's loopback. Prints "swift: N passed, N failed".
#
# TIDEPOOL_SWIFT_FILTER=<regex> runs only the matching tests.
#
# Caches: the root (~/.cache/tidepool-trixie), SwiftPM's build directory and the cdylib
# (~/.cache/tidepool-swift), cargo's target dir (CARGO_TARGET_DIR). Nothing depends on them being
# there. Needs root (debootstrap, chroot, bind mounts).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cache="${TIDEPOOL_SWIFT_CACHE:-$HOME/.cache/tidepool-swift}"
export TIDEPOOL_SWIFT_CACHE="$cache"
# The package's real path, in case bindings/swift is a symlink out of the repo.
package="$(cd "$repo/bindings/swift" && pwd -P)"

step() { echo; echo "== test-swift: $*"; }

step "toolchain (Debian trixie root)"
start=$SECONDS
bash scripts/swift-toolchain.sh >/dev/null
echo "toolchain ready in $((SECONDS - start)) s"

step "swift format lint (bindings/swift/.swift-format)"
(
    cd "$package"
    TIDEPOOL_CHROOT_BINDS="$repo:$package" bash "$repo/scripts/swift-chroot.sh" swift format lint --strict -r \
        --configuration .swift-format Package.swift Sources/Tidepool Sources/TidepoolBench Tests
)

step "reference server build"
cargo build -p tidepool-server --locked
server_bin="$CARGO_TARGET_DIR/debug/tidepool-server"

step "uniffi crate build and generated-file drift check"
bash scripts/swift-generate.sh

step "start tidepool-server on loopback ports (open; requiring tokens; 1 s transaction timeout; TLS)"
work="$(mktemp -d)"
server_pids=()
cleanup() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
# The server reads TIDEPOOL_* settings from its environment: keep ours away from it.
server_env=(env $(env | sed -n 's/^\(TIDEPOOL_[A-Za-z0-9_]*\)=.*/-u \1/p') NO_COLOR=1)

# start_server NAME [ARGS...]: starts a server on a free port with a fresh database and sets
# server_url to its URL.
start_server() {
    local name="$1" line
    shift
    mkfifo "$work/$name.out"
    "${server_env[@]}" "$server_bin" --http-listen-addr 127.0.0.1:0 --db-path "$work/$name.db" "$@" \
        >"$work/$name.out" 2>"$work/$name.log" &
    server_pids+=($!)
    exec 8<"$work/$name.out"
    server_url=""
    while IFS= read -r -t 30 line <&8; do
        case "$line" in
            "tidepool-server listening on http://"* | "tidepool-server listening on https://"*)
                server_url="${line#tidepool-server listening on }"
                break
                ;;
        esac
    done
    # Keep draining the server's stdout so it never blocks on a full pipe.
    cat <&8 >/dev/null &
    exec 8<&-
    [ -n "$server_url" ] || { echo "the $name server did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
    echo "$name server at $server_url"
}
start_server open
url="$server_url"
"${server_env[@]}" "$server_bin" gen-key --out-dir "$work/keys" >/dev/null
token="$("${server_env[@]}" "$server_bin" gen-token --private-key "$work/keys/jwt_private.pem")"
ro_token="$("${server_env[@]}" "$server_bin" gen-token --private-key "$work/keys/jwt_private.pem" --read-only)"
start_server auth --auth-jwt-key-file "$work/keys/jwt_key.pem"
auth_url="$server_url"
start_server short-txn --txn-timeout-secs 1
short_txn_url="$server_url"
# A self-signed certificate for 127.0.0.1 (not a CA, as clients expect of a server's own).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$work/tls-key.pem" -out "$work/tls-cert.pem" 2>/dev/null
start_server tls --tls-cert "$work/tls-cert.pem" --tls-key "$work/tls-key.pem"
tls_url="$server_url"

step "swift build and swift test (inside the trixie root)"
mkdir -p "$cache/build"
lib="$cache/lib"
export TIDEPOOL_CHROOT_BINDS="$repo:$cache:$package"
linker=(-Xlinker -L"$lib" -Xlinker -rpath -Xlinker "$lib")
set +e
(
    set -e
    cd "$package"
    bash "$repo/scripts/swift-chroot.sh" swift build --build-tests --scratch-path "$cache/build" "${linker[@]}"
    # Swift Testing has no tests here; XCTest's summary is the one that counts.
    # TIDEPOOL_SWIFT_FILTER runs only the matching tests (swift test --filter).
    TIDEPOOL_TEST_URL="$url" TIDEPOOL_TEST_AUTH_URL="$auth_url" TIDEPOOL_TEST_TOKEN="$token" \
        TIDEPOOL_TEST_RO_TOKEN="$ro_token" TIDEPOOL_TEST_SHORT_TXN_URL="$short_txn_url" \
        TIDEPOOL_TEST_TLS_URL="$tls_url" TIDEPOOL_TEST_TLS_CA_PEM="$(cat "$work/tls-cert.pem")" \
        TIDEPOOL_TEST_VECTORS="$repo/protocol/vectors" LD_LIBRARY_PATH="$lib" \
        bash "$repo/scripts/swift-chroot.sh" swift test --skip-build --disable-swift-testing \
        --scratch-path "$cache/build" "${linker[@]}" ${TIDEPOOL_SWIFT_FILTER:+--filter "$TIDEPOOL_SWIFT_FILTER"}
) 2>&1 | tee "$work/swift.log"
status=${PIPESTATUS[0]}
set -e

summary="$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$work/swift.log" | tail -n1 || true)"
if [ -z "$summary" ]; then
    echo "test-swift: no XCTest summary (status $status)" >&2
    exit 1
fi
total="$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")"
failed="$(sed -E 's/.*with ([0-9]+) failures?.*/\1/' <<<"$summary")"
echo
echo "swift: $((total - failed)) passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
