#!/usr/bin/env bash
# third_party/llguidance and third_party/derivre: llguidance 1.9.1 and its regex engine derivre
# 0.3.13 from crates.io, with their Cargo.toml changed and, in llguidance, three lines of
# src/lib.rs and src/logging.rs (below); nothing else in the source.
#
# llguidance: its C API (src/ffi.rs, the llg_* functions) is compiled only with a new feature
# `ffi`, which nothing enables. A cdylib exports every `#[no_mangle]` function of every crate it
# links, so the 51 functions of that API, and everything they reach, stayed in PocketLM's
# library although nothing calls them (docs/structured.md#size). Its Logger records nothing
# without a new feature `logs` (one line of src/logging.rs): PocketLM sets the log level to 0,
# so the formatting code of its log and warning messages was dead weight.
#
# llguidance: its library is built as an rlib only. The published crate declares
# `crate-type = ["staticlib", "rlib", "cdylib"]`, and cargo builds (and links) every declared
# crate type of a dependency. Linking its cdylib for aarch64-linux-android or aarch64-apple-ios
# needs the NDK or Xcode linker, which this repository's machine cannot have, so every mobile
# compile check failed; on a real runner it costs a second link of the whole grammar engine that
# nothing uses.
#
# Both: regex-syntax without its default features, so that the mobile library does not carry
# regex-syntax's Unicode property tables (general category, scripts, ages, boolean properties,
# segmentation: most of what it adds; docs/structured.md#size). Cargo unifies features, so
# every crate that depends on regex-syntax must opt out: pocketlm's own Cargo.toml lists the
# features kept (std, unicode-perl for \d \w \s, unicode-case for (?i)).
#
# The root Cargo.toml's `[patch.crates-io]` points at these copies.
#
#   scripts/vendor-llguidance.sh           (re)write third_party/{llguidance,derivre}
#   scripts/vendor-llguidance.sh --check   fail if either differs from what this script writes
#
# The .crate files are downloaded once (cached in ~/.cache/pocketlm) and checked by sha256.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

