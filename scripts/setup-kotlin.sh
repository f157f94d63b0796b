#!/usr/bin/env bash
# Install the JVM Kotlin toolchain for the Kotlin binding tests (no Gradle, no network at test time):
#   - kotlin-compiler@2.4.20 from npm (the full JVM kotlinc; its lib/ ships kotlin-stdlib,
#     kotlin-test(-junit5) and kotlinx-coroutines-core-jvm 1.8.0; kotlinx-coroutines-test is NOT
#     shipped, so tests use runBlocking)
#   - Debian: a JDK (openjdk-17-jdk-headless), libjna-java (JNA 5.13 + libjnidispatch), junit5 (5.9.2)
#   - a tiny JUnit Platform runner (PocketlmJUnit, built here with javac) that prints each test's
#     result and a closing `[LABEL: ]N passed, N failed, N skipped` line; exit 1 on failures,
#     2 when no test ran.
#
#   scripts/setup-kotlin.sh          install if needed, write the env file (quiet when done)
#   scripts/setup-kotlin.sh --print  also print the env file
#   . "${POCKETLM_CACHE:-$HOME/.cache/pocketlm}/kotlin/env.sh"   then use $KOTLINC, $KOTLIN_TEST_COMPILE_CP,
#                                    $KOTLIN_TEST_RUN_CP, $POCKETLM_JUNIT_MAIN (see docs/toolchains.md)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KOTLIN_VERSION=2.4.20
DIR="$POCKETLM_CACHE/kotlin"
KOTLIN_HOME="$DIR/node_modules/kotlin-compiler"
RUNNER_DIR="$DIR/runner"
RUNNER_JAR="$RUNNER_DIR/pocketlm-junit-runner.jar"
ENV_FILE="$DIR/env.sh"
STAMP="kotlin=$KOTLIN_VERSION runner=v2"
MARKER="$DIR/.ready"
print=; [ "${1:-}" = --print ] && print=1

# --- Debian packages (checked with dpkg -s; apt-get update only if something is missing) ---
apt_ensure openjdk-17-jdk-headless libjna-java junit5
command -v npm >/dev/null || apt_ensure npm

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$STAMP" ] && [ -x "$KOTLIN_HOME/bin/kotlinc" ] \
   && [ -f "$RUNNER_JAR" ] && [ -f "$ENV_FILE" ]; then
  [ -n "$print" ] && cat "$ENV_FILE"
  exit 0
fi
start=$SECONDS
mkdir -p "$DIR"
rm -f "$MARKER"

# --- kotlinc from npm ---
installed="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$KOTLIN_HOME/package.json" 2>/dev/null | head -n1 || true)"
if [ "$installed" != "$KOTLIN_VERSION" ] || [ ! -x "$KOTLIN_HOME/bin/kotlinc" ]; then
  log "npm install kotlin-compiler@$KOTLIN_VERSION into $DIR (~90 MB)"
  npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error \
    "kotlin-compiler@$KOTLIN_VERSION" >&2
  [ -x "$KOTLIN_HOME/bin/kotlinc" ] || die "kotlinc missing after npm install ($KOTLIN_HOME/bin/kotlinc)"
fi

J=/usr/share/java
L="$KOTLIN_HOME/lib"
for f in "$J/jna.jar" "$J/junit-jupiter-api.jar" "$J/junit-platform-console-standalone.jar" \
         "$J/junit-platform-launcher.jar" "$J/opentest4j.jar" "$J/apiguardian-api.jar" \
         "$L/kotlin-stdlib.jar" "$L/kotlin-test.jar" "$L/kotlin-test-junit5.jar" \
         "$L/kotlinx-coroutines-core-jvm.jar"; do
  [ -f "$f" ] || die "expected $f after install"
done
coroutines_test=
[ -f "$L/kotlinx-coroutines-test-jvm.jar" ] && coroutines_test="$L/kotlinx-coroutines-test-jvm.jar"

# --- the JUnit Platform runner that prints `N passed, N failed, N skipped` ---
log "building the PocketlmJUnit runner"
rm -rf "$RUNNER_DIR"; mkdir -p "$RUNNER_DIR/src" "$RUNNER_DIR/classes"
cat >"$RUNNER_DIR/src/PocketlmJUnit.java" <<'JAVA'
import static org.junit.platform.engine.discovery.DiscoverySelectors.*;

import java.io.PrintWriter;
import java.nio.file.Paths;
import java.util.*;
import org.junit.platform.engine.*;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.*;
import org.junit.platform.launcher.core.*;
import org.junit.platform.launcher.listeners.*;

/**
 * Runs JUnit 5 tests through the JUnit Platform Launcher API and prints one line per test plus a
 * closing "[LABEL: ]N passed, N failed, N skipped" line.
 * Usage: PocketlmJUnit [--label L] [--quiet] (DIR|JAR | -c CLASS | -p PACKAGE)...
 * Exit: 0 all passed, 1 failures (a failed container, e.g. @BeforeAll or class init, counts as
 * one failure), 2 no test ran or bad usage.
 */
public final class PocketlmJUnit {
  private static String name(TestIdentifier id) {
    Optional<TestSource> src = id.getSource();
    if (src.isPresent() && src.get() instanceof MethodSource) {
      MethodSource m = (MethodSource) src.get();
      String cls = m.getClassName();
      return cls.substring(cls.lastIndexOf('.') + 1) + "." + id.getDisplayName();
    }
    return id.getDisplayName();
  }

