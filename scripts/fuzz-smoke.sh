#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ briefly, as CI does, or for longer with libFuzzer.
#
#   scripts/fuzz-smoke.sh                      the stable smoke (CI): every target's seeds, kept
#                                              crash inputs and fixed-seed mutants, on stable Rust
#   scripts/fuzz-smoke.sh --libfuzzer SECS [TARGET...]
#                                              coverage-guided libFuzzer runs of SECS seconds per
#                                              target (all targets by default), one after another;
#                                              needs a nightly toolchain and cargo-fuzz, and says
#                                              so and stops (successfully) when they are missing
#
# Why two modes: cargo-fuzz needs nightly (sanitizer flags), which a fresh machine may lack and
# cannot download; the stable smoke runs the same target functions (fuzz/src) under `cargo test`
# so every CI run exercises every decoder and the in-process server, and libFuzzer does the
# searching when it is available. Environment for the smoke: FUZZ_SMOKE_ITERS (mutants per
# target, default 5000) and FUZZ_SMOKE_SECS (time cap per target, default 8).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if [ "${1:-}" != "--libfuzzer" ]; then
    cargo fmt --manifest-path fuzz/Cargo.toml --check
    cargo clippy --manifest-path fuzz/Cargo.toml --no-default-features --all-targets --locked \
        -- -D warnings
    FUZZ_SMOKE_ITERS="${FUZZ_SMOKE_ITERS:-5000}" FUZZ_SMOKE_SECS="${FUZZ_SMOKE_SECS:-8}" \
        cargo test --manifest-path fuzz/Cargo.toml --no-default-features --locked \
        --test smoke -- --nocapture
    exit 0
fi

secs="${2:?usage: fuzz-smoke.sh --libfuzzer SECS [TARGET...]}"
shift 2
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz-smoke: no nightly toolchain; libFuzzer runs skipped (the stable smoke still runs)"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: cargo-fuzz is not installed (cargo install cargo-fuzz); libFuzzer runs skipped"
    exit 0
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
# Seeds from protocol/vectors, written to fuzz/corpus/<target>/ (kept between runs).
cargo run --quiet --manifest-path fuzz/Cargo.toml --no-default-features --locked \
    --bin seed-corpus >/dev/null
for target in "${targets[@]}"; do
    echo "==== libFuzzer: $target for ${secs}s"
    corpus="fuzz/corpus/$target"
    regressions="fuzz/regressions/$target"
    mkdir -p "$regressions"
    log="$(mktemp)"
    status=0
    cargo +nightly fuzz run "$target" "$corpus" "$regressions" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -dict=fuzz/dict/wire.dict -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzz-smoke: $target failed; the input is under fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
    rm -f "$log"
done
