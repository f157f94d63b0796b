#!/usr/bin/env bash
# The random-weight LoRA adapters of the adapter parity tests (scripts/gen-random-lora.py),
# regenerated deterministically and cached in ~/.cache/pocketlm/random-loras, linked into
# ./models/lora/ (git-ignored). tests/fixtures/lora/*.jsonl record the sha256 of the file each
# llama.cpp reference was made from; rust/pocketlm/tests/lora.rs checks it.
#
#   scripts/gen-random-loras.sh          every adapter below
#   LORAS="smollm2-r8-seed0" scripts/gen-random-loras.sh
#
# Needs llama.cpp's gguf-py (the llama_cpp_python 0.3.36 sdist, scripts/fetch-llama-src.sh),
# numpy (scripts/setup-gen-venv.sh) and the base models (scripts/fetch-models.sh,
# scripts/gen-random-models.sh). About 10-20
# CPU-seconds per adapter the first time (dequantizing the base matrices for their scale).
# Prints NAME=ADAPTER=BASE (paths) for each adapter on stdout.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# NAME BASE RANK ALPHA SEED [TARGETS TYPE]: adapters on every attention and feed-forward
# matrix unless TARGETS says (alpha/rank is 2 or 0.5, not 1, so a wrong scale rule shows).
# BASE is under models/. The Phi-3 one adapts its fused matrices (q/k/v in one, gate/up in
# one), the output head and the token embeddings, in F16. The Q8_0 one is what
# `convert_lora_to_gguf.py --outtype q8_0` makes of the first (Q8_0 `A`s, F16 `B`s).
SPECS=(
  "smollm2-r8-seed0 SmolLM2-135M-Instruct.Q4_1.gguf 8 16 0"
  "gemma3-r16-seed0 gemma-3-270m-q4_k_m.gguf 16 8 0"
  "phi3-tiny-r8-seed0 random/phi3-tiny-seed0.F16.gguf 8 4 0 attn_qkv,attn_output,ffn_up,ffn_down,output,token_embd F16"
  "smollm2-r8-q8-seed0 SmolLM2-135M-Instruct.Q4_1.gguf 8 16 0 attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down Q8_0"
)
read -r -a WANT <<<"${LORAS:-}"

bash scripts/fetch-llama-src.sh >/dev/null
PY="$(bash scripts/setup-gen-venv.sh)"
bash scripts/fetch-models.sh >&2
bash scripts/gen-random-models.sh >/dev/null

GEN_SHA="$(sha256sum scripts/gen-random-lora.py | cut -c1-16)"
CACHE="$POCKETLM_CACHE/random-loras"
mkdir -p "$CACHE" models/lora
for spec in "${SPECS[@]}"; do
  read -r name base rank alpha seed targets type <<<"$spec"
  extra=()
  [ -n "${targets:-}" ] && extra+=(--targets "$targets")
  [ -n "${type:-}" ] && extra+=(--type "$type")
  if [ "${#WANT[@]}" -gt 0 ] && [[ " ${WANT[*]} " != *" $name "* ]]; then
    continue
  fi
  stamp="gen=$GEN_SHA base=$(sha256sum "models/$base" | cut -c1-16) rank=$rank alpha=$alpha seed=$seed${targets:+ targets=$targets}${type:+ type=$type}"
  if [ ! -f "$CACHE/$name.stamp" ] || [ "$(cat "$CACHE/$name.stamp")" != "$stamp" ] ||
    [ ! -f "$CACHE/$name.gguf" ]; then
    log "generating $name (rank $rank on $base)"
    PYTHONPATH="$POCKETLM_CACHE/llama.cpp-0.3.36/src/gguf-py" nice -n 10 "$PY" scripts/gen-random-lora.py \
      --base "models/$base" --rank "$rank" --alpha "$alpha" --seed "$seed" "${extra[@]}" --out "$CACHE/$name.gguf.part"
    mv "$CACHE/$name.gguf.part" "$CACHE/$name.gguf"
    echo "$stamp" >"$CACHE/$name.stamp"
  fi
  ln -sf "$CACHE/$name.gguf" "models/lora/$name.gguf"
  echo "$name=$REPO_ROOT/models/lora/$name.gguf=$REPO_ROOT/models/$base"
done
