#!/usr/bin/env bash
# The keyboard samples' agreement test (`make test-sample-sim`): runs one event script
# (tests/fixtures/sample-sim-events.jsonl: typing, taps, punctuation after a tap's space,
# backspace over an emoji and an accent, cursor moves, password/number/no-suggestion/email fields)
# through both simulators, the Android sample's controller (`scripts/sample-sim.sh kotlin`) and
# the iOS sample's (`scripts/sample-sim.sh swift`), on the real SmolLM2, and fails unless
#   - both print exactly the same lines (docs/samples.md#keyboard-simulator), and
#   - the output keeps the protocol's invariants: one state line per event, three strings per
#     strip, and "See you tomor" + a tap on "tomorrow" gives "See you tomorrow " with a
#     non-empty next-word strip, and
#   - an invalid line appended to the script gives an `{"error":...}` line (its message is free
#     text, so that last line is not compared).
# The last line is `sample-sim: N passed, N failed`.
#
#   scripts/test-sample-sim.sh [EVENTS.jsonl]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

events="${1:-tests/fixtures/sample-sim-events.jsonl}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # check NAME CONDITION-STATUS [DETAIL]
  if [ "$2" = 0 ]; then passed=$((passed + 1)); log "ok: $1"
  else failed=$((failed + 1)); log "FAILED: $1${3:+ ($3)}"; fi
}

for platform in kotlin swift; do
  log "scripts/sample-sim.sh $platform < $events"
  if { cat "$events"; echo 'this is not json'; } |
    bash scripts/sample-sim.sh "$platform" >"$work/$platform.all" 2>"$work/$platform.err"; then
    check "$platform simulator runs" 0
  else
    tail -n 20 "$work/$platform.err" >&2
    check "$platform simulator runs" 1 "see its messages above"
  fi
done

n_events="$(grep -cv '^[[:space:]]*$' "$events")"
# A state line: {"text":"…","cursor":N,"strip":["…","…","…"]} (strings in the shared encoding).
str='"([^"\\]|\\.)*"'
state_re="^\\{\"text\":$str,\"cursor\":[0-9]+,\"strip\":\\[$str,$str,$str\\]\\}\$"
for platform in kotlin swift; do
  out="$work/$platform.out"
  touch "$work/$platform.all"
  head -n "$n_events" "$work/$platform.all" >"$out"
  lines="$(wc -l <"$work/$platform.all")"
  [ "$lines" = "$((n_events + 1))" ] && s=0 || s=1
  check "$platform: one line per event" $s "$lines lines for $n_events events and the invalid line"
  last="$(tail -n 1 "$work/$platform.all")"
  [[ "$last" == '{"error":"'*'"}' ]] && s=0 || s=1
  check "$platform: an error line for the invalid line" $s "$last"
  bad=0
  while IFS= read -r line; do [[ "$line" =~ $state_re ]] || { bad=$((bad + 1)); log "$platform: not a state line: $line"; }; done <"$out"
  [ "$bad" = 0 ] && s=0 || s=1
  check "$platform: every line is a state with a three-string strip" $s
  # Events 1-2 of the script: type "See you tomor", tap the middle slot.
  first="$(sed -n 1p "$out")" second="$(sed -n 2p "$out")"
  [[ "$first" == *'"strip":["'*'","tomorrow","'* ]] && s=0 || s=1
  check "$platform: \"tomorrow\" in the middle slot for \"See you tomor\"" $s "$first"
  [[ "$second" == '{"text":"See you tomorrow ","cursor":17,"strip":['* && "$second" != *'"strip":["","",""]}' ]] && s=0 || s=1
  check "$platform: the tap gives \"See you tomorrow \" and a next-word strip" $s "$second"
done

if diff -u "$work/kotlin.out" "$work/swift.out" >"$work/diff"; then
  check "kotlin and swift print identical lines ($n_events events)" 0
else
  cat "$work/diff" >&2
  check "kotlin and swift print identical lines" 1 "diff above: - kotlin, + swift"
fi

echo "sample-sim: $passed passed, $failed failed"
[ "$failed" = 0 ]
