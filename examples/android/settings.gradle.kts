// The Android samples: one Gradle build with the two apps, their shared logic (samples-core) and
// the PocketLM library module itself (../../android/pocketlm), so a change to the library is seen
// by the samples at once. Open this directory in Android Studio, or run
// `./gradlew :keyboard:assembleDebug :reply:assembleDebug` (see README.md).
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
rootProject.name = "pocketlm-samples"
include(":pocketlm")
project(":pocketlm").projectDir = file("../../android/pocketlm")
include(":samples-core", ":keyboard", ":reply")
