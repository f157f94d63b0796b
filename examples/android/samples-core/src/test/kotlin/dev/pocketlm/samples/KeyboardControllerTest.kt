// The keyboard controller on the real SmolLM2 with an in-memory UTF-16 field and hand-driven
// executors: the test decides when the worker runs and when results reach the UI thread.
package dev.pocketlm.samples

import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** A controller on a fresh in-memory field, with both threads driven by the test. */
class KeyboardHarness(text: String = "", inputType: Int = 1, engine: KeyboardEngine? = null) {
    val field = InMemoryTextField(text)
    val ui = EventLoop()
    val worker = EventLoop()
    val published = ArrayList<KeyboardState>()
    val controller = KeyboardController(field, ui, worker) { published.add(it) }

    init {
        controller.startField(inputType)
        if (engine != null) {
            controller.loadModel { engine }
            settle()
        }
    }

    val strip: List<String>
        get() = controller.state.strip

    /** Runs the worker and the UI thread until neither has anything left. */
    fun settle() {
        while (worker.runPending() + ui.runPending() > 0) Unit
    }

    /** Types [text] one key (code point) at a time, without letting the worker run in between. */
    fun type(text: String) {
        text.codePoints().forEach { controller.type(String(Character.toChars(it))) }
    }

    fun tapWord(word: String) {
        val slot = strip.indexOf(word)
        assertTrue(slot >= 0, "\"$word\" is not in the strip $strip")
        controller.tap(slot)
    }
}

class KeyboardControllerTest {
    @Test
    fun `strip order is second, best, third`() {
        assertEquals(listOf("b", "a", "c"), SuggestionStrip.arrange(listOf("a", "b", "c")))
        assertEquals(listOf("", "a", ""), SuggestionStrip.arrange(listOf("a")))
        assertEquals(listOf("b", "a", ""), SuggestionStrip.arrange(listOf("a", "b")))
        assertEquals(SuggestionStrip.EMPTY, SuggestionStrip.arrange(emptyList()))

        val engine = TestModel.keyboardEngine()
        val bestFirst = engine.suggest("Hel")
        assertEquals(3, bestFirst.size, "the core gave $bestFirst")
        val k = KeyboardHarness(engine = engine)
        k.type("Hel")
        k.settle()
        assertEquals(listOf(bestFirst[1], bestFirst[0], bestFirst[2]), k.strip)

        // Fewer than three suggestions (the core's completion of "tomor" is "tomorrow", with
        // at most its possessive beside it): the best takes the middle slot, empty slots stay
        // empty.
        val few = engine.suggest("See you tomor")
        assertEquals("tomorrow", few.firstOrNull(), "the core gave $few")
        assertTrue(few.size < 3, "the core gave $few")
        val one = KeyboardHarness(engine = engine)
        one.type("See you tomor")
        one.settle()
        assertEquals(SuggestionStrip.arrange(few), one.strip)
        assertEquals("tomorrow", one.strip[1])
        assertEquals("", one.strip[2])
    }

    @Test
    fun `a newer request replaces the waiting one`() {
        val engine = RecordingEngine(TestModel.keyboardEngine())
        val k = KeyboardHarness(engine = engine)
        engine.calls.clear()
        k.type("Hel")
        assertEquals(1, k.worker.pending, "three keys, one waiting worker task")
        k.settle()
        assertEquals(listOf("Hel"), engine.suggestCalls)
        assertTrue(k.strip.any { it.isNotEmpty() })
    }

    @Test
    fun `a result for text the field no longer has is dropped`() {
        val engine = RecordingEngine(TestModel.keyboardEngine())
        val k = KeyboardHarness(engine = engine)
        val emptyFieldStrip = k.strip // the next-word strip of the empty field
        k.type("See you tomor")
        k.worker.runPending() // computes the strip for "See you tomor"; the result waits for the UI thread
        assertEquals(1, k.ui.pending)
        k.controller.type("x") // the user typed on meanwhile
        k.ui.runPending() // the "See you tomor" result arrives: stale
        assertEquals(emptyFieldStrip, k.strip, "the stale strip was applied")
        assertTrue("tomorrow" !in k.strip)
        k.settle()
        assertEquals(listOf("", "See you tomor", "See you tomorx"), engine.suggestCalls)
        assertEquals(SuggestionStrip.arrange(engine.suggest("See you tomorx")), k.strip)

        // The same text in a new field: still stale (another field).
        k.field.setText("")
        k.controller.startField(1)
        k.type("Hi")
        k.worker.runPending()
        k.field.setText("")
        k.controller.startField(0x81) // a password field, where the user types "Hi" again
        k.type("Hi")
        k.settle()
        assertEquals(SuggestionStrip.EMPTY, k.strip, "a result from the previous field was applied")
    }

