// The keyboard sample: an InputMethodService on PocketLM's keyboard predictor.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.pocketlm.samples.keyboard"
    compileSdk = 35
    defaultConfig {
        applicationId = "dev.pocketlm.samples.keyboard"
        minSdk = 23
        targetSdk = 35
        versionCode = 1
        versionName = "0.1"
        // The instrumented test (src/androidTest, KeyboardImeTest): AndroidX Test's JUnit 4 runner.
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
        // Real devices and the x86_64 emulator (the library packs both .so files).
        ndk { abiFilters += listOf("arm64-v8a", "x86_64") }
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    sourceSets["androidTest"].java.srcDirs("src/androidTest/kotlin", "../test-support/src/androidTest/kotlin")
    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    implementation(project(":samples-core"))
    // The instrumented test: framework APIs and UiAutomation only, run by AndroidJUnitRunner.
    androidTestImplementation("androidx.test:runner:1.6.2")
    androidTestImplementation("junit:junit:4.13.2")
}
