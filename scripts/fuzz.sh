#!/usr/bin/env bash
# make fuzz: runs every fuzz target (fuzz/) for FUZZ_SECS seconds each (release build, no ASan).
# With a nightly toolchain and cargo-fuzz (installed from crates.io into ~/.cache/pocketlm), the
# targets run under libFuzzer, seeded from the seed corpora; without nightly (rustup cannot
# download toolchains on every machine), the stable driver runs the same target functions on the
# seeds and random mutations of them. Crashes and hangs land in fuzz/regressions/<target>/,
# which `cargo test` (rust/pocketlm/tests/fuzz_regressions.rs) replays in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECS:-60}"
TARGETS=(gguf_model tokenizer chat_template keyboard reply)
bash scripts/fetch-models.sh >/dev/null
CACHE="$HOME/.cache/pocketlm"
if [ "${FUZZ_STABLE:-0}" != 1 ] && rustup run nightly rustc --version >/dev/null 2>&1; then
    if [ ! -x "$CACHE/cargo-fuzz/bin/cargo-fuzz" ]; then
        cargo install --locked --root "$CACHE/cargo-fuzz" cargo-fuzz
    fi
    export PATH="$CACHE/cargo-fuzz/bin:$PATH"
    corpus="$CACHE/fuzz-corpus"
    (cd fuzz && cargo run --release --bin fuzz-stable -- seeds "$corpus")
    for t in "${TARGETS[@]}"; do
        mkdir -p "fuzz/regressions/$t"
        (cd fuzz && cargo +nightly fuzz run --release --sanitizer none "$t" "$corpus/$t" -- \
            -max_total_time="$SECS" -max_len=262144 -timeout=10 -rss_limit_mb=8192 \
            -artifact_prefix="regressions/$t/" -print_final_stats=1 2>&1 |
            grep -E "stat::number_of_executed_units|ERROR|SUMMARY|Test unit written" |
            sed "s/^/fuzz $t: /")
    done
else
    echo "no nightly toolchain: running the stable fuzz driver"
    (cd fuzz && cargo run --release --bin fuzz-stable -- "$SECS" "${TARGETS[@]}")
fi
