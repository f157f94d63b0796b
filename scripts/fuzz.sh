#!/usr/bin/env bash
# make fuzz: runs every fuzz target (fuzz/) for FUZZ_SECS seconds each (release build, no ASan);
# the last lines are one per target: executions, and ok or CRASH.
# With a nightly toolchain and cargo-fuzz (installed from crates.io into ~/.cache/pocketlm), the
# targets run under libFuzzer, seeded from the seed corpora; without nightly (rustup cannot
# download toolchains on every machine), the stable driver runs the same target functions on the
# seeds and random mutations of them. Crashes and hangs land in fuzz/regressions/<target>/,
# which `cargo test` (rust/pocketlm/tests/fuzz_regressions.rs) replays in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECS:-60}"
# FUZZ_TARGETS="a b" runs only those targets.
read -r -a TARGETS <<<"${FUZZ_TARGETS:-gguf_model tokenizer chat_template keyboard reply constraint snapshot lora reply_warm}"
bash scripts/fetch-models.sh >/dev/null
CACHE="$HOME/.cache/pocketlm"
# The nightly toolchain is for cargo-fuzz only (the product builds on stable). Installed once
# (minimal profile); if rustup cannot download it, the stable driver below runs instead.
have_nightly() { rustup run nightly rustc --version >/dev/null 2>&1; }
if [ "${FUZZ_STABLE:-0}" != 1 ] && ! have_nightly; then
    rustup toolchain install nightly --profile minimal >&2 || true
fi
if [ "${FUZZ_STABLE:-0}" != 1 ] && have_nightly; then
    if [ ! -x "$CACHE/cargo-fuzz/bin/cargo-fuzz" ]; then
        cargo install --locked --root "$CACHE/cargo-fuzz" cargo-fuzz
    fi
    export PATH="$CACHE/cargo-fuzz/bin:$PATH"
    corpus="$CACHE/fuzz-corpus"
    logs="$CACHE/fuzz-logs"
    mkdir -p "$logs"
    (cd fuzz && cargo run --release --bin fuzz-stable -- seeds "$corpus")
    summary=()
    crashed=0
    for t in "${TARGETS[@]}"; do
        mkdir -p "fuzz/regressions/$t"
        log="$logs/$t.log"
        # A crash ends this target's run (libFuzzer writes the input to fuzz/regressions/<t>/)
        # but not the others'.
        status=0
        (cd fuzz && cargo +nightly fuzz run --release --sanitizer none --features libfuzzer "$t" "$corpus/$t" -- \
            -max_total_time="$SECS" -max_len=262144 -timeout=10 -rss_limit_mb=8192 \
            -artifact_prefix="regressions/$t/" -print_final_stats=1) >"$log" 2>&1 || status=$?
        grep -E "ERROR|SUMMARY|Test unit written|panicked at" "$log" | head -20 |
            sed "s/^/fuzz $t: /" || true
        execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" |
            tail -1 || true)
        result=ok
        if [ "$status" != 0 ]; then
            result="CRASH (exit $status, log $log)"
            crashed=1
        fi
        summary+=("$(printf 'fuzz %-14s %10s executions in %s s: %s' "$t" "${execs:-?}" "$SECS" \
            "$result")")
    done
    printf '%s\n' "${summary[@]}"
    exit "$crashed"
else
    echo "no nightly toolchain: running the stable fuzz driver"
    (cd fuzz && cargo run --release --bin fuzz-stable -- "$SECS" "${TARGETS[@]}")
fi