    @Test
    fun `field policy over raw inputType values`() {
        val cases = mapOf(
            0x00000001 to FieldPolicy.ON, // TEXT
            0x00004001 to FieldPolicy.ON, // TEXT | CAP_SENTENCES
            0x00020001 to FieldPolicy.ON, // TEXT | MULTI_LINE
            0x00000061 to FieldPolicy.ON, // TEXT | PERSON_NAME
            0x00000041 to FieldPolicy.ON, // TEXT | SHORT_MESSAGE
            0x00000000 to FieldPolicy.OFF, // NULL
            0x00000002 to FieldPolicy.OFF, // NUMBER
            0x00001002 to FieldPolicy.OFF, // NUMBER | SIGNED
            0x00000012 to FieldPolicy.OFF, // NUMBER_PASSWORD (class NUMBER)
            0x00000003 to FieldPolicy.OFF, // PHONE
            0x00000004 to FieldPolicy.OFF, // DATETIME
            0x00000014 to FieldPolicy.OFF, // DATETIME | DATE
            0x00000081 to FieldPolicy.OFF, // TEXT | PASSWORD
            0x00000091 to FieldPolicy.OFF, // TEXT | VISIBLE_PASSWORD
            0x000000E1 to FieldPolicy.OFF, // TEXT | WEB_PASSWORD
            0x00000021 to FieldPolicy.OFF, // TEXT | EMAIL_ADDRESS
            0x000000D1 to FieldPolicy.OFF, // TEXT | WEB_EMAIL_ADDRESS
            0x00000011 to FieldPolicy.OFF, // TEXT | URI
            0x00080001 to FieldPolicy(suggestions = false, autoCapitalize = true), // TEXT | NO_SUGGESTIONS
            0x000C4001 to FieldPolicy(suggestions = false, autoCapitalize = true), // + CAP_SENTENCES, IME_MULTI_LINE
            0x00080081 to FieldPolicy.OFF, // a password flagged no-suggestions is still a password
        )
        for ((inputType, policy) in cases) {
            assertEquals(policy, FieldPolicy.forInputType(inputType), "inputType 0x%x".format(inputType))
        }

        // Suggestions off: the model is never called and the strip stays empty.
        val engine = RecordingEngine(TestModel.keyboardEngine())
        for (inputType in listOf(0x81, 0x2, 0x21, 0x80001)) {
            val k = KeyboardHarness(inputType = inputType, engine = engine)
            engine.calls.clear()
            k.type("Hel")
            k.settle()
            assertEquals("Hel", k.field.text)
            assertEquals(SuggestionStrip.EMPTY, k.strip)
            assertEquals(emptyList(), engine.suggestCalls, "inputType 0x%x".format(inputType))
        }
    }

    @Test
    fun `a suggestion tap is one batch and punctuation eats its space`() {
        val k = KeyboardHarness(engine = TestModel.keyboardEngine())
        k.type("See you tomor")
        k.settle()
        val batches = k.field.batches
        k.tapWord("tomorrow")
        assertEquals("See you tomorrow ", k.field.text)
        assertEquals(batches + 1, k.field.batches, "the tap's delete and insert must be one batch")
        k.settle()
        assertTrue(k.strip.any { it.isNotEmpty() }, "no next-word strip after the tap")
        k.controller.type(".")
        assertEquals("See you tomorrow.", k.field.text)

        // A space typed by the user stays.
        val typed = KeyboardHarness(engine = TestModel.keyboardEngine())
        typed.type("See you ")
        typed.controller.type(",")
        assertEquals("See you ,", typed.field.text)

        // Any other event in between ends the auto-space state.
        for (between in listOf<(KeyboardHarness) -> Unit>(
            { it.controller.type("a"); it.controller.backspace(1) },
            { it.field.moveToScalar(3); it.controller.onSelectionChanged(); it.field.moveToScalar(99); it.controller.onSelectionChanged() },
        )) {
            val h = KeyboardHarness(engine = TestModel.keyboardEngine())
            h.type("See you tomor")
            h.settle()
            h.tapWord("tomorrow")
            between(h)
            h.controller.type("!")
            assertEquals("See you tomorrow !", h.field.text)
        }
    }

