#!/usr/bin/env bash
# Cross-tests the kernels and the real-model suites on aarch64 under qemu-user.
#
#  1. builds tests/kernels.rs once for aarch64-unknown-linux-gnu (test profile: opt-level 3);
#  2. runs it under QEMU_CPU=cortex-a72 (NEON only), cortex-a76 (+dotprod), max (+i8mm): each
#     CPU must report exactly the tiers it supports (a72 must never reach SDOT), and each tier is
#     checked against scalar under the least CPU that has it;
#  3. runs tests/greedy.rs (SmolLM2 end to end: greedy tokens against llama.cpp's, the
#     `pocketlm convert`ed copy bit-identical) under the same three CPUs, i.e. on each tier;
#  4. runs the real-model suites under cortex-a76 (dotprod, the common phone tier):
#     tests/alloc.rs whole (no heap allocation per decoded token), and the parts of
#     tests/engine.rs, tests/keyboard.rs and tests/reply.rs that run the kernels (session
#     invariants, keyboard predictions, reply drafts); their bad-input and load-error tests are
#     target-independent and run on x86 only, which keeps this step within CI time (AARCH64_FULL=1
#     runs every test of those suites); and tests/families.rs on its two smallest-vocabulary
#     families, phi3 and granite (random-weight models against llama.cpp's references, F16 and
#     phi3 Q4_K_M and granite Q4_0, ~30 s more; phi3 Q4_K_M's converted copy bit-identical: the
#     interleaved Q4_K and Q6_K kernels in a model), the low-bit formats IQ4_NL, IQ4_XS, Q3_K_M and
#     Q2_K on llama3, LFM2's short convolutions (Q4_0, and rewinds) and Gemma 4's per-layer
#     inputs and shared KV layers (Q4_0, ~40 s) and Qwen3.5's DeltaNet recurrence (its aarch64
#     multiply-add loops; Q4_0, and rewinds) (20-40 s each); the
#     others differ in graph options and vocabulary size, not kernels, and run on x86: the
#     262k-row output of gemma2 alone takes over 9 minutes under qemu); and tests/snapshot.rs's
#     parts on both models (a restored session's logits bit-identical to the uninterrupted
#     one's: SmolLM2 about 50 s, Gemma 3 about 3 min for its 262k-row output); and tests/lora.rs's parity test
#     on SmolLM2 (its rank-8 adapter, F32 and Q8_0, against llama.cpp with the same adapter; Gemma 3's rank-16
#     one, the same adapter code over its 262k-row output, took ~270 s of the step's 446 s
#     under qemu on a loaded machine (SmolLM2's alone: 176 s) and runs on x86 in test-rust;
#     AARCH64_FULL=1 runs it here);
# (The Android and iOS compile checks are make test-mobile-libs's: it builds the FFI crate, and
# so the core, for aarch64-linux-android and aarch64-apple-ios.)
# Each step logs its wall time.
# Ends with "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[test-aarch64] %s\n' "$*" >&2; }

