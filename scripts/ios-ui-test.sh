#!/usr/bin/env bash
# The iOS samples' UI tests on an iPhone simulator (`make ios-ui-test`; .github/workflows/ios.yml):
#   1. copies the default model into examples/ios/Resources/ (bundled by both apps, project.yml);
#   2. `xcodegen generate` in examples/ios (PocketLMSamples.xcodeproj with the UI test targets);
#   3. `xcodebuild test` of the KeyboardHost scheme (KeyboardUITests: add the PocketLM keyboard in
#      Settings, switch to it in the host app's text field, type "See you tomor", tap "tomorrow",
#      and read the extension's memory footprint while typing) and of the Reply scheme
#      (ReplyUITests: a received message gets three chips), result bundles in target/ios-ui-test/.
# Needs macOS with Xcode, XcodeGen (scripts/setup-ios-ci.sh) and ios/PocketLMFFI.xcframework
# (make ios-xcframework). SIMULATOR picks the device (default: iPhone 16).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
[ "$(uname -s)" = Darwin ] || die "macOS with Xcode only"
[ -d ios/PocketLMFFI.xcframework ] || die "ios/PocketLMFFI.xcframework is missing: make ios-xcframework"
MODEL="${POCKETLM_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[ -f "$MODEL" ] || die "$MODEL is missing: make models"
SIMULATOR="${SIMULATOR:-iPhone 16}"
out="$REPO_ROOT/target/ios-ui-test"
mkdir -p examples/ios/Resources "$out"
cp -L "$MODEL" examples/ios/Resources/SmolLM2-135M-Instruct.Q4_1.gguf
(cd examples/ios && xcodegen generate)
status=0
for scheme in KeyboardHost Reply; do
  rm -rf "$out/$scheme.xcresult"
  log "xcodebuild test -scheme $scheme ($SIMULATOR)"
  xcodebuild test -project examples/ios/PocketLMSamples.xcodeproj -scheme "$scheme" \
    -destination "platform=iOS Simulator,name=$SIMULATOR" \
    -resultBundlePath "$out/$scheme.xcresult" CODE_SIGN_IDENTITY=- CODE_SIGN_STYLE=Manual DEVELOPMENT_TEAM= || status=1
done
exit "$status"
