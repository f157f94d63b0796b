#!/usr/bin/env bash
# Runs a platform's keyboard simulator (scripts/sample-sim.sh kotlin|swift) on tests/sim/keyboard.jsonl
# and checks its output against the protocol (docs/samples.md#keyboard-simulator): one line per
# event, the suggestion tap completes "tomor" to "tomorrow " with a next-word strip, auto-space
# punctuation, cursors in Unicode scalars, an error line for the invalid line, no suggestions in a
# password field, a backspace removes a whole emoji with its skin tone.
#   tests/sim/check-sim.sh kotlin|swift [--model M]
# Prints `sim-PLATFORM: passed` or the first mismatch; exit status non-zero on a mismatch.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
platform="${1:?usage: tests/sim/check-sim.sh kotlin|swift [--model M]}"; shift
out="$(bash "$here/../../scripts/sample-sim.sh" "$platform" "$@" < "$here/keyboard.jsonl")"
status=$?
fail() { echo "sim-$platform: FAILED: $*"; printf '%s\n' "$out" | sed 's/^/  | /'; exit 1; }
[ "$status" -eq 0 ] || fail "the simulator exited with status $status"
mapfile -t lines <<<"$out"
[ "${#lines[@]}" -eq 9 ] || fail "expected 9 output lines, got ${#lines[@]}"
shape='^\{"text":"([^"\\]|\\.)*","cursor":[0-9]+,"strip":\["([^"\\]|\\.)*","([^"\\]|\\.)*","([^"\\]|\\.)*"\]\}$'
for i in 0 1 2 3 4 6 7 8; do
  [[ "${lines[$i]}" =~ $shape ]] || fail "line $((i + 1)) is not a state line: ${lines[$i]}"
done
expect_prefix() { [[ "${lines[$1]}" == "$2"* ]] || fail "line $(($1 + 1)) should start with $2"; }
expect_prefix 0 '{"text":"See you tomor","cursor":13,"strip":["'
[[ "${lines[0]}" == *'","tomorrow","'* ]] || fail 'line 1: "tomorrow" should be the middle (best) suggestion'
expect_prefix 1 '{"text":"See you tomorrow ","cursor":17,"strip":['
[[ "${lines[1]}" != *'["","",""]}' ]] || fail "line 2: the next-word strip is empty"
expect_prefix 2 '{"text":"See you tomorrow.","cursor":17,'
expect_prefix 3 '{"text":"See you tomorrow","cursor":16,'
expect_prefix 4 '{"text":"See you tomorrow","cursor":3,'
[[ "${lines[5]}" == '{"error":"'* ]] || fail "line 6 should be an error line"
[ "${lines[6]}" = '{"text":"","cursor":0,"strip":["","",""]}' ] || fail "line 7: a new password field"
[ "${lines[7]}" = '{"text":"Hi 👍🏽","cursor":5,"strip":["","",""]}' ] || fail "line 8: typing in a password field"
[ "${lines[8]}" = '{"text":"Hi ","cursor":3,"strip":["","",""]}' ] || fail "line 9: one backspace removes 👍🏽"
echo "sim-$platform: passed"