passed=0
failed=0
ok() { passed=$((passed + 1)); log "PASS: $*"; }
bad() { failed=$((failed + 1)); log "FAIL: $*"; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if ! bash scripts/setup-cross.sh; then
  bad "setup-cross.sh"
  finish
fi

SYSROOT=/usr/aarch64-linux-gnu
# qemu's "max" CPU with its fast implementation-defined pointer authentication: Debian's arm64
# libraries are built with branch protection, and the architected algorithm (QARMA) makes every
# PAC instruction costly to emulate. The features the kernels use are the same.
QEMU_MAX="max,pauth-impdef=on"
TARGET=aarch64-unknown-linux-gnu
build_json="$(mktemp)"
trap 'rm -f "$build_json"' EXIT
# Builds rust/pocketlm/tests/$1.rs for $TARGET and prints the test binary's path (nothing if
# the build failed).
test_bin() {
  log "building tests/$1.rs for $TARGET"
  if cargo test --target "$TARGET" -p pocketlm --test "$1" --no-run --message-format=json \
    >"$build_json"; then
    grep -o "\"executable\":\"[^\"]*$1-[^\"]*\"" "$build_json" | tail -1 | cut -d'"' -f4
  fi
}

bin="$(test_bin kernels)"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  bad "build of tests/kernels.rs for $TARGET"
else
  ok "build of tests/kernels.rs for $TARGET"
  # cpu:the tiers it must report:the tiers checked under it. A tier's code is emulated the same
  # under every CPU model, so each is checked once, under the least CPU that has it
  # (POCKETLM_TEST_TIERS); every CPU still reports all of its tiers.
  for spec in "cortex-a72:Scalar, Neon:scalar,neon" "cortex-a76:Scalar, Neon, Dotprod:dotprod" \
    "$QEMU_MAX:Scalar, Neon, Dotprod, I8mm:i8mm"; do
    cpu="${spec%%:*}"
    rest="${spec#*:}"
    want="[${rest%%:*}]"
    checked="${rest#*:}"
    out="$(mktemp)"
    log "running under qemu -cpu $cpu"
    start=$SECONDS
    # (kernel_env_override starts its children through the same qemu command line itself)
    QEMU_CPU="$cpu" POCKETLM_TEST_TIERS="$checked" qemu-aarch64 -L "$SYSROOT" "$bin" --nocapture \
      --test-threads=2 >"$out" 2>&1
    rc=$?
    got="$(grep -o 'kernel tiers on this CPU: \[.*\]' "$out" | head -1 | sed 's/.*: //')"
    ran="$(grep -o 'tier [a-z0-9]*: ok' "$out" | awk '{print $2}' | tr -d ':' | paste -sd' ')"
    want_ran="$(tr ',' ' ' <<<"$checked")"
    # the f16-KV attention kernels (tests/kernels/attention.rs) on every SIMD tier
    att="$(grep -o 'attention \[[a-z0-9]*\]: matches' "$out" | cut -d'[' -f2 | cut -d']' -f1 |
      paste -sd' ')"
    want_att="${want_ran#scalar }"
    want_att="${want_att#scalar}"
    summary="$(grep -E '^test result:' "$out" | tail -1)"
    log "$cpu: supported tiers $got; tiers that ran and matched scalar: $ran; $summary"
    if [ "$rc" -ne 0 ]; then
      grep -E 'panicked|FAILED|failures:' "$out" | head -20 >&2
      bad "kernel tests under $cpu (exit $rc)"
    elif [ "$got" != "$want" ]; then
      bad "$cpu reports tiers $got, expected $want"
    elif [ "$ran" != "$want_ran" ]; then
      bad "$cpu ran tiers '$ran', expected '$want_ran'"
    elif [ "$att" != "$want_att" ]; then
      bad "$cpu ran the attention kernels on '$att', expected '$want_att'"
    else
      ok "kernel tests under $cpu in $((SECONDS - start)) s ($ran; attention: $att)"
    fi
    rm -f "$out"
  done
fi

bash scripts/fetch-models.sh >&2
bash scripts/gen-random-models.sh >/dev/null || bad "scripts/gen-random-models.sh"
bash scripts/gen-random-loras.sh >/dev/null || bad "scripts/gen-random-loras.sh"
gbin="$(test_bin greedy)"
if [ -z "$gbin" ] || [ ! -x "$gbin" ]; then
  bad "build of tests/greedy.rs for $TARGET"
else
  for spec in cortex-a72:neon cortex-a76:dotprod "$QEMU_MAX:i8mm"; do
    cpu="${spec%%:*}"
    tier="${spec#*:}"
    out="$(mktemp)"
    log "SmolLM2 greedy under qemu -cpu $cpu"
    start=$SECONDS
    QEMU_CPU="$cpu" qemu-aarch64 -L "$SYSROOT" "$gbin" --nocapture >"$out" 2>&1
    rc=$?
    line="$(grep -o 'greedy on tier [a-z0-9]*: [0-9]* tokens matched llama.cpp' "$out" | head -1)"
    if [ "$rc" -ne 0 ]; then
      grep -E 'panicked|FAILED' -A3 "$out" | head -20 >&2
      bad "SmolLM2 greedy under $cpu (exit $rc)"
    elif [[ "$line" != "greedy on tier $tier:"* ]]; then
      bad "SmolLM2 greedy under $cpu: expected tier $tier, got '$line'"
    else
      ok "SmolLM2 greedy under $cpu in $((SECONDS - start)) s ($line)"
    fi
    rm -f "$out"
  done