mode="${1:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# vendor NAME VERSION SHA256: unpack the .crate into $work/NAME-VERSION and copy its library
# sources, licence and readme (not its tests, benches, binaries, C header or build script) to
# $work/out-NAME; the Cargo.toml is rewritten by edit_manifest.
vendor() {
  local name="$1" version="$2" sha256="$3"
  local url="https://static.crates.io/crates/$name/$name-$version.crate"
  local crate="$POCKETLM_CACHE/crates/$name-$version.crate"
  if [ ! -f "$crate" ] || ! echo "$sha256  $crate" | sha256sum -c --quiet 2>/dev/null; then
    mkdir -p "$(dirname "$crate")"
    log "downloading $url"
    curl -fsSL --retry 3 -o "$crate.part" "$url"
    echo "$sha256  $crate.part" | sha256sum -c --quiet || die "sha256 mismatch for $url"
    mv "$crate.part" "$crate"
  fi
  tar -xzf "$crate" -C "$work"
  local src="$work/$name-$version" out="$work/out-$name"
  mkdir -p "$out"
  cp -r "$src/src" "$src/LICENSE" "$src/README.md" "$out/"
  python3 - "$name" "$version" "$src/Cargo.toml" "$out/Cargo.toml" <<'EOF'
import re, sys
name, version, src, dst = sys.argv[1:]
text = open(src).read()
notes = []
if name == "llguidance":
    # rlib only (see the script's header)
    text, n = re.subn(r'crate-type = \[[^\]]*\]', 'crate-type = ["rlib"]', text)
    assert n == 1, "crate-type not found"
    notes.append("crate-type rlib only (the published crate also builds a staticlib and a cdylib)")
    # no build script in the copy (it only copies the C header next to the cdylib)
    text, n = re.subn(r'^build = "build.rs"$', 'build = false', text, flags=re.M)
    assert n == 1, "build script line not found"
    # cbindgen only serves the build script
    text = re.sub(r'\n\[build-dependencies\.cbindgen\]\n(?:[^\[\n][^\n]*\n)*', '\n', text + '\n')
    text = text.replace('generate-header = ["dep:cbindgen"]\n', '')
    # its C API behind a feature (see the lib.rs edit below)
    text, n = re.subn(r'^lark = \[\]$', 'ffi = []\nlark = []\nlogs = []', text, flags=re.M)
    assert n == 1, "lark feature not found"
    notes.append("its C API (src/ffi.rs, the llg_* functions) only with a new feature `ffi`, off")
    notes.append("its Logger records nothing without a new feature `logs`, off (src/logging.rs)")
# regex-syntax without its default features (see the script's header)
text, n = re.subn(r'(\n\[dependencies\.regex-syntax\]\nversion = "[^"]*"\n)',
                  r'\1default-features = false\nfeatures = ["std"]\n', text)
assert n == 1, "regex-syntax dependency not found"
notes.append("regex-syntax without default features (no Unicode property tables)")
# no binaries, tests or benches in the copy; the dev-dependencies only serve the tests
text = re.sub(r'\n\[\[(bin|test|bench)\]\]\n(?:[^\[\n][^\n]*\n)*', '\n', text)
text = re.sub(r'\n\[dev-dependencies\.[a-z_-]+\]\n(?:[^\[\n][^\n]*\n)*', '\n', text + '\n')
text = re.sub(r'\n{3,}', '\n\n', text)
header = "# Vendored by scripts/vendor-llguidance.sh from %s %s on crates.io:\n" % (name, version)
header += "".join("# - %s.\n" % n for n in notes)
open(dst, "w").write(header + text)
EOF
  if [ "$name" = derivre ]; then
    rm "$out/src/derivre.rs" # the crate's command-line binary
  fi
  if [ "$name" = llguidance ]; then
    # The C API (src/ffi.rs: 51 `#[no_mangle] extern "C"` llg_* functions) behind a feature
    # nothing enables: a cdylib exports every no_mangle function of its dependencies, so the
    # linker kept them and all they reach (its tokenizer.json reader, ...) in our library.
    python3 - "$out/src/lib.rs" <<'LIBRS'
import sys
path = sys.argv[1]
text = open(path).read()
old = 'pub mod ffi;\n#[cfg(feature = "rayon")]\nmod ffi_par;\n'
assert text.count(old) == 1, "the ffi modules' declarations not found"
new = ('#[cfg(feature = "ffi")]\npub mod ffi;\n'
       '#[cfg(all(feature = "ffi", feature = "rayon"))]\nmod ffi_par;\n')
open(path, "w").write(text.replace(old, new))
LIBRS
    # Its log and warning messages behind a feature `logs`, off: PocketLM sets their level to
    # 0 (ParserFactory::quiet), so the formatting code behind every `infoln!`/`warn!` never ran
    # but stayed in the library.
    python3 - "$out/src/logging.rs" <<'LOGGING'
import sys
path = sys.argv[1]
text = open(path).read()
old = "        level <= self.effective_level\n"
assert text.count(old) == 1, "Logger::level_enabled not found"
open(path, "w").write(text.replace(old, '        cfg!(feature = "logs") && level <= self.effective_level\n'))
LOGGING
  fi
  if [ "$mode" = --check ]; then
    if ! diff -r "$out" "third_party/$name" >&2; then
      die "third_party/$name differs from $name $version as this script vendors it: run scripts/vendor-llguidance.sh"
    fi
    log "third_party/$name is $name $version with this script's changes only"
  else
    rm -rf "third_party/$name"
    mkdir -p third_party
    cp -r "$out" "third_party/$name"
    log "wrote third_party/$name"
  fi
}

vendor llguidance 1.9.1 04ede1356c8ee73a0d29ef573dbeb2123a1667cfc3ebfc7e2c41346a6e92c3c8
vendor derivre 0.3.13 2a4fbc4bbc70b71fbf8f4d9270006e8b238b91c6179f8aad06b6d25589494347
