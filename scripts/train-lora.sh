#!/usr/bin/env bash
# Trains a LoRA adapter end to end on this machine's CPU and measures what it gains on held-out
# data: calendar extraction (docs/structured.md) on SmolLM2-135M-Instruct Q4_1.
#   1. `pocketlm eval-extract --write-training`: the `dev` split of
#      tests/fixtures/calendar-events.jsonl as token ids (the evaluation's exact prompt + the
#      expected JSON answer);
#   2. scripts/train-lora/train.py: PyTorch + PEFT, base weights read from the GGUF file;
#   3. llama.cpp's convert_lora_to_gguf.py (llama_cpp_python 0.3.36 sdist) -> OUT/calendar.lora.gguf;
#   4. `pocketlm eval-extract --split heldout` without and with `--lora`, one table.
# The heldout split is never trained on. Deterministic settings (seed 0); the adapter (~10 MB)
# is not committed: this script rebuilds it. ~30-60 CPU-minutes on 2 cores.
#
#   scripts/train-lora.sh                 # -> $POCKETLM_CACHE/lora/smollm2-calendar/
#   EPOCHS=2 RANK=8 OUT=/tmp/x scripts/train-lora.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

MODEL="${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
OUT="${OUT:-$POCKETLM_CACHE/lora/smollm2-calendar}"
EPOCHS="${EPOCHS:-3}" RANK="${RANK:-16}" ALPHA="${ALPHA:-32}" LR="${LR:-1e-3}"
THREADS="${THREADS:-2}"
DATA=tests/fixtures/calendar-events.jsonl
SCHEMA=tests/fixtures/calendar-schema.json

bash scripts/fetch-models.sh >/dev/null
PY="$(bash scripts/setup-train-venv.sh)"
SRC="$(bash scripts/fetch-llama-src.sh)"
cargo build --release --bin pocketlm >&2
BIN=target/release/pocketlm
mkdir -p "$OUT"

log "training rows from the dev split"
"$BIN" eval-extract --model "$MODEL" --data "$DATA" --schema "$SCHEMA" --split dev \
  --write-training "$OUT/train.jsonl"

# Trained once per (rows, settings, base model): the stamp names what the adapter was trained on.
stamp="$(cat "$OUT/train.jsonl" "$MODEL" | sha256sum | cut -c1-16) rank=$RANK alpha=$ALPHA epochs=$EPOCHS lr=$LR seed=0"
if [ -f "$OUT/adapter/adapter_model.safetensors" ] && [ "$(cat "$OUT/.trained" 2>/dev/null)" = "$stamp" ]; then
  log "adapter already trained on these rows with these settings ($OUT/.trained)"
else
  log "training (rank $RANK, alpha $ALPHA, $EPOCHS epochs, lr $LR)"
  rm -f "$OUT/.trained"
  nice -n 5 "$PY" scripts/train-lora/train.py --gguf "$MODEL" --data "$OUT/train.jsonl" \
    --out "$OUT" --rank "$RANK" --alpha "$ALPHA" --epochs "$EPOCHS" --lr "$LR" --threads "$THREADS"
  echo "$stamp" >"$OUT/.trained"
fi

log "converting with llama.cpp's convert_lora_to_gguf.py"
PYTHONPATH="$SRC/gguf-py:$SRC" "$PY" "$SRC/convert_lora_to_gguf.py" "$OUT/adapter" \
  --base "$OUT/base" --outfile "$OUT/calendar.lora.gguf" --outtype f16 >&2

log "held-out evaluation, without and with the adapter"
"$BIN" eval-extract --model "$MODEL" --data "$DATA" --schema "$SCHEMA" --split heldout \
  --threads "$THREADS" --json >"$OUT/heldout-plain.json"
"$BIN" eval-extract --model "$MODEL" --data "$DATA" --schema "$SCHEMA" --split heldout \
  --threads "$THREADS" --lora "$OUT/calendar.lora.gguf" --json >"$OUT/heldout-adapted.json"
python3 scripts/train-lora/report.py "$OUT/heldout-plain.json" "$OUT/heldout-adapted.json" \
  "$OUT/train-log.json"
