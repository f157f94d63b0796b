package dev.pocketlm.samples.keyboard

import android.accessibilityservice.AccessibilityServiceInfo
import android.content.Context
import android.content.Intent
import android.view.accessibility.AccessibilityNodeInfo
import android.view.accessibility.AccessibilityWindowInfo
import android.view.inputmethod.InputMethodManager
import android.widget.EditText
import androidx.test.platform.app.InstrumentationRegistry
import dev.pocketlm.samples.devicetest.DeviceTest
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Before
import org.junit.Test

/**
 * The keyboard sample as a user meets it, on an emulator: the PocketLM keyboard enabled and
 * selected, its keys tapped (through accessibility, like a finger) in the settings screen's
 * EditText, "tomorrow" appearing in the strip for "See you tomor", and a tap on it giving
 * "See you tomorrow ". The decisions are the shared KeyboardCore's (tested in Rust by
 * rust/pocketlm-ffi keyboard_core, on the JVM by EndToEndTest); this checks the service, the view and the system wiring.
 */
class KeyboardImeTest {
    private val instrumentation = InstrumentationRegistry.getInstrumentation()
    private val context: Context = instrumentation.targetContext
    private val ime = "${context.packageName}/${PocketKeyboardService::class.java.name}"

    @Before
    fun enableTheKeyboard() {
        val model = InstrumentationRegistry.getArguments().getString("pocketlmModel") ?: DeviceTest.DEFAULT_MODEL
        DeviceTest.installModel(instrumentation, model, context.filesDir)
        DeviceTest.shell(instrumentation, "ime enable $ime")
        DeviceTest.shell(instrumentation, "ime set $ime")
        val automation = instrumentation.uiAutomation
        automation.serviceInfo = automation.serviceInfo.apply {
            flags = flags or AccessibilityServiceInfo.FLAG_RETRIEVE_INTERACTIVE_WINDOWS
        }
    }

    @After
    fun resetTheKeyboard() {
        DeviceTest.shell(instrumentation, "ime reset")
    }

    @Test
    fun typeSeeTheStripAndTapASuggestion() {
        val enabled = DeviceTest.shell(instrumentation, "ime list -s")
        check(ime in enabled) { "the PocketLM keyboard is not enabled: ime list -s gave $enabled" }

        val activity = instrumentation.startActivitySync(
            Intent(context, SettingsActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK)
        )
        val field = DeviceTest.onMain(instrumentation) {
            DeviceTest.views(activity.window.decorView).filterIsInstance<EditText>().single()
        }
        instrumentation.runOnMainSync {
            field.requestFocus()
            (context.getSystemService(Context.INPUT_METHOD_SERVICE) as InputMethodManager).showSoftInput(field, 0)
        }
        DeviceTest.waitFor("the PocketLM keyboard's q key") { imeNode { it.text?.toString().equals("q", ignoreCase = true) } }

        for (c in "see you tomor") tapKey(if (c == ' ') "space" else c.toString())
        DeviceTest.waitFor("the field to read \"See you tomor\"") {
            DeviceTest.onMain(instrumentation) { field.text.toString() }.takeIf { it == "See you tomor" }
        }

        val tomorrow = DeviceTest.waitFor("\"tomorrow\" in the suggestion strip", timeoutMs = 120_000) {
            imeNode { it.text?.toString() == "tomorrow" && it.isClickable }
        }
        check(tomorrow.performAction(AccessibilityNodeInfo.ACTION_CLICK)) { "tapping the suggestion failed" }
        val text = DeviceTest.waitFor("the field to read \"See you tomorrow \"") {
            DeviceTest.onMain(instrumentation) { field.text.toString() }.takeIf { it == "See you tomorrow " }
        }
        assertEquals("See you tomorrow ", text)
        activity.finish()
    }

    /** Taps the keyboard's key labelled [label] (letters match either case: shift changes them). */
    private fun tapKey(label: String) {
        val key = DeviceTest.waitFor("the key '$label'") {
            imeNode { it.text?.toString().equals(label, ignoreCase = true) && it.isClickable }
        }
        check(key.performAction(AccessibilityNodeInfo.ACTION_CLICK)) { "tapping '$label' failed" }
        instrumentation.waitForIdleSync()
    }

    /** The first node of the input method's window that [match] accepts, or null. */
    private fun imeNode(match: (AccessibilityNodeInfo) -> Boolean): AccessibilityNodeInfo? {
        val window = instrumentation.uiAutomation.windows.firstOrNull { it.type == AccessibilityWindowInfo.TYPE_INPUT_METHOD }
        val root = window?.root ?: return null
        val queue = ArrayDeque(listOf(root))
        while (queue.isNotEmpty()) {
            val node = queue.removeFirst()
            if (match(node)) return node
            for (i in 0 until node.childCount) node.getChild(i)?.let { queue.add(it) }
        }
        return null
    }
}
