package androidx.test.platform.app;

import android.app.Instrumentation;
import android.os.Bundle;

/**
 * Compile-only stand-in for AndroidX Test's InstrumentationRegistry (androidx.test:runner), with
 * the two methods the samples' instrumented tests call, so scripts/check-android.sh can compile
 * src/androidTest without Maven. Never packaged: Gradle builds the tests against the real one.
 */
public final class InstrumentationRegistry {
    private InstrumentationRegistry() {}

    public static Instrumentation getInstrumentation() {
        throw new UnsupportedOperationException("compile-only stand-in");
    }

    public static Bundle getArguments() {
        throw new UnsupportedOperationException("compile-only stand-in");
    }
}
