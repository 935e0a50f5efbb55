#!/usr/bin/env bash
# Builds the uniffi crate (bindings/uniffi) on the host and regenerates the Swift binding's
# generated files from its cdylib:
#
#   bindings/swift/Sources/TidepoolFFI/tidepool_uniffi.swift        the generated Swift
#   bindings/swift/Sources/tidepool_uniffiFFI/tidepool_uniffiFFI.h  the C header
#   bindings/swift/Sources/tidepool_uniffiFFI/module.modulemap      its module map
#
# Fails when what it generated differs from the files in the tree (the committed bindings have
# drifted from the crate); the new files are then in place, ready to review and commit.
# `--check` only compares and leaves the tree alone.
#
# Copies the cdylib to $TIDEPOOL_SWIFT_CACHE/lib (default ~/.cache/tidepool-swift/lib), where
# the Swift build links it and the tests load it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
check_only=0
[ "${1:-}" = "--check" ] && check_only=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidepool-target}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
cache="${TIDEPOOL_SWIFT_CACHE:-$HOME/.cache/tidepool-swift}"
crate="$repo/bindings/uniffi"
package="$repo/bindings/swift"

log() { echo "swift-generate: $*" >&2; }

log "cargo build (bindings/uniffi)"
(cd "$crate" && cargo build --locked --lib --bin uniffi-bindgen)
# Bindings are generated from the copy the Swift build links, so the two always match.
lib="$cache/lib/libtidepool_uniffi.so"
mkdir -p "$cache/lib"
cp "$CARGO_TARGET_DIR/debug/libtidepool_uniffi.so" "$lib.tmp"
mv "$lib.tmp" "$lib"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Library mode reads bindings/uniffi/uniffi.toml through cargo metadata: run in the crate.
(cd "$crate" && "$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --no-format \
    --language swift --out-dir "$out" "$lib" >&2)

# SwiftPM wants a system library's module map named module.modulemap. The `use "Darwin"` line
# names a module Linux does not have; `use` only declares a dependency, so dropping it changes
# nothing on Apple platforms, where Darwin is always there.
mkdir -p "$out/ffi" "$out/swift"
grep -v '^[[:space:]]*use "Darwin"$' "$out/tidepool_uniffiFFI.modulemap" >"$out/ffi/module.modulemap"
mv "$out/tidepool_uniffiFFI.h" "$out/ffi/"
mv "$out/tidepool_uniffi.swift" "$out/swift/"

drift=0
compare() { # generated, committed
    if ! cmp -s "$1" "$2"; then
        log "drift: ${2#"$repo/"} differs from what bindings/uniffi generates"
        drift=1
        if [ "$check_only" = 0 ]; then
            mkdir -p "$(dirname "$2")"
            cp "$1" "$2"
        fi
    fi
}
compare "$out/ffi/module.modulemap" "$package/Sources/tidepool_uniffiFFI/module.modulemap"
compare "$out/ffi/tidepool_uniffiFFI.h" "$package/Sources/tidepool_uniffiFFI/tidepool_uniffiFFI.h"
compare "$out/swift/tidepool_uniffi.swift" "$package/Sources/TidepoolFFI/tidepool_uniffi.swift"
if [ "$drift" = 1 ]; then
    if [ "$check_only" = 0 ]; then
        log "the generated files were out of date and have been rewritten: review and commit them"
    fi
    exit 1
fi
log "generated files match bindings/uniffi"
