#!/usr/bin/env bash
# Proves scripts/check-public-api.sh can fail. It runs the check's comparison on a copy of the
# rustdoc pages `make lint` has just built (PUBLIC_API_DOC), first unchanged (it must pass, so
# the setup is sound), then with one change at a time that must fail naming the item:
#   - a page for a new root function (`pub fn accidental()`): `+fn pocketlm::accidental`;
#   - a new inherent method on ReplyDrafter's page: `+  method pocketlm::ReplyDrafter::accidental`;
#   - ReplyDrafter's page gone (the type made private): `-struct pocketlm::ReplyDrafter`.
# The pages are rustdoc's own; documenting a modified copy of the crate here instead took a
# second cold doc build of every dependency (~190 s of a fresh CI run). Part of `make lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
DOC=${CARGO_TARGET_DIR:-target}/doc/pocketlm
[ -f "$DOC/struct.ReplyDrafter.html" ] || bash scripts/check-public-api.sh >/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fresh_copy() {
  rm -rf "$WORK/pocketlm"
  cp -r "$DOC" "$WORK/pocketlm"
}
check() { PUBLIC_API_DOC="$WORK/pocketlm" bash scripts/check-public-api.sh >"$WORK/$1.log" 2>&1; }
fail() {
  cat "$WORK/$1.log" >&2
  echo "test-check-public-api: $2" >&2
  exit 1
}
# expect_caught NAME LINE: the check fails and its diff has LINE.
expect_caught() {
  if check "$1"; then fail "$1" "$1 was not caught"; fi
  grep -qxF -- "$2" "$WORK/$1.log" || fail "$1" "the check failed without the line '$2'"
}

fresh_copy
check clean || fail clean "the unchanged pages should pass the check"

# A new root function: rustdoc writes fn.NAME.html.
printf '<html><body><h1>Function accidental</h1></body></html>\n' >"$WORK/pocketlm/fn.accidental.html"
expect_caught new-fn '+fn pocketlm::accidental'

# A new method: an inherent member's anchor before the trait implementations.
fresh_copy
page="$WORK/pocketlm/struct.ReplyDrafter.html"
grep -q 'id="trait-implementations"' "$page" || fail clean "ReplyDrafter's page has no trait implementations section"
sed -i 's/id="trait-implementations"/id="method.accidental"><\/section><h2 &/' "$page"
expect_caught new-method '+  method pocketlm::ReplyDrafter::accidental'

# A type that is no longer public: its page is gone.
fresh_copy
rm "$WORK/pocketlm/struct.ReplyDrafter.html"
expect_caught gone-struct '-struct pocketlm::ReplyDrafter'

echo "test-check-public-api: a new function, a new method and a removed type each fail the check"