  public static void main(String[] args) {
    String label = null;
    boolean quiet = false;
    List<DiscoverySelector> selectors = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--label": label = args[++i]; break;
        case "--quiet": quiet = true; break;
        case "-c": selectors.add(selectClass(args[++i])); break;
        case "-p": selectors.add(selectPackage(args[++i])); break;
        default: selectors.addAll(selectClasspathRoots(Collections.singleton(Paths.get(args[i]))));
      }
    }
    if (selectors.isEmpty()) {
      System.err.println("usage: PocketlmJUnit [--label L] [--quiet] (DIR|JAR | -c CLASS | -p PACKAGE)...");
      System.exit(2);
    }
    final boolean q = quiet;
    TestExecutionListener progress = new TestExecutionListener() {
      @Override public void executionSkipped(TestIdentifier id, String reason) {
        if (!q) System.out.println("SKIP  " + name(id) + " (" + reason + ")");
      }
      @Override public void executionFinished(TestIdentifier id, TestExecutionResult r) {
        String what = id.isTest() ? "" : "[container] ";
        switch (r.getStatus()) {
          case SUCCESSFUL: if (id.isTest() && !q) System.out.println("PASS  " + name(id)); break;
          case ABORTED: if (!q) System.out.println("SKIP  " + what + name(id) + " (aborted)"); break;
          case FAILED:
            System.out.println("FAIL  " + what + name(id) + ": "
                + r.getThrowable().map(Throwable::toString).orElse("?"));
            break;
        }
      }
    };
    SummaryGeneratingListener summary = new SummaryGeneratingListener();
    LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectors).build();
    LauncherFactory.create().execute(request, progress, summary);
    TestExecutionSummary s = summary.getSummary();
    if (s.getTotalFailureCount() > 0) {
      System.out.println();
      s.printFailuresTo(new PrintWriter(System.out, true), 12);
    }
    long passed = s.getTestsSucceededCount();
    long failed = s.getTestsFailedCount() + s.getContainersFailedCount();
    long skipped = s.getTestsSkippedCount() + s.getTestsAbortedCount();
    System.out.println((label == null ? "" : label + ": ") + passed + " passed, " + failed
        + " failed, " + skipped + " skipped");
    System.out.flush();
    System.exit(failed > 0 ? 1 : passed == 0 ? 2 : 0);
  }
}
JAVA
javac -nowarn -d "$RUNNER_DIR/classes" \
  -cp "$J/junit-platform-launcher.jar:$J/junit-platform-engine.jar:$J/junit-platform-commons.jar:$J/opentest4j.jar:$J/apiguardian-api.jar" \
  "$RUNNER_DIR/src/PocketlmJUnit.java"
jar cf "$RUNNER_JAR" -C "$RUNNER_DIR/classes" .

# --- env file ---
compile_cp="$J/junit-jupiter-api.jar:$J/junit-jupiter-params.jar:$J/opentest4j.jar:$J/apiguardian-api.jar:$J/junit-platform-commons.jar:$J/jna.jar:$L/kotlin-test.jar:$L/kotlin-test-junit5.jar:$L/kotlinx-coroutines-core-jvm.jar${coroutines_test:+:$coroutines_test}"
run_cp="$RUNNER_JAR:$J/junit-platform-console-standalone.jar:$compile_cp:$L/kotlin-stdlib.jar"
tmp="$ENV_FILE.tmp"
cat >"$tmp" <<ENV
# Written by scripts/setup-kotlin.sh; source it. Kotlin $KOTLIN_VERSION (JVM), JUnit 5.9.2, JNA 5.13.
export KOTLIN_HOME='$KOTLIN_HOME'
export KOTLINC='$KOTLIN_HOME/bin/kotlinc'
export KOTLIN_STDLIB_JAR='$L/kotlin-stdlib.jar'
export KOTLIN_TEST_JARS='$L/kotlin-test.jar:$L/kotlin-test-junit5.jar'
export KOTLINX_COROUTINES_JAR='$L/kotlinx-coroutines-core-jvm.jar'
# Empty: kotlinc's lib has no kotlinx-coroutines-test; use runBlocking in tests.
export KOTLINX_COROUTINES_TEST_JAR='$coroutines_test'
export JNA_JAR='$J/jna.jar'
export JUNIT_API_CP='$J/junit-jupiter-api.jar:$J/junit-jupiter-params.jar:$J/opentest4j.jar:$J/apiguardian-api.jar:$J/junit-platform-commons.jar'
export JUNIT_CONSOLE_JAR='$J/junit-platform-console-standalone.jar'
export POCKETLM_JUNIT_RUNNER_JAR='$RUNNER_JAR'
export POCKETLM_JUNIT_MAIN=PocketlmJUnit
# kotlinc -cp "\$KOTLIN_TEST_COMPILE_CP" ...   (kotlinc adds its own stdlib)
export KOTLIN_TEST_COMPILE_CP='$compile_cp'
# java -cp "CLASSES:\$KOTLIN_TEST_RUN_CP" \$POCKETLM_JUNIT_MAIN --label kotlin CLASSES
export KOTLIN_TEST_RUN_CP='$run_cp'
ENV
mv "$tmp" "$ENV_FILE"
echo "$STAMP" >"$MARKER"
log "ready in $((SECONDS - start)) s: kotlinc $KOTLIN_VERSION; env file $ENV_FILE"
[ -n "$print" ] && cat "$ENV_FILE"
exit 0
