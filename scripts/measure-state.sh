#!/usr/bin/env bash
# Session snapshot size and save/load time for a ~1,000-token session, both models, with the
# release CLI (docs/state.md): `pocketlm generate --save-state` after a 1,000-token prompt, then
# `generate --state` with a short continuation; the best of RUNS (default 3) runs. Prints one
# markdown table row per model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-models.sh >/dev/null
BIN="${POCKETLM_BIN:-target/release/pocketlm}"
[ -x "$BIN" ] || nice -n 10 cargo build --release --bin pocketlm
RUNS="${RUNS:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
text="$(for i in $(seq 1 29); do printf 'Paragraph %d. The river ran past the old mill, where the miller counted sacks of flour and told the children stories about the winter the water froze. ' "$i"; done)"
echo "| model | tokens | snapshot bytes | bytes per 1,000 tokens | fingerprint ms | save ms | load ms | prefill ms (recompute) |"
echo "|---|---|---|---|---|---|---|---|"
for m in SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf; do
  for r in $(seq 1 "$RUNS"); do
    "$BIN" generate --model "models/$m" --prompt "$text" --max-tokens 1 --greedy --ctx 2048 \
      --save-state "$tmp/s" --json >"$tmp/save-$r.json"
    "$BIN" generate --model "models/$m" --state "$tmp/s" --prompt " The" --max-tokens 1 --greedy \
      --ctx 2048 --json >"$tmp/load-$r.json"
  done
  python3 - "$m" "$tmp" "$RUNS" <<'PY'
import json, sys
m, tmp, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
save = [json.load(open(f"{tmp}/save-{r}.json")) for r in range(1, runs + 1)]
load = [json.load(open(f"{tmp}/load-{r}.json")) for r in range(1, runs + 1)]
n = save[0]["state_saved_tokens"]
b = save[0]["state_bytes"]
best = lambda rows, k: min(x[k] for x in rows)
print(f"| {m} | {n} | {b:,} | {b * 1000 / n / 1e6:.2f} MB | {best(save, 'fingerprint_ms'):.1f} "
      f"| {best(save, 'state_save_ms'):.1f} | {best(load, 'state_load_ms'):.1f} | {best(save, 'ms'):.0f} |")
PY
done
