// The library module `:pocketlm` -> pocketlm-release.aar, which packs:
//   - the idiomatic Kotlin layer (src/main/kotlin, package dev.pocketlm),
//   - the generated uniffi bindings (../../bindings/kotlin, package dev.pocketlm.ffi),
//   - libpocketlm_ffi.so for arm64-v8a (phones) and x86_64 (emulators) in jniLibs/, built from
//     rust/pocketlm-ffi by scripts/build-android.sh (cargo-ndk, or cargo + the NDK's clang; the
//     `mobile` Cargo profile: size-optimised, stripped) before every build (preBuild).
// Not built in this repo's CI (no Android SDK there): scripts/check-android.sh compiles these
// sources against API 23's android.jar, scripts/test-kotlin.sh tests them on the JVM.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
    `maven-publish`
}

/** The ABIs the AAR ships; scripts/build-android.sh builds exactly these. */
val pocketlmAbis = listOf("arm64-v8a", "x86_64")
val repoRoot: File = rootProject.projectDir.parentFile
val jniLibsDir: File = file("src/main/jniLibs")

android {
    namespace = "dev.pocketlm"
    compileSdk = 35
    defaultConfig {
        minSdk = 23
        ndk { abiFilters += pocketlmAbis }
        // JNA finds the generated bindings' classes by reflection: keep them in apps that shrink.
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin", "../../bindings/kotlin")
    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    publishing {
        singleVariant("release") { withSourcesJar() }
    }
}

val buildRustLibrary by tasks.registering(Exec::class) {
    group = "build"
    description = "Builds libpocketlm_ffi.so for ${pocketlmAbis.joinToString()} into src/main/jniLibs " +
        "(scripts/build-android.sh; needs the Android NDK or cargo-ndk, and Rust)"
    workingDir = repoRoot
    commandLine(listOf("bash", "scripts/build-android.sh", "--out", jniLibsDir.path) +
        pocketlmAbis.flatMap { listOf("--abi", it) })
    // Rebuild only when the Rust sources or the build settings change.
    inputs.dir(repoRoot.resolve("rust"))
    inputs.files(repoRoot.resolve("Cargo.toml"), repoRoot.resolve("Cargo.lock"),
        repoRoot.resolve("scripts/build-android.sh"))
    outputs.dir(jniLibsDir)
    isIgnoreExitValue = true
    doFirst {
        // The NDK the Android Gradle plugin knows about (local.properties `ndk.dir` or the SDK's
        // side-by-side NDK), unless ANDROID_NDK_HOME is set already.
        if (System.getenv("ANDROID_NDK_HOME").isNullOrEmpty()) {
            runCatching { android.ndkDirectory }.getOrNull()?.takeIf { it.isDirectory }
                ?.let { environment("ANDROID_NDK_HOME", it.path) }
        }
    }
    doLast {
        when (val code = executionResult.get().exitValue) {
            0 -> Unit
            2 -> throw GradleException(
                "PocketLM: the Android NDK (or cargo-ndk) is missing, so libpocketlm_ffi.so cannot " +
                    "be built. Install the NDK (SDK Manager > SDK Tools > NDK (Side by side)) and set " +
                    "ANDROID_NDK_HOME or ndk.dir in local.properties, and install Rust (rustup). " +
                    "Details above, from scripts/build-android.sh."
            )
            else -> throw GradleException(
                "PocketLM: scripts/build-android.sh failed (exit $code) while building " +
                    "libpocketlm_ffi.so; see its output above."
            )
        }
    }
}
tasks.named("preBuild") { dependsOn(buildRustLibrary) }

dependencies {
    // uniffi's generated code calls the native library through JNA (the AAR brings libjnidispatch).
    implementation("net.java.dev.jna:jna:5.13.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.0")
}

// The Maven artifact a release publishes (`make android-publish VERSION=X.Y.Z`,
// .github/workflows/release.yml): dev.pocketlm:pocketlm:X.Y.Z in the GitHub Packages registry of
// this repository (GITHUB_REPOSITORY, GITHUB_ACTOR, GITHUB_TOKEN from the workflow).
publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "dev.pocketlm"
            artifactId = "pocketlm"
            version = (findProperty("pocketlmVersion") as String?) ?: "0.1.0-SNAPSHOT"
            afterEvaluate { from(components["release"]) }
            pom {
                name.set("PocketLM")
                description.set("On-device 4-bit small language models for Android keyboards and reply drafting")
                licenses { license { name.set("Apache-2.0") } }
            }
        }
    }
    repositories {
        maven {
            name = "GitHubPackages"
            url = uri("https://maven.pkg.github.com/${System.getenv("GITHUB_REPOSITORY") ?: "pocketlm/pocketlm"}")
            credentials {
                username = System.getenv("GITHUB_ACTOR")
                password = System.getenv("GITHUB_TOKEN")
            }
        }
    }
}
