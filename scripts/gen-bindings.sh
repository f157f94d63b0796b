#!/usr/bin/env bash
# Generate the Kotlin and Swift bindings of rust/pocketlm-ffi (uniffi library mode, from the
# host-built library) and put them where they are checked in and used:
#   bindings/kotlin/dev/pocketlm/ffi/pocketlm_ffi.kt   (android/ and tests/kotlin compile it)
#   ios/Sources/PocketLMFFI/PocketLMFFI.swift          (the Swift package's PocketLMFFI target)
#   ios/Sources/CPocketLM/CPocketLM.h                  (its C module; scripts/build-ios.sh puts the
#                                                       same header into the XCFramework)
# The Swift side has exactly one copy, the one the package compiles. uniffi's generated module map
# is not kept: ios/Sources/CPocketLM/module.modulemap (hand-written, links the library on Linux)
# and the XCFramework's (written by scripts/build-ios.sh) replace it.
#
#   scripts/gen-bindings.sh          regenerate in place
#   scripts/gen-bindings.sh --check  regenerate into a temporary directory and fail (exit 1,
#                                    with a diff) when anything differs from the checked-in files
#
# Builds `pocketlm-ffi` (in CARGO_TARGET_DIR) and `uniffi-bindgen` (in
# $POCKETLM_CACHE/uniffi-bindgen-target, shared by clones) in release mode, separately, so uniffi's
# `cli` feature never reaches the library.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

check=
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) die "usage: scripts/gen-bindings.sh [--check]" ;;
esac

target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
case "$(uname -s)" in Darwin) so=libpocketlm_ffi.dylib ;; *) so=libpocketlm_ffi.so ;; esac

libdir="$(build_host_ffi)" || die "building pocketlm-ffi (cargo test --workspace --no-run) failed"
# The generator only depends on uniffi (pinned): build it in a target directory under the cache,
# shared by every clone, so a fresh clone does not compile uniffi's CLI again.
bindgen_target="$POCKETLM_CACHE/uniffi-bindgen-target"
cargo build --release --quiet -p uniffi-bindgen --target-dir "$bindgen_target"
lib="$libdir/$so"
bindgen="$bindgen_target/release/uniffi-bindgen"
[ -f "$lib" ] || die "missing $lib after the build"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bindgen" generate --no-format --library "$lib" --language kotlin --out-dir "$tmp/gen-kotlin" >/dev/null
"$bindgen" generate --no-format --library "$lib" --language swift --out-dir "$tmp/gen-swift" >/dev/null

# The tree of generated files, laid out as in the repo.
out="$tmp/tree"
mkdir -p "$out/bindings/kotlin/dev/pocketlm/ffi" "$out/ios/Sources/PocketLMFFI" "$out/ios/Sources/CPocketLM"
cp "$tmp/gen-kotlin/dev/pocketlm/ffi/pocketlm_ffi.kt" "$out/bindings/kotlin/dev/pocketlm/ffi/"
cp "$tmp/gen-swift/PocketLMFFI.swift" "$out/ios/Sources/PocketLMFFI/"
cp "$tmp/gen-swift/CPocketLM.h" "$out/ios/Sources/CPocketLM/"

files=(
  bindings/kotlin/dev/pocketlm/ffi/pocketlm_ffi.kt
  ios/Sources/PocketLMFFI/PocketLMFFI.swift
  ios/Sources/CPocketLM/CPocketLM.h
)

# Generated files that must no longer exist (the Swift bindings have one copy, under ios/).
stale=(bindings/swift/PocketLMFFI.swift bindings/swift/CPocketLM.h bindings/swift/CPocketLM.modulemap)

if [ -n "$check" ]; then
  drift=0
  for f in "${stale[@]}"; do
    [ -e "$f" ] && { echo "bindings drift: $f is a stale second copy (the Swift bindings live in ios/Sources)" >&2; drift=1; }
  done
  for f in "${files[@]}"; do
    if [ ! -f "$f" ]; then
      echo "bindings drift: $f is missing" >&2; drift=1
    elif ! cmp -s "$out/$f" "$f"; then
      echo "bindings drift: $f differs from what the Rust code generates:" >&2
      diff -u "$f" "$out/$f" | head -n 40 >&2 || true
      drift=1
    fi
  done
  if [ "$drift" != 0 ]; then
    die "the checked-in bindings are stale: run 'make bindings' (scripts/gen-bindings.sh) and commit the result"
  fi
  log "bindings are up to date (${#files[@]} files)"
  exit 0
fi

for f in "${stale[@]}"; do
  [ -e "$f" ] && { rm -f "$f"; log "removed the stale copy $f"; }
done
rmdir bindings/swift 2>/dev/null || true
for f in "${files[@]}"; do
  mkdir -p "$(dirname "$f")"
  if cmp -s "$out/$f" "$f" 2>/dev/null; then continue; fi
  cp "$out/$f" "$f"
  log "updated $f"
done
log "bindings generated from $lib"