fi

# The real-model suites under cortex-a76: "suite|test-name filters (empty: all)".
SUITE_CPU=cortex-a76
suites=(
  "alloc|"
  "engine|chunked_prefill rollback eval_batch fork_is_independent batched_multi_token copy_from"
  "keyboard|incremental_equals typing_reuses the_empty_fields completions_keep next_words_are corrections_for accept_replaces"
  "reply|smollm2_template streamed_deltas max_tokens_and_stop drafts_three drafting_reuses"
  "families|phi3_f16 granite_f16 phi3_q4_k_m phi3_converted granite_q4_0 llama3_iq4_nl llama3_iq4_xs llama3_q3_k_m llama3_q2_k lfm2_q4_0 lfm2_truncate gemma4_q4_0 qwen35_q4_0 qwen35_truncate"
  "snapshot|smollm2_resumes_bit_identically gemma3_resumes_bit_identically snapshot_without_logits hostile_headers mapped_prefix rewind_into_the_mapped a_mapped_snapshot"
  "lora|smollm2_rank8_adapter_matches_llama_cpp smollm2_rank8_q8_0_adapter phi3_fused_output_and_embedding an_adapted_output_head"
)
# Under qemu on a loaded 2-core machine alloc took ~29 min and the keyboard subset ~7 min, too
# long for every `make test`: by default only the engine subset, the architecture families'
# parity against llama.cpp (tests/families.rs, random-weight models), the snapshot subset (both
# models, ~4 min) and SmolLM2's adapter parity run; AARCH64_SUITES="alloc
# engine keyboard reply families" (or AARCH64_FULL=1, every test of every suite) runs the rest.
wanted=" ${AARCH64_SUITES:-engine families snapshot lora} "
[ "${AARCH64_FULL:-0}" = 1 ] && wanted=" alloc engine keyboard reply families snapshot lora "
for entry in "${suites[@]}"; do
  suite="${entry%%|*}"
  filters="${entry#*|}"
  [[ "$wanted" == *" $suite "* ]] || continue
  [ "${AARCH64_FULL:-0}" = 1 ] && filters=""
  sbin="$(test_bin "$suite")"
  if [ -z "$sbin" ] || [ ! -x "$sbin" ]; then
    bad "build of tests/$suite.rs for $TARGET"
    continue
  fi
  out="$(mktemp)"
  log "tests/$suite.rs under qemu -cpu $SUITE_CPU${filters:+ (only: $filters)}"
  start=$SECONDS
  # shellcheck disable=SC2086 # the filters are separate words
  QEMU_CPU="$SUITE_CPU" qemu-aarch64 -L "$SYSROOT" "$sbin" --test-threads=2 $filters >"$out" 2>&1
  rc=$?
  summary="$(grep -E '^test result:|\.\.\. ok \(' "$out" | tail -1)"
  if [ "$rc" -ne 0 ]; then
    grep -E 'panicked|FAILED|failures:' -A3 "$out" | head -30 >&2
    bad "tests/$suite.rs under $SUITE_CPU (exit $rc, $((SECONDS - start)) s)"
  elif [ -z "$summary" ] || grep -q '^test result: ok. 0 passed' <<<"$summary"; then
    bad "tests/$suite.rs under $SUITE_CPU ran no test"
  else
    ok "tests/$suite.rs under $SUITE_CPU in $((SECONDS - start)) s ($summary)"
  fi
  rm -f "$out"
done

finish
