#!/usr/bin/env bash
# Regenerates tests/fixtures/random/*.jsonl: llama.cpp's greedy tokens and top-10 logprobs on
# each tiny random-weight model (scripts/gen-random-models.sh) in each format, and, for the
# quantized formats, tests/fixtures/random/*.types.json: the GGML type llama-quantize chooses
# for each tensor of that model (`llama-quantize F16.gguf OUT.gguf FORMAT 2`), which the
# generator then reproduces in the file llama.cpp is run on (and `make test` regenerates).
# Run it after a change to the generator, the prompts or the llama.cpp version, and commit the
# fixtures; the parity tests (rust/pocketlm/tests/families.rs) read them. Not part of `make
# test` (the fixtures are checked in; it builds llama.cpp); see tests/fixtures/random/README.md.
#
#   scripts/make-random-references.sh                                 every family, F16
#   FAMILIES="qwen3 llama3" FORMATS="F16 Q4_0 Q4_K_M" scripts/make-random-references.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

export FORMATS="${FORMATS:-F16}"
TOOL="$(bash scripts/llama-agreement/build-tool.sh)"
mkdir -p tests/fixtures/random
if [ "$FORMATS" != F16 ]; then
  LLAMA_TARGETS="llama-quantize" bash scripts/build-llama-bench.sh >/dev/null
  QUANTIZE="$POCKETLM_CACHE/llama.cpp-0.3.36/bin/llama-quantize"
  PY="$(bash scripts/setup-gen-venv.sh)"
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  FORMATS=F16 bash scripts/gen-random-models.sh | while IFS='=' read -r name path; do
    base="${name%.F16}"
    for fmt in $FORMATS; do
      [ "$fmt" = F16 ] && continue
      log "llama-quantize $base to $fmt (its per-tensor types)"
      nice -n 10 "$QUANTIZE" "$path" "$TMP/q.gguf" "$fmt" 2 >"$TMP/q.log" 2>&1 ||
        { tail -n 20 "$TMP/q.log" >&2; die "llama-quantize $base $fmt failed"; }
      PYTHONPATH="$POCKETLM_CACHE/llama.cpp-0.3.36/src/gguf-py" "$PY" \
        scripts/llama-agreement/tensor-types.py "$TMP/q.gguf" "tests/fixtures/random/$base.$fmt.types.json"
    done
  done
fi
bash scripts/gen-random-models.sh | while IFS='=' read -r name path; do
  nice -n 10 python3 scripts/llama-agreement/random-fixture.py "$TOOL" "$path" \
    "tests/fixtures/random/$name.jsonl"
done
