// PocketLM for Android. Not built in this repo's CI (no Android SDK here); the Kotlin layer is
// compiled and tested on the JVM by scripts/test-kotlin.sh. Packaging (AAR with the
// arm64-v8a libpocketlm_ffi.so) comes with the packaging issue.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "pocketlm-android"
include(":pocketlm")
