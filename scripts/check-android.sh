#!/usr/bin/env bash
# The Android compile check (`make check-android`): without an Android SDK or Gradle, compile every
# Android source with kotlinc against a real API 23 android.jar and check the XML resources.
#   - android.jar: Debian bullseye's libandroid-23-java (scripts/setup-android-jar.sh);
#     kotlinc/JNA/kotlinx-coroutines: the Kotlin toolchain (scripts/setup-kotlin.sh).
#   - `-no-jdk`: java.* comes from android.jar too, so a JDK API missing on API 23 fails here as it
#     would on a device. android.jar is LAST on the classpath.
#   - modules, each one compile check, in dependency order:
#       android/pocketlm (src/main/kotlin + the generated bindings/kotlin)       the library
#       examples/android/samples-core (pure Kotlin: must not import android.*)  if present
#       examples/android/<app> for every other dir with src/main/{kotlin,java}  picked up automatically
#     an app sees the library and samples-core; a module with res/ gets a generated R class
#     (scripts/android-check/android_res.py) and every @type/name its XML references must exist;
#     the classes its AndroidManifest.xml names (activities, services, ...) must be compiled.
#   - every AndroidManifest.xml and res/**/*.xml must be well-formed (python3 xml.etree).
#   - .java sources are compiled with javac -source 8 against android.jar as the boot classpath.
#   - an app's instrumented tests (src/androidTest/kotlin, plus the shared
#     examples/android/test-support/src/androidTest/kotlin) are compiled against the app, JUnit 4
#     (Debian's junit4) and a compile-only stand-in for AndroidX Test's InstrumentationRegistry
#     (scripts/android-check/shims/androidx); they run only on an emulator
#     (scripts/android-device-test.sh).
# The generated bindings reference java.lang.ref.Cleaner (API 33) behind a run-time
# Class.forName check; the library module alone is compiled with a compile-only stand-in for it
# (scripts/android-check/shims), never packaged.
#
# Cached by the hash of every input (sources, XML, this script, the toolchain stamps) in
# $POCKETLM_CACHE/android-check: an unchanged tree that passed prints its result again at once.
# The last line is `android-compile: N passed, N failed`; exit status non-zero on any failure.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

summary() { echo "android-compile: $1 passed, $2 failed"; }
fail_setup() { log "error: $*"; summary 0 1; exit 1; }

bash scripts/setup-kotlin.sh || fail_setup "scripts/setup-kotlin.sh failed"
bash scripts/setup-android-jar.sh || fail_setup "scripts/setup-android-jar.sh failed"
apt_ensure junit4 || fail_setup "installing junit4 failed"
JUNIT4_JAR=/usr/share/java/junit4.jar
TEST_SUPPORT=examples/android/test-support/src/androidTest/kotlin
INSTR_SHIM=scripts/android-check/shims/androidx/test/platform/app/InstrumentationRegistry.java
# shellcheck disable=SC1091
. "$POCKETLM_CACHE/kotlin/env.sh"
ANDROID_JAR="$POCKETLM_CACHE/android-jar/android-23/android.jar"
RES_PY=scripts/android-check/android_res.py

