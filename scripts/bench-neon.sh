#!/usr/bin/env bash
# Instruction-count benchmark of the aarch64 kernels against llama.cpp, without an ARM device:
# both run under qemu-aarch64 (QEMU_CPU cortex-a72 / cortex-a76 / max, i.e. our neon / dotprod /
# i8mm tiers and llama.cpp built for armv8-a / armv8.2-a+dotprod / armv8.6-a+dotprod+i8mm) with
# a small TCG plugin (scripts/bench-neon/icount.c) counting executed instructions; whole-process
# counts are differenced (N vs 2N decoded tokens, P vs 2P prompt tokens) to get millions of
# instructions per decoded and per prefilled token, 1 thread.
#
#   [BENCH_LAYOUT=rows] scripts/bench-neon.sh [--json] [--syms K] [--only cortex-a76,gemma]
#                         [--ours-only] [--prompt P] [--decode N] [--lora MODEL_FILE=ADAPTER]
#                         [--model LABEL=PATH ... [--cpus cortex-a76,max]]
#
# --model (repeatable) measures those files instead of the two default models, each on every
# --cpus (default cortex-a76 and max); their converted copies are made as the defaults' are
# (scripts/bench-families.sh's random-weight release shapes: make bench-families-neon).
#
# Prints the table (or {"rows":[{"model","cpu","tier","phase","ours","llama","ratio"}]} with
# --json; ratio = llama.cpp / ours). --syms K adds each side's top K functions per token.
# --lora SmolLM2-135M-Instruct.Q4_1.gguf=ADAPTER also counts ours with that adapter on that
# model's rows: "ours_lora" (millions per token adapted) and "lora_ratio" (ours / ours_lora, the
# adapted speed over the plain one in instructions; scripts/bench-neon/run.py).
# First run: cross-builds llama.cpp (scripts/build-llama-aarch64.sh, ~15 CPU-minutes, cached in
# ~/.cache/pocketlm) and our CLI for aarch64-unknown-linux-gnu. A full run takes ~10 minutes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup-cross.sh
bash scripts/fetch-models.sh >&2
llama_dir="$POCKETLM_CACHE/llama.cpp-0.3.36/aarch64"
ours_only=0
models=(SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf)
prev=""
for a in "$@"; do
  [ "$a" = "--ours-only" ] && ours_only=1
  if [ "$prev" = "--model" ]; then
    [ "${models[0]}" = SmolLM2-135M-Instruct.Q4_1.gguf ] && models=()
    models+=("$(realpath -m "${a#*=}")")
  fi
  prev="$a"
done
[ "$ours_only" = 1 ] || bash scripts/build-llama-aarch64.sh >/dev/null

plugin_dir="$POCKETLM_CACHE/bench-neon"
plugin="$plugin_dir/icount.so"
mkdir -p "$plugin_dir"
if [ ! -f "$plugin" ] || [ scripts/bench-neon/icount.c -nt "$plugin" ]; then
  apt_ensure gcc
  log "building the qemu plugin $plugin"
  gcc -O2 -shared -fPIC -fvisibility=hidden -o "$plugin.tmp" scripts/bench-neon/icount.c
  mv "$plugin.tmp" "$plugin"
fi

log "building pocketlm-cli for aarch64-unknown-linux-gnu (release)"
cargo build --release --target aarch64-unknown-linux-gnu -p pocketlm-cli >&2
cli="$REPO_ROOT/target/aarch64-unknown-linux-gnu/release/pocketlm"

# Ours runs each model's `pocketlm convert`ed copy (the interleaved layout: same bits, fewer
# instructions per decoded token on NEON), as scripts/bench.sh does on x86; llama.cpp runs the
# original file. BENCH_LAYOUT=rows runs ours on the original files too. The copies are made by
# the aarch64 CLI under qemu (no x86 release build needed) and kept under the original names in
# $POCKETLM_CACHE/bench-neon/converted, redone when the model or the CLI changes.
ours_models=""
if [ "${BENCH_LAYOUT:-interleaved}" != rows ]; then
  ours_models="$plugin_dir/converted"
  mkdir -p "$ours_models"
  for m in "${models[@]}"; do
    case "$m" in /*) src="$m" ;; *) src="models/$m" ;; esac
    out="$ours_models/$(basename "$m")"
    if [ ! -f "$out" ] || [ "$out" -ot "$src" ] || [ "$out" -ot "$cli" ]; then
      log "converting $m for ours (pocketlm convert under qemu)"
      qemu-aarch64 -L /usr/aarch64-linux-gnu "$cli" convert --model "$src" --out "$out.part" >&2
      mv "$out.part" "$out"
    fi
  done
fi

exec python3 scripts/bench-neon/run.py --cli "$cli" --llama-dir "$llama_dir" \
  --plugin "$plugin" --models "$REPO_ROOT/models" --ours-models "$ours_models" "$@"
