#!/usr/bin/env bash
# The samples' instrumented tests on a running emulator or device (`make android-device-test`;
# .github/workflows/android.yml runs it inside the x86_64 emulator):
#   1. pushes the default model to /data/local/tmp/pocketlm/ (the tests copy it into the app's
#      files directory through the shell, the way a user installs it from the settings screen);
#   2. runs `:keyboard:connectedDebugAndroidTest :reply:connectedDebugAndroidTest` in
#      examples/android with the checked-in wrapper: KeyboardImeTest (enable the IME, type in an
#      EditText with its keys, see "tomorrow" in the strip, tap it) and ReplyChipsTest (a received
#      message gets three distinct chips);
#   3. on failure, saves logcat (PocketLM's own records included, docs/bindings.md#logging) to
#      target/android-device-test/logcat.txt.
# Needs adb with one device, the models (make models), an Android SDK + NDK for the build.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
MODEL="${POCKETLM_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
DEVICE_DIR=/data/local/tmp/pocketlm
out="$REPO_ROOT/target/android-device-test"
command -v adb >/dev/null || die "adb is not on PATH (Android SDK platform-tools)"
[ -f "$MODEL" ] || die "$MODEL is missing: make models"
adb wait-for-device
adb shell mkdir -p "$DEVICE_DIR"
log "adb push $MODEL $DEVICE_DIR/model.gguf"
adb push "$MODEL" "$DEVICE_DIR/model.gguf" >&2 || die "adb push failed"
adb shell chmod 644 "$DEVICE_DIR/model.gguf"
adb logcat -c || true
status=0
android/gradlew --no-daemon -p examples/android \
  :keyboard:connectedDebugAndroidTest :reply:connectedDebugAndroidTest \
  -Pandroid.testInstrumentationRunnerArguments.pocketlmModel="$DEVICE_DIR/model.gguf" || status=$?
if [ "$status" != 0 ]; then
  mkdir -p "$out"
  adb logcat -d >"$out/logcat.txt" 2>&1 || true
  log "FAILED (exit $status); logcat in $out/logcat.txt; test reports under examples/android/*/build/reports/androidTests"
fi
adb shell ime reset >/dev/null 2>&1 || true
exit "$status"
