// The Android glue of the shared keyboard controller (KeyboardGlue over Rust's KeyboardCore) on the
// real SmolLM2: it passes the field's text in UTF-16 units, applies the controller's edits to the
// field as one batch, and shows its states on the UI thread. The controller's own behaviour is
// tested in Rust (cargo test -p pocketlm-ffi keyboard_core).
package dev.pocketlm.samples

import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

class KeyboardGlueTest {
    private val thumbs = "\uD83D\uDC4D\uD83C\uDFFD" // 👍🏽: two scalars, four UTF-16 units, one character

    private class Glue(text: String = "", inputType: Int = 1, stateDir: String? = null) : AutoCloseable {
        val field = InMemoryTextField(text)
        val ui = EventLoop()
        val published = ArrayList<KeyboardState>()
        val glue = KeyboardGlue(field, ui) { published.add(it) }

        init {
            glue.startField(inputType)
            glue.loadModel(TestModel.path, stateDir)
            settle()
        }

        fun settle() {
            do glue.awaitIdle() while (ui.runPending() > 0)
        }

        override fun close() = glue.close()
    }

    @Test
    fun `edits reach the field in UTF-16 units, one batch per tap`() = Glue("Great $thumbs see you tomor").use { g ->
        assertEquals(ModelState.Ready, g.glue.state.modelState)
        val slot = g.glue.state.strip.indexOf("tomorrow")
        assertTrue(slot >= 0, "no \"tomorrow\" in ${g.glue.state.strip}")
        val batches = g.field.batches
        g.glue.tap(slot)
        assertEquals("Great $thumbs see you tomorrow ", g.field.text)
        assertEquals(batches + 1, g.field.batches, "the tap's delete and insert must be one batch")
        g.glue.type(".")
        assertEquals("Great $thumbs see you tomorrow.", g.field.text)

        // A backspace over an emoji with its skin tone deletes all four units.
        g.field.setText("ok $thumbs")
        g.glue.onSelectionChanged()
        g.glue.backspace(1)
        assertEquals("ok ", g.field.text)

        // A cursor moved into the text: the controller sees the text before the cursor.
        g.field.setText("See you tomorrow")
        g.field.moveToScalar(7)
        g.glue.onSelectionChanged()
        g.settle()
        g.glue.type(" s")
        g.settle()
        assertEquals("See you s tomorrow", g.field.text)
        assertEquals(9, g.field.scalarCursor)
        assertTrue(g.glue.state.strip.any { it.isNotEmpty() }, "no strip for \"See you s\"")
    }

    @Test
    fun `states arrive on the UI thread and only newer ones are drawn`() = Glue().use { g ->
        val before = g.published.size
        "See you tomor".forEach { g.glue.type(it.toString()) }
        assertEquals(before, g.published.size, "a state was drawn off the UI thread's queue")
        g.glue.awaitIdle()
        assertTrue(g.ui.pending > 0)
        g.ui.runPending()
        assertEquals("tomorrow", g.glue.state.strip[1], "${g.glue.state.strip}")
        assertEquals(g.published.last(), g.glue.state)
        assertFalse(g.glue.state.autoShift)
    }

    @Test
    fun `the field's inputType reaches the shared policy`() = Glue(inputType = 0x81).use { g ->
        "Hel".forEach { g.glue.type(it.toString()) }
        g.settle()
        assertEquals("Hel", g.field.text)
        assertEquals(SuggestionStrip.EMPTY, g.glue.state.strip)
        assertFalse(g.glue.state.autoShift)
    }

    @Test
    fun `language codes of the setting`() {
        assertEquals(listOf("en", "es", "de", "fr", "pt", "it"), KeyboardLanguage.entries.map { it.code })
        assertEquals(KeyboardLanguage.PT, KeyboardLanguage.of("pt-BR"))
        assertEquals(KeyboardLanguage.DE, KeyboardLanguage.of(" DE "))
        assertEquals(KeyboardLanguage.IT, KeyboardLanguage.of("it_IT"))
        assertEquals(null, KeyboardLanguage.of("nl"))
        assertEquals(null, KeyboardLanguage.of(""))
        assertEquals(null, KeyboardLanguage.of(null))
        // Every language of the setting is one the shared controller accepts, and reads back.
        KeyboardGlue(InMemoryTextField(), EventLoop()).use { g ->
            for (l in KeyboardLanguage.entries.drop(1)) {
                assertTrue(g.setLanguage(l), "$l")
                assertEquals(l, g.language)
            }
            assertFalse(g.setLanguage(KeyboardLanguage.entries.last()), "the same language changes nothing")
        }
    }

    @Test
    fun `a state dir gets the predictor's warm-up and the strip is the same`() {
        val dir = kotlin.io.path.createTempDirectory("kbstate").toFile()
        try {
            val stateDir = java.io.File(dir, "keyboard-state")
            val plain = Glue("See you tomor").use { it.glue.state.strip }
            val warm = Glue("See you tomor", stateDir = stateDir.path).use { it.glue.state.strip }
            assertEquals(plain, warm)
            assertEquals("tomorrow", warm[1])
            val saved = stateDir.listFiles().orEmpty()
            assertEquals(1, saved.size, "one warm-up file in ${stateDir.path}")
            assertTrue(saved[0].length() > 100_000)
        } finally {
            dir.deleteRecursively()
        }
    }
}
