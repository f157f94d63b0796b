#!/usr/bin/env bash
# The main jobs on the default model: model info, keyboard suggestions while typing,
# reply drafts for an incoming message, and streamed generation.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
bin=target/release/pocketlm
has() { "$bin" help 2>/dev/null | grep -qE "^  $1 "; }

echo "== model"
"$bin" info --model "$model" | head -3

if has predict; then
  echo
  echo "== keyboard: suggestions while typing"
  for text in "See you" "See you tom" "Thanks for the" "I'll be there in" "Hel"; do
    printf '%-22s -> ' "\"$text\""
    # The first suggestion follows the arrow; the others line up under it (26 columns).
    "$bin" predict --model "$model" --text "$text" | sed '2,$s/^/                          /'
  done
fi

if has reply; then
  echo
  echo "== reply drafts"
  for msg in "Can we meet tomorrow at 5?" "Did you finish the report?" "Happy birthday!!"; do
    echo "message: $msg"
    "$bin" reply --model "$model" --message "$msg"
  done
fi

echo
echo "== generation (greedy, streamed)"
"$bin" generate --model "$model" --prompt "The three most useful things a phone keyboard can do are" --max-tokens 40 --greedy
