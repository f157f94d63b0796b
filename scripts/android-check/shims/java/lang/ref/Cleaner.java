package java.lang.ref;

/**
 * Compile-only stand-in for java.lang.ref.Cleaner (Android API 33), used by scripts/check-android.sh
 * for the generated uniffi bindings ONLY. Those bindings pick the cleaner at run time: they call
 * Class.forName("java.lang.ref.Cleaner") and fall back to JNA's cleaner when it is missing (API < 33),
 * so the reference is safe on API 23, but android-23's android.jar does not declare the class.
 * Never packaged: the real class (or its absence) comes from the device.
 */
public final class Cleaner {
  private Cleaner() {}

  public interface Cleanable {
    void clean();
  }

  public static Cleaner create() {
    throw new UnsupportedOperationException("compile-only stand-in");
  }

  public Cleanable register(Object obj, Runnable action) {
    throw new UnsupportedOperationException("compile-only stand-in");
  }
}