# --- the modules ---
modules=(android/pocketlm)
[ -d examples/android/samples-core ] && modules+=(examples/android/samples-core)
for d in examples/android/*/; do
  d="${d%/}"
  [ "$d" = examples/android/samples-core ] && continue
  [ -d "$d/src/main/kotlin" ] || [ -d "$d/src/main/java" ] || continue
  modules+=("$d")
done

# A module's instrumented-test sources (with the shared test support), if it has any.
module_test_sources() {
  local m="$1"
  [ -d "$m/src/androidTest/kotlin" ] || return 0
  find "$m/src/androidTest/kotlin" "$TEST_SUPPORT" -type f -name '*.kt' 2>/dev/null | sort
}

# A module's compiled sources (main only, not tests).
module_sources() {
  local m="$1" dirs=()
  for s in "$m/src/main/kotlin" "$m/src/main/java"; do [ -d "$s" ] && dirs+=("$s"); done
  [ "$m" = android/pocketlm ] && dirs+=(bindings/kotlin)
  [ "${#dirs[@]}" -gt 0 ] && find "${dirs[@]}" -type f \( -name '*.kt' -o -name '*.java' \) | sort
}

mapfile -t xml_files < <(find android examples/android -type f \
  \( -name AndroidManifest.xml -o -path '*/src/main/res/*.xml' \) -not -path '*/build/*' 2>/dev/null | sort)

# --- cache ---
hash="$( {
  echo "check-android v1"; "$KOTLINC" -version 2>&1 | head -n1; javac -version 2>&1
  cat "$POCKETLM_CACHE/android-jar/android-23/.ready"
  echo "check-android v2"
  for f in scripts/check-android.sh "$RES_PY" scripts/android-check/shims/java/lang/ref/Cleaner.java "$INSTR_SHIM"; do
    echo "== $f"; cat "$f"; done
  for m in "${modules[@]}"; do
    while read -r f; do [ -n "$f" ] && { echo "== $f"; cat "$f"; }; done < <(module_sources "$m"; module_test_sources "$m")
    [ -f "$m/build.gradle.kts" ] && { echo "== $m/build.gradle.kts"; cat "$m/build.gradle.kts"; }
  done
  for f in "${xml_files[@]}"; do echo "== $f"; cat "$f"; done
} | sha256sum | cut -c1-16)"
cache="$POCKETLM_CACHE/android-check"
mkdir -p "$cache"
if [ -f "$cache/$hash.passed" ]; then
  log "unchanged since a passing run (cache $cache/$hash.passed)"
  cat "$cache/$hash.passed"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/report"
passed=0 failed=0
pass() { echo "PASS  $*" | tee -a "$out"; passed=$((passed + 1)); }
fail() { echo "FAIL  $*" | tee -a "$out"; failed=$((failed + 1)); }

# --- XML well-formedness ---
if [ "${#xml_files[@]}" -gt 0 ]; then
  while read -r status rest; do
    case "$status" in
      PASS) pass "$rest" ;;
      FAIL) fail "$rest" ;;
    esac
  done < <(python3 "$RES_PY" xml "${xml_files[@]}")
fi

# --- the compile-only shim for the generated bindings ---
shim="$work/shim"
mkdir -p "$shim"
if ! javac -nowarn -source 8 -target 8 -bootclasspath "$ANDROID_JAR" -d "$shim" \
     scripts/android-check/shims/java/lang/ref/Cleaner.java 2>"$work/shim.log"; then
  cat "$work/shim.log" >&2
  fail_setup "could not compile the java.lang.ref.Cleaner stand-in"
fi
instr_shim="$work/instr-shim"
mkdir -p "$instr_shim"
if ! javac -nowarn -source 8 -target 8 -bootclasspath "$ANDROID_JAR" -d "$instr_shim" "$INSTR_SHIM" 2>"$work/ishim.log"; then
  cat "$work/ishim.log" >&2
  fail_setup "could not compile the InstrumentationRegistry stand-in"
fi

# --- compile each module ---
base_cp="$JNA_JAR:$KOTLINX_COROUTINES_JAR"
deps_cp=""          # classes of the modules compiled so far (library, samples-core)
for m in "${modules[@]}"; do
  mapfile -t srcs < <(module_sources "$m")
  if [ "${#srcs[@]}" = 0 ]; then fail "$m: no sources under src/main/{kotlin,java}"; continue; fi
  classes="$work/classes/${m//\//_}"
  gen="$work/gen/${m//\//_}"
  mkdir -p "$classes" "$gen"
  problems=()

  if [ "$m" = examples/android/samples-core ]; then
    hits="$(grep -lE '^\s*import\s+android(x)?\.' "${srcs[@]}" || true)"
    [ -n "$hits" ] && problems+=("samples-core must stay platform-neutral, android imports in: $(echo $hits)")
  fi

  ns="$(python3 "$RES_PY" namespace "$m" 2>/dev/null || true)"
  if [ -d "$m/src/main/res" ]; then
    if [ -z "$ns" ]; then
      problems+=("no namespace (build.gradle.kts 'namespace = ...' or the manifest's package) for its R class")
    elif ! python3 "$RES_PY" r-class "$m" "$ns" "$gen/R.kt" >"$work/r.log" 2>&1; then
      problems+=("$(sed 's/^FAIL  //' "$work/r.log" | paste -sd ';' -)")
    fi
  fi
  kt_inputs=("${srcs[@]}")
  [ -f "$gen/R.kt" ] && kt_inputs+=("$gen/R.kt")
  java_srcs=()
  for f in "${srcs[@]}"; do [[ "$f" == *.java ]] && java_srcs+=("$f"); done

  cp="${deps_cp:+$deps_cp:}$base_cp"
  [ "$m" = android/pocketlm ] && cp="$shim:$cp"
  cp="$cp:$ANDROID_JAR"
  log "kotlinc $m (${#srcs[@]} files) against android-23"
  if ! "$KOTLINC" -nowarn -no-jdk -no-reflect -jvm-target 1.8 -cp "$cp" -d "$classes" "${kt_inputs[@]}" \
       >"$work/kotlinc.log" 2>&1; then
    grep -E 'error:' "$work/kotlinc.log" | head -n 30 >&2
    problems+=("kotlinc failed ($(grep -c 'error:' "$work/kotlinc.log") errors, shown above)")
  elif [ "${#java_srcs[@]}" -gt 0 ] && ! javac -nowarn -source 8 -target 8 -bootclasspath "$ANDROID_JAR" \
       -cp "$classes:$cp" -d "$classes" "${java_srcs[@]}" >"$work/javac.log" 2>&1; then
    head -n 30 "$work/javac.log" >&2
    problems+=("javac failed (shown above)")
  elif [ -f "$m/src/main/AndroidManifest.xml" ] && [ -n "$ns" ]; then
    IFS=: read -r -a dirs <<<"$classes${deps_cp:+:$deps_cp}"
    if ! python3 "$RES_PY" components "$m/src/main/AndroidManifest.xml" "$ns" "${dirs[@]}" >"$work/c.log" 2>&1; then
      problems+=("$(sed 's/^FAIL  //' "$work/c.log" | paste -sd ';' -)")
    fi
  fi

  # The instrumented tests, against the compiled app.
  mapfile -t tsrcs < <(module_test_sources "$m")
  if [ "${#tsrcs[@]}" -gt 0 ] && [ "${#problems[@]}" = 0 ]; then
    tclasses="$work/test-classes/${m//\//_}"
    mkdir -p "$tclasses"
    tcp="$classes:$instr_shim:$JUNIT4_JAR:${deps_cp:+$deps_cp:}$base_cp:$ANDROID_JAR"
    log "kotlinc $m/src/androidTest (${#tsrcs[@]} files) against android-23 + JUnit 4"
    if "$KOTLINC" -nowarn -no-jdk -no-reflect -jvm-target 1.8 -cp "$tcp" -d "$tclasses" "${tsrcs[@]}" \
       >"$work/kotlinc-test.log" 2>&1; then
      pass "compile $m/src/androidTest (${#tsrcs[@]} files)"
    else
      grep -E 'error:' "$work/kotlinc-test.log" | head -n 30 >&2
      fail "compile $m/src/androidTest: kotlinc failed ($(grep -c 'error:' "$work/kotlinc-test.log") errors, shown above)"
    fi
  fi

  if [ "${#problems[@]}" = 0 ]; then
    pass "compile $m (${#srcs[@]} files)"
  else
    for p in "${problems[@]}"; do fail "compile $m: $p"; done
  fi
  # Apps compile against the library and samples-core.
  case "$m" in android/pocketlm | examples/android/samples-core) deps_cp="${deps_cp:+$deps_cp:}$classes" ;; esac
done

summary "$passed" "$failed" | tee -a "$out"
if [ "$failed" = 0 ]; then
  cp "$out" "$cache/$hash.passed"
  ls -1t "$cache"/*.passed 2>/dev/null | tail -n +11 | xargs -r rm -f
  exit 0
fi
exit 1