    @Test
    fun `capitalization comes from the core and shift follows sentence starts`() {
        val k = KeyboardHarness(engine = TestModel.keyboardEngine())
        assertTrue(k.controller.state.autoShift, "an empty field starts a sentence")
        k.type("Hel")
        k.settle()
        assertFalse(k.controller.state.autoShift)
        // At a sentence start the core capitalizes: "Hel" -> "Help", "Here", "Hey" with SmolLM2.
        val words = k.strip.filter { it.isNotEmpty() }
        assertEquals(3, words.size, "${k.strip}")
        assertTrue(words.all { it[0].isUpperCase() && it.drop(1).all { c -> c.isLowerCase() } }, "${k.strip}")
        k.tapWord(words[0])
        k.type("there. ")
        assertTrue(k.controller.state.autoShift, "after \". \" shift is on")

        val mid = KeyboardHarness(engine = TestModel.keyboardEngine())
        mid.type("I said hel")
        mid.settle()
        assertTrue("hello" in mid.strip, "mid-sentence \"hel\" should offer \"hello\": ${mid.strip}")
        assertTrue(mid.strip.filter { it.isNotEmpty() }.all { it[0].isLowerCase() }, "${mid.strip}")

        val caps = KeyboardHarness(engine = TestModel.keyboardEngine())
        caps.type("HEL")
        caps.settle()
        assertTrue(caps.strip.filter { it.isNotEmpty() }.let { w -> w.size == 3 && w.all { it == it.uppercase() } }, "${caps.strip}")

        val noCaps = KeyboardHarness(inputType = 0x21, engine = TestModel.keyboardEngine())
        assertFalse(noCaps.controller.state.autoShift, "no auto-shift in an email field")
    }

    @Test
    fun `deletions next to emoji and combining accents`() {
        val engine = TestModel.keyboardEngine()
        val thumbs = "\uD83D\uDC4D\uD83C\uDFFD"
        val k = KeyboardHarness(text = "Un cafe\u0301 $thumbs", engine = engine)
        k.controller.backspace(1)
        assertEquals("Un cafe\u0301 ", k.field.text)
        k.controller.backspace(2)
        assertEquals("Un caf", k.field.text)
        k.controller.backspace(10)
        assertEquals("", k.field.text)
        k.controller.backspace(1)
        assertEquals("", k.field.text)

        // A tap after an emoji: the core's scalar count becomes the right UTF-16 deletion.
        val t = KeyboardHarness(text = "Great $thumbs see you tomor", engine = engine)
        t.controller.onSelectionChanged()
        t.settle()
        t.tapWord("tomorrow")
        assertEquals("Great $thumbs see you tomorrow ", t.field.text)
        assertEquals(TextUnits.scalarCount(t.field.text), t.field.scalarCursor)

        // Accented letters before the word: the tap still replaces exactly "tomor".
        val a = KeyboardHarness(text = "Un caf\u00e9 tr\u00e8s bon, see you tomor", engine = engine)
        a.controller.onSelectionChanged()
        a.settle()
        a.tapWord("tomorrow")
        assertEquals("Un caf\u00e9 tr\u00e8s bon, see you tomorrow ", a.field.text)
    }

    @Test
    fun `a new field resets the context and the state`() {
        val engine = RecordingEngine(TestModel.keyboardEngine())
        val k = KeyboardHarness(engine = engine)
        k.type("See you tomor")
        k.settle()
        k.tapWord("tomorrow")
        k.settle()
        assertNotEquals(SuggestionStrip.EMPTY, k.strip)
        engine.calls.clear()
        k.field.setText("")
        k.controller.startField(1)
        assertEquals(SuggestionStrip.EMPTY, k.strip, "the old strip must go with the old field")
        k.settle()
        assertEquals(listOf("reset", "suggest:"), engine.calls)
        assertTrue(k.controller.state.autoShift)
        k.controller.type(".") // no auto-space state carried over
        assertEquals(".", k.field.text)
    }

    @Test
    fun `model loading, ready and failed`() {
        val engine = RecordingEngine(TestModel.keyboardEngine())
        val k = KeyboardHarness()
        k.controller.loadModel { engine }
        assertEquals(ModelState.Loading, k.controller.state.modelState)
        k.type("See you tomor") // keys work while the model loads
        k.ui.runPending()
        assertEquals("See you tomor", k.field.text)
        assertEquals(SuggestionStrip.EMPTY, k.strip)
        assertEquals(ModelState.Loading, k.controller.state.modelState)
        k.settle()
        assertEquals(ModelState.Ready, k.controller.state.modelState)
        assertEquals(listOf("See you tomor"), engine.suggestCalls, "exactly one request when loading finishes")
        assertEquals("tomorrow", k.strip[1])

        val bad = KeyboardHarness()
        bad.controller.loadModel { PredictorKeyboardEngine.open("/nonexistent/model.gguf") }
        bad.settle()
        val state = bad.controller.state.modelState
        assertIs<ModelState.Failed>(state)
        assertEquals("No model: open PocketLM settings", state.message)
        assertTrue("/nonexistent/model.gguf" in state.detail, state.detail)
        bad.type("Hi")
        bad.settle()
        assertEquals("Hi", bad.field.text)
        assertEquals(SuggestionStrip.EMPTY, bad.strip)
        assertTrue(bad.published.last().modelState is ModelState.Failed)
    }

