package dev.pocketlm.samples.reply

import android.content.Intent
import android.view.View
import android.widget.Button
import android.widget.EditText
import androidx.test.platform.app.InstrumentationRegistry
import dev.pocketlm.samples.devicetest.DeviceTest
import org.junit.Assert.assertEquals
import org.junit.Test

/**
 * The reply sample on an emulator: a message typed into "Type a message from them" and received
 * gets three distinct reply chips. The drafting is the shared ReplyCore's (tested in Rust by
 * `cargo test -p pocketlm-ffi --lib reply_core`, its glue on the JVM by ReplyGlueTest); this
 * checks the activity, the model install and the native library on the device.
 */
class ReplyChipsTest {
    private val instrumentation = InstrumentationRegistry.getInstrumentation()
    private val context = instrumentation.targetContext
    private val controls = setOf("Model…", "Receive", "Write a longer reply", "Stop", "Send")

    @Test
    fun aReceivedMessageGetsThreeChips() {
        val model = InstrumentationRegistry.getArguments().getString("pocketlmModel") ?: DeviceTest.DEFAULT_MODEL
        DeviceTest.installModel(instrumentation, model, context.filesDir)
        val activity = instrumentation.startActivitySync(
            Intent(context, ReplyActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK)
        )
        val root = activity.window.decorView
        instrumentation.runOnMainSync {
            val views = DeviceTest.views(root)
            val incoming = views.filterIsInstance<EditText>().single { it.hint?.toString() == "Type a message from them" }
            val receive = views.filterIsInstance<Button>().single { it.text.toString() == "Receive" }
            incoming.setText("Can we meet tomorrow at 5?")
            receive.performClick()
        }
        val chips = DeviceTest.waitFor("three reply chips", timeoutMs = 180_000) {
            DeviceTest.onMain(instrumentation) {
                DeviceTest.views(root).filterIsInstance<Button>()
                    .filter { it.visibility == View.VISIBLE && it.text.isNotEmpty() && it.text.toString() !in controls }
                    .map { it.text.toString() }
            }.takeIf { it.size == 3 }
        }
        assertEquals("three distinct chips: $chips", 3, chips.toSet().size)
        activity.finish()
    }
}
