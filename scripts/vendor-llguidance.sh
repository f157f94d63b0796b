#!/usr/bin/env bash
# third_party/llguidance: llguidance 1.9.1 from crates.io with one change, its library built as
# an rlib only.
#
# Why: the published crate declares `crate-type = ["staticlib", "rlib", "cdylib"]`, and cargo
# builds (and links) every declared crate type of a dependency. Linking its cdylib for
# aarch64-linux-android or aarch64-apple-ios needs the NDK or Xcode linker, which this
# repository's machine cannot have, so every mobile compile check failed; on a real runner it
# costs a second link of the whole grammar engine that nothing uses. The root Cargo.toml's
# `[patch.crates-io]` points at this copy. Nothing else in the source is changed.
#
#   scripts/vendor-llguidance.sh           (re)write third_party/llguidance from the .crate
#   scripts/vendor-llguidance.sh --check   fail if third_party/llguidance differs from that
#
# The .crate is downloaded once (cached in ~/.cache/pocketlm) and checked by sha256.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

VERSION=1.9.1
SHA256=04ede1356c8ee73a0d29ef573dbeb2123a1667cfc3ebfc7e2c41346a6e92c3c8
URL="https://static.crates.io/crates/llguidance/llguidance-$VERSION.crate"
DEST=third_party/llguidance

crate="$POCKETLM_CACHE/crates/llguidance-$VERSION.crate"
if [ ! -f "$crate" ] || ! echo "$SHA256  $crate" | sha256sum -c --quiet 2>/dev/null; then
  mkdir -p "$(dirname "$crate")"
  log "downloading $URL"
  curl -fsSL --retry 3 -o "$crate.part" "$URL"
  echo "$SHA256  $crate.part" | sha256sum -c --quiet || die "sha256 mismatch for $URL"
  mv "$crate.part" "$crate"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xzf "$crate" -C "$work"
src="$work/llguidance-$VERSION"
out="$work/out"
mkdir -p "$out"
# The library's sources, licence and readme; not its tests, benches, C header or build script
# (the build script only copies the C header next to the cdylib).
cp -r "$src/src" "$src/LICENSE" "$src/README.md" "$out/"
python3 - "$src/Cargo.toml" "$out/Cargo.toml" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
# rlib only (see the script's header)
text, n = re.subn(r'crate-type = \[[^\]]*\]', 'crate-type = ["rlib"]', text)
assert n == 1, "crate-type not found"
# no build script, tests or benches in the copy
text, n = re.subn(r'^build = "build.rs"$', 'build = false', text, flags=re.M)
assert n == 1, "build script line not found"
text = re.sub(r'\n\[\[(test|bench)\]\]\n(?:[^\[\n][^\n]*\n)*', '\n', text)
# cbindgen only serves the build script; the dev-dependencies only the tests left out
text = re.sub(r'\n\[(?:build-dependencies\.cbindgen|dev-dependencies\.[a-z_-]+)\]\n(?:[^\[\n][^\n]*\n)*',
              '\n', text + '\n')
text = text.replace('generate-header = ["dep:cbindgen"]\n', '')
text = re.sub(r'\n{3,}', '\n\n', text)
header = ("# Vendored by scripts/vendor-llguidance.sh from llguidance %s on crates.io:\n"
          "# crate-type rlib only (the published crate also builds a staticlib and a cdylib).\n")
open(sys.argv[2], "w").write(header % "1.9.1" + text)
EOF

if [ "${1:-}" = --check ]; then
  if ! diff -r "$out" "$DEST" >&2; then
    die "$DEST differs from llguidance $VERSION as this script vendors it: run scripts/vendor-llguidance.sh"
  fi
  log "$DEST is llguidance $VERSION (rlib only)"
else
  rm -rf "$DEST"
  mkdir -p "$(dirname "$DEST")"
  cp -r "$out" "$DEST"
  log "wrote $DEST"
fi