    @Test
    fun `cursor moves and outside edits bring new suggestions, own edits do not`() {
        val engine = RecordingEngine(TestModel.keyboardEngine())
        val k = KeyboardHarness(engine = engine)
        k.type("See you tomor")
        k.settle()
        engine.calls.clear()
        k.controller.onSelectionChanged() // the echo of the controller's own typing
        k.settle()
        assertEquals(emptyList(), engine.suggestCalls)
        k.field.moveToScalar(7) // "See you|"
        k.controller.onSelectionChanged()
        k.settle()
        assertEquals(listOf("See you"), engine.suggestCalls)
        assertEquals(SuggestionStrip.arrange(engine.suggest("See you")), k.strip)
    }

    @Test
    fun `memory pressure releases the predictor and suggestions keep working`() {
        val engine = RecordingEngine(TestModel.keyboardEngine())
        val k = KeyboardHarness(engine = engine)
        k.type("See you tomor")
        k.settle()
        val before = k.strip
        k.controller.onTrimMemory()
        k.controller.backspace(1)
        k.controller.type("r")
        k.settle()
        assertTrue("releaseMemory" in engine.calls)
        assertEquals(before, k.strip)
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
        // Every language of the setting is one the library accepts.
        for (l in KeyboardLanguage.entries) {
            PredictorKeyboardEngine(
                kotlinx.coroutines.runBlocking { TestModel.model.keyboardPredictor(PredictorKeyboardEngine.options(l)) },
            ).close()
        }
    }

    @Test
    fun `the language setting reopens the predictor for that language`() {
        // Gemma 3 270M: with English framing and head "Vielen Da" offers no "Dank"; German does
        // (docs/keyboard.md, the library's own language test).
        val opened = java.util.Collections.synchronizedList(ArrayList<Pair<KeyboardLanguage, RecordingEngine>>())
        val open = { l: KeyboardLanguage ->
            RecordingEngine(PredictorKeyboardEngine.open(TestModel.gemmaPath, l)).also { opened.add(l to it) }
        }
        val k = KeyboardHarness()
        assertTrue(k.controller.setLanguage(KeyboardLanguage.ES), "before the first load: sets the language")
        assertEquals(emptyList(), opened)
        assertFalse(k.controller.setLanguage(KeyboardLanguage.ES), "the same language changes nothing")
        k.controller.setLanguage(KeyboardLanguage.EN)
        k.controller.loadModel(open)
        k.settle()
        assertEquals(listOf(KeyboardLanguage.EN), opened.map { it.first })
        k.type("Vielen Da")
        k.settle()
        val english = k.strip

        assertTrue(k.controller.setLanguage(KeyboardLanguage.DE))
        assertEquals(ModelState.Loading, k.controller.state.modelState)
        assertEquals(SuggestionStrip.EMPTY, k.strip, "the old language's strip is cleared")
        k.settle()
        assertEquals(ModelState.Ready, k.controller.state.modelState)
        assertEquals(listOf(KeyboardLanguage.EN, KeyboardLanguage.DE), opened.map { it.first })
        assertTrue("close" in opened[0].second.calls, "the English predictor was not closed")
        assertEquals(listOf("Vielen Da"), opened[1].second.suggestCalls, "one request when the new predictor is ready")
        PredictorKeyboardEngine.open(TestModel.gemmaPath, KeyboardLanguage.DE).use { reference ->
            assertEquals(SuggestionStrip.arrange(reference.suggest("Vielen Da")), k.strip)
        }
        assertTrue("Dank" in k.strip, "German strip ${k.strip}")
        assertFalse("Dank" in english, "English strip $english")

        // Two changes before the worker runs: only the last language's predictor is kept.
        k.controller.setLanguage(KeyboardLanguage.FR)
        k.controller.setLanguage(KeyboardLanguage.IT)
        k.settle()
        assertEquals(KeyboardLanguage.IT, k.controller.language)
        assertEquals(listOf("en", "de", "fr", "it"), opened.map { it.first.code })
        assertTrue("close" in opened[2].second.calls, "the superseded French predictor was not closed")
        assertEquals(emptyList(), opened[2].second.suggestCalls)
        assertEquals(listOf("Vielen Da"), opened[3].second.suggestCalls)
        assertFalse("close" in opened[3].second.calls)
    }
}
