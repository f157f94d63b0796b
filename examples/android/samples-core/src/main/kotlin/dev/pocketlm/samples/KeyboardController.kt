package dev.pocketlm.samples

import java.util.concurrent.Executor
import java.util.concurrent.atomic.AtomicReference

/** What the keyboard shows: the three strip slots, the model's state, the field's policy, the shift key. */
data class KeyboardState(
    /** Exactly three slots, `[second, best, third]`; "" for an empty slot. */
    val strip: List<String>,
    val modelState: ModelState,
    val policy: FieldPolicy,
    /** Shift should be on: the policy capitalizes and the cursor is at a sentence start. */
    val autoShift: Boolean,
)

/**
 * The keyboard sample's behaviour (docs/samples.md, "Keyboard controller"), platform-neutral: the
 * input method service forwards key presses, strip taps and field changes here and draws
 * [state]. Every public method runs on the UI thread ([ui]); the model runs on [worker], one
 * request at a time, newer requests replacing a waiting one, stale results dropped. No user
 * text is logged.
 */
class KeyboardController(
    private val field: TextField,
    private val ui: Executor,
    private val worker: Executor,
    private val onStateChanged: (KeyboardState) -> Unit = {},
) {
    companion object {
        /** UTF-16 units of context asked of the field (the core bounds what it tokenizes anyway). */
        const val CONTEXT_CHARS = 400

        /** Typed right after an auto-inserted space, these replace the space ("tomorrow ." → "tomorrow."). */
        const val SPACE_EATING_PUNCTUATION = ".,!?;:"

        /** Most UTF-16 units one user-perceived character takes, for the backspace look-back. */
        private const val MAX_CLUSTER_UNITS = 32
    }

    /** One suggestion request: the field it was made in and the text before the cursor it is for. */
    private class Request(val fieldId: Int, val text: String, val engine: KeyboardEngine)

    private var engine: KeyboardEngine? = null
    private var modelState: ModelState = ModelState.Loading
    private var policy = FieldPolicy.ON
    private var strip = SuggestionStrip.EMPTY
    private var fieldId = 0

    /** The last edit was a suggestion tap whose insert ended with a space. */
    private var autoSpace = false

    /** The text before the cursor as the controller's last edit (or last look) left it. */
    private var knownText = ""

    /** The request waiting for the worker (conflation: a newer one replaces it). */
    private val pending = AtomicReference<Request?>(null)

    val state: KeyboardState
        get() = KeyboardState(strip, modelState, policy, autoShift())

    /**
     * Loads the model with [open] on the worker, for [language]; keys work meanwhile, suggestions
     * start when it is ready.
     */
    fun loadModel(open: (KeyboardLanguage) -> KeyboardEngine) {
        opener = open
        load(open)
    }

    private fun load(open: (KeyboardLanguage) -> KeyboardEngine) {
        val generation = ++loadGeneration
        val old = engine
        val forLanguage = language
        engine = null
        modelState = ModelState.Loading
        strip = SuggestionStrip.EMPTY
        pending.set(null)
        publish()
        worker.execute {
            old?.let { runCatching { it.close() } }
            val result = runCatching { open(forLanguage) }
            ui.execute {
                if (generation != loadGeneration) {
                    // A newer load (another language) started meanwhile: this engine is not used.
                    result.getOrNull()?.let { e -> worker.execute { runCatching { e.close() } } }
                    return@execute
                }
                result.fold(
                    onSuccess = { engine = it; modelState = ModelState.Ready },
                    onFailure = { modelState = ModelState.failed(it) },
                )
                publish()
                requestSuggestions()
            }
        }
    }

    /** The language the predictor is opened for (the settings screen's choice). */
    var language: KeyboardLanguage = KeyboardLanguage.DEFAULT
        private set

    /** How the current engine was opened, for a language change ([setLanguage]); null before [loadModel]. */
    private var opener: ((KeyboardLanguage) -> KeyboardEngine)? = null

    /** Bumped by every load: the result of an older load is closed, never used. */
    private var loadGeneration = 0

    /**
     * The user picked [next] in the settings: a different language reopens the predictor for it
     * on the worker (the old one is closed there; keys keep working, suggestions resume when it is
     * ready). Before [loadModel] it only sets the language the first load uses. Returns whether
     * the language changed.
     */
    fun setLanguage(next: KeyboardLanguage): Boolean {
        if (next == language) return false
        language = next
        val open = opener ?: return true
        load(open)
        return true
    }

    /** The keyboard moved to a new field with this raw Android `inputType`. */
    fun startField(inputType: Int) {
        fieldId++
        policy = FieldPolicy.forInputType(inputType)
        strip = SuggestionStrip.EMPTY
        autoSpace = false
        knownText = field.textBeforeCursor(CONTEXT_CHARS)
        engine?.let { e -> worker.execute { e.reset() } }
        publish()
        requestSuggestions()
    }

    /** A key press that types [text] (a letter, a space, punctuation, a newline). */
    fun type(text: String) {
        val eatSpace = autoSpace && text.length == 1 && text[0] in SPACE_EATING_PUNCTUATION &&
            field.textBeforeCursor(1) == " "
        field.batch {
            if (eatSpace) field.deleteBeforeCursor(1)
            field.insertAtCursor(text)
        }
        autoSpace = false
        afterOwnEdit()
    }

    /** A tap on strip slot [slot] (0 left, 1 middle, 2 right); an empty slot does nothing. */
    fun tap(slot: Int) {
        val word = strip.getOrNull(slot).orEmpty()
        val e = engine
        if (word.isEmpty() || e == null) return
        val before = field.textBeforeCursor(CONTEXT_CHARS)
        val edit = e.accept(before, word)
        val units = TextUnits.unitsOfLastScalars(before, edit.deleteChars)
        field.batch {
            if (units > 0) field.deleteBeforeCursor(units)
            field.insertAtCursor(edit.insert)
        }
        autoSpace = edit.insert.endsWith(" ")
        afterOwnEdit()
    }

    /** [count] backspaces: removes that many user-perceived characters before the cursor. */
    fun backspace(count: Int = 1) {
        val before = field.textBeforeCursor(maxOf(CONTEXT_CHARS, count * MAX_CLUSTER_UNITS))
        val units = TextUnits.unitsOfLastGraphemes(before, count)
        if (units > 0) field.batch { field.deleteBeforeCursor(units) }
        autoSpace = false
        afterOwnEdit()
    }

    /**
     * The field's selection or text changed (Android `onUpdateSelection`): a cursor move, a paste
     * or an edit by the app is followed by new suggestions; the echo of the controller's own edit
     * is ignored.
     */
    fun onSelectionChanged() {
        val now = field.textBeforeCursor(CONTEXT_CHARS)
        if (now == knownText) return
        autoSpace = false
        knownText = now
        publish()
        requestSuggestions()
    }

    /** Memory pressure (Android `onTrimMemory`): the predictor frees its caches on the worker. */
    fun onTrimMemory() {
        engine?.let { e -> worker.execute { e.releaseMemory() } }
    }

    private fun afterOwnEdit() {
        knownText = field.textBeforeCursor(CONTEXT_CHARS)
        publish()
        requestSuggestions()
    }

    private fun requestSuggestions() {
        val e = engine
        if (!policy.suggestions || e == null) return
        val request = Request(fieldId, field.textBeforeCursor(CONTEXT_CHARS), e)
        // A task is already queued for the request this one replaces: it will take this one.
        if (pending.getAndSet(request) == null) worker.execute(::runPendingRequest)
    }

    /** On the worker: the latest request, if any. */
    private fun runPendingRequest() {
        val request = pending.getAndSet(null) ?: return
        val words = try {
            request.engine.suggest(request.text)
        } catch (e: Exception) {
            emptyList()
        }
        ui.execute { deliver(request, words) }
    }

    /** On the UI thread: shows [words] if the field still has the text they were computed for. */
    private fun deliver(request: Request, words: List<String>) {
        if (request.fieldId != fieldId || !policy.suggestions) return
        if (request.engine !== engine) return // computed by the predictor of a previous language
        if (field.textBeforeCursor(CONTEXT_CHARS) != request.text) return
        strip = SuggestionStrip.arrange(words)
        publish()
    }

    private fun autoShift(): Boolean {
        if (!policy.autoCapitalize) return false
        val text = knownText
        if (text.isEmpty()) return true
        if (!text.last().isWhitespace()) return false
        val trimmed = text.trimEnd()
        return trimmed.isEmpty() || trimmed.last() in ".!?" || text.endsWith("\n")
    }

    private fun publish() = onStateChanged(state)
}
