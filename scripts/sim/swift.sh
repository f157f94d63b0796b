#!/usr/bin/env bash
# The iOS keyboard sample's simulator (docs/samples.md#keyboard-simulator): builds SampleCore's
# `SampleSim` executable in the Swift chroot (cached: SwiftPM rebuilds only what changed) and runs
# it on stdin, driving the shared keyboard controller (Rust's KeyboardCore) through the sample's
# KeyboardGlue on the real model.
#
#   scripts/sample-sim.sh swift [--model M] < events.jsonl
#
# --model M   the GGUF model (default models/SmolLM2-135M-Instruct.Q4_1.gguf, or $POCKETLM_MODEL)
# Build messages go to stderr; stdout carries only the simulator's JSON lines.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_ROOT"

model="${POCKETLM_MODEL:-$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
while [ $# -gt 0 ]; do
  case "$1" in
    --model) [ $# -ge 2 ] || die "--model needs a path"; model="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (usage: scripts/sample-sim.sh swift [--model M] < events.jsonl)" ;;
  esac
done
[ -f "$model" ] || die "model $model is missing: run scripts/fetch-models.sh (make models)"
model_real="$(readlink -f "$model")"

bash scripts/setup-swift.sh >&2 || die "scripts/setup-swift.sh failed"
target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
libdir="$(build_host_ffi)" || die "cargo build -p pocketlm-ffi failed"
target_dir="$(cd "$target_dir" && pwd -P)"

binds=(--bind "$(dirname "$model_real")" --bind "$POCKETLM_CACHE/swift-build")
case "$target_dir/" in "$REPO_ROOT"/*) ;; *) binds+=(--bind "$target_dir") ;; esac

swift_samples_mirror || die "cannot mirror examples/ios/SampleCore"
pkg="$SWIFT_SAMPLES_DIR/src/examples/ios/SampleCore"
scratch="$SWIFT_SAMPLES_DIR/scratch"
scripts/swift-chroot.sh "${binds[@]}" -C "$pkg" \
  swift build --quiet --product SampleSim --scratch-path "$scratch" \
  -Xlinker -L"$libdir" -Xlinker -rpath -Xlinker "$libdir" </dev/null >&2 ||
  die "building SampleSim failed (see above)"
bin="$(scripts/swift-chroot.sh "${binds[@]}" -C "$pkg" \
  swift build --product SampleSim --scratch-path "$scratch" --show-bin-path </dev/null)"

# The simulator reads stdin itself; the mirror's lock is released once it is built.
flock -u 8
exec scripts/swift-chroot.sh "${binds[@]}" -C "$pkg" -e LD_LIBRARY_PATH="$libdir" \
  "$bin/SampleSim" --model "$model_real"
