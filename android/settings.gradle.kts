// PocketLM for Android: the `:pocketlm` library module (the AAR). Not built in this repo's CI (no
// Android SDK there): scripts/check-android.sh compiles its sources against API 23's android.jar
// and scripts/test-kotlin.sh tests them on the JVM. Building the AAR: see android/README.md.
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
