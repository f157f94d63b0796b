#!/usr/bin/env bash
# Proves scripts/check-public-api.sh can fail: on a copy of the core crate it first passes
# unchanged (so the setup is sound), then a `pub fn accidental()` added at the crate root must
# make it exit non-zero and name the new item. Part of `make lint`.
# The copy builds in its own target dir (target/check-public-api-test, kept between runs so
# only the pocketlm docs are rebuilt): sharing target/ would leave the copy's pages in
# target/doc/pocketlm, where cargo would not notice they are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/rust" "$WORK/scripts"
cp -r rust/pocketlm "$WORK/rust/"
cp Cargo.lock "$WORK/"
# the patched dependencies the workspace's [patch.crates-io] points at
cp -r third_party "$WORK/"
cp scripts/check-public-api.sh "$WORK/scripts/"
# The workspace with the core crate only (its manifest inherits version, edition, deps).
sed -E 's/^members = .*/members = ["rust\/pocketlm"]/' Cargo.toml >"$WORK/Cargo.toml"
export CARGO_TARGET_DIR="$ROOT/target/check-public-api-test"

if ! bash "$WORK/scripts/check-public-api.sh" >"$WORK/clean.log" 2>&1; then
  cat "$WORK/clean.log" >&2
  echo "test-check-public-api: the unchanged copy should pass the check" >&2
  exit 1
fi

printf '\n/// Made public by accident.\npub fn accidental() {}\n' >>"$WORK/rust/pocketlm/src/lib.rs"
if bash "$WORK/scripts/check-public-api.sh" >"$WORK/changed.log" 2>&1; then
  cat "$WORK/changed.log" >&2
  echo "test-check-public-api: a new public fn at the root was not caught" >&2
  exit 1
fi
if ! grep -q '^+fn pocketlm::accidental$' "$WORK/changed.log"; then
  cat "$WORK/changed.log" >&2
  echo "test-check-public-api: the check failed without naming pocketlm::accidental" >&2
  exit 1
fi
echo "test-check-public-api: an accidental public item fails the check"
