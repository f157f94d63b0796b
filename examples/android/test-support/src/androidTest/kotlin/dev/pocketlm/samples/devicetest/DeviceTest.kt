package dev.pocketlm.samples.devicetest

import android.app.Instrumentation
import android.os.ParcelFileDescriptor
import android.os.SystemClock
import android.view.View
import android.view.ViewGroup
import dev.pocketlm.samples.ModelInstaller
import java.io.File
import java.io.FileInputStream

/**
 * What the samples' instrumented tests share (compiled into both apps' androidTest; framework
 * APIs only): the model installed the way the settings screen installs it, shell commands run
 * through UiAutomation, view lookups and polling.
 */
object DeviceTest {
    /** Where scripts/android-device-test.sh pushes the model (instrumentation argument `pocketlmModel`). */
    const val DEFAULT_MODEL = "/data/local/tmp/pocketlm/model.gguf"

    /**
     * Copies the pushed model into the app's files directory with [ModelInstaller] (temporary
     * file, then rename), read through the shell: an app cannot open /data/local/tmp itself.
     */
    fun installModel(instrumentation: Instrumentation, path: String, filesDir: File): File {
        val pfd = instrumentation.uiAutomation.executeShellCommand("cat $path")
        val file = ParcelFileDescriptor.AutoCloseInputStream(pfd).use { ModelInstaller.install(it, filesDir) }
        check(file.length() > 1_000_000) {
            "the model copied from $path has ${file.length()} bytes: push it first (scripts/android-device-test.sh)"
        }
        return file
    }

    /** Runs a shell command as the shell user and returns its output. */
    fun shell(instrumentation: Instrumentation, command: String): String {
        val pfd = instrumentation.uiAutomation.executeShellCommand(command)
        return FileInputStream(pfd.fileDescriptor).use { it.readBytes().toString(Charsets.UTF_8) }.also { pfd.close() }
    }

    /** Every view under [root], depth first. */
    fun views(root: View): List<View> {
        val out = ArrayList<View>()
        fun walk(v: View) {
            out.add(v)
            if (v is ViewGroup) for (i in 0 until v.childCount) walk(v.getChildAt(i))
        }
        walk(root)
        return out
    }

    /** Polls [probe] every 100 ms until it returns non-null; fails with [what] after [timeoutMs]. */
    fun <T : Any> waitFor(what: String, timeoutMs: Long = 60_000, probe: () -> T?): T {
        val end = SystemClock.uptimeMillis() + timeoutMs
        while (true) {
            probe()?.let { return it }
            if (SystemClock.uptimeMillis() > end) throw AssertionError("timed out after $timeoutMs ms waiting for $what")
            SystemClock.sleep(100)
        }
    }

    /** [block]'s value, computed on the main thread. */
    fun <T> onMain(instrumentation: Instrumentation, block: () -> T): T {
        var result: Result<T>? = null
        instrumentation.runOnMainSync { result = runCatching(block) }
        return result!!.getOrThrow()
    }
}
