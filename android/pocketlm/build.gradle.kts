// The library module: the idiomatic Kotlin layer (src/main/kotlin, package dev.pocketlm) plus
// the generated uniffi bindings (../../bindings/kotlin, package dev.pocketlm.ffi).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.pocketlm"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        ndk { abiFilters += listOf("arm64-v8a") }
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin", "../../bindings/kotlin")
    // libpocketlm_ffi.so per ABI (built by the packaging scripts from rust/pocketlm-ffi).
    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    // uniffi's generated code calls the native library through JNA.
    implementation("net.java.dev.jna:jna:5.13.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.0")
}
