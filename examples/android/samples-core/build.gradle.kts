// The samples' platform-neutral logic (no android.* imports): the keyboard and reply controllers,
// the field policy, text unit conversions, model install. An Android library only because it uses
// the PocketLM library module; its tests run on the JVM against the real model through
// `make test-kotlin` (scripts/test-kotlin.sh), not through Gradle.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.pocketlm.samples"
    compileSdk = 35
    defaultConfig {
        minSdk = 23
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    api(project(":pocketlm"))
}
