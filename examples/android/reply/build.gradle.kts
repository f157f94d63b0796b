// The reply sample: a conversation screen with reply chips and a streamed longer reply.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.pocketlm.samples.reply"
    compileSdk = 35
    defaultConfig {
        applicationId = "dev.pocketlm.samples.reply"
        minSdk = 23
        targetSdk = 35
        versionCode = 1
        versionName = "0.1"
        // The instrumented test (src/androidTest, ReplyChipsTest): AndroidX Test's JUnit 4 runner.
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
        ndk { abiFilters += listOf("arm64-v8a", "x86_64") }
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    sourceSets["androidTest"].java.srcDirs("src/androidTest/kotlin", "../test-support/src/androidTest/kotlin")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    implementation(project(":samples-core"))
    // Dispatchers.Main for the reply controller's UI thread.
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.0")
    // The instrumented test: framework APIs and UiAutomation only, run by AndroidJUnitRunner.
    androidTestImplementation("androidx.test:runner:1.6.2")
    androidTestImplementation("junit:junit:4.13.2")
}
