package dev.pocketlm.samples

import dev.pocketlm.ffi.FieldEdit
import dev.pocketlm.ffi.keyboardContextUnits
import dev.pocketlm.ffi.KeyboardCore
import dev.pocketlm.ffi.KeyboardCoreObserver
import dev.pocketlm.ffi.KeyboardCoreState
import dev.pocketlm.ffi.KeyboardModelStatus
import java.util.concurrent.Executor

/** What the keyboard shows: the three strip slots, the model's state, the shift key. */
data class KeyboardState(
    /** Exactly three slots, `[second, best, third]`; "" for an empty slot. */
    val strip: List<String>,
    val modelState: ModelState,
    /** Shift should be on: the field capitalizes and the cursor is at a sentence start. */
    val autoShift: Boolean,
)

/**
 * The Android glue of the shared keyboard controller (`KeyboardCore` in rust/pocketlm-ffi,
 * docs/samples.md): forwards the input method's events with the field's text before the cursor,
 * applies the edits the controller reports to [field] as one batch, and hops its states to the UI
 * thread [ui], drawing only newer ones. Offsets cross the FFI in UTF-16 units, the unit of
 * `InputConnection` and of Kotlin `String` indices, so [utf16] is the whole conversion.
 */
class KeyboardGlue(
    private val field: TextField,
    private val ui: Executor,
    private val onStateChanged: (KeyboardState) -> Unit = {},
) : AutoCloseable {
    companion object {
        /** UTF-16 units of context passed to the controller (it keeps no more). */
        val CONTEXT_UNITS: Int = keyboardContextUnits().toInt()

        /** A UTF-16 count or offset of this platform as the controller's unit (the same unit). */
        fun utf16(units: Int): UInt = units.coerceAtLeast(0).toUInt()
    }

    private var shownVersion = 0UL

    /** The last state drawn (updated on [ui]). */
    var state = KeyboardState(SuggestionStrip.EMPTY, ModelState.Loading, autoShift = true)
        private set

    private val core = KeyboardCore(
        object : KeyboardCoreObserver {
            override fun onEdit(edit: FieldEdit) = field.batch {
                if (edit.deleteUtf16 > 0u) field.deleteBeforeCursor(edit.deleteUtf16.toInt())
                if (edit.insert.isNotEmpty()) field.insertAtCursor(edit.insert)
            }

            override fun onState(state: KeyboardCoreState) = ui.execute { show(state) }
        },
    )

    private fun show(s: KeyboardCoreState) {
        if (s.version <= shownVersion) return // reported from the worker before a newer event's state
        shownVersion = s.version
        val model = when (val m = s.model) {
            is KeyboardModelStatus.Loading -> ModelState.Loading
            is KeyboardModelStatus.Ready -> ModelState.Ready
            is KeyboardModelStatus.Failed -> ModelState.Failed(m.message, m.detail)
        }
        state = KeyboardState(s.strip, model, s.autoShift)
        onStateChanged(state)
    }

    /** The language predictors are opened for (the settings screen's choice). */
    val language: KeyboardLanguage
        get() = KeyboardLanguage.of(core.language()) ?: KeyboardLanguage.DEFAULT

    /**
     * Loads the model at [path] on the controller's worker; keys work meanwhile. With [stateDir]
     * (the IME's files dir), the predictor keeps its warm-up there: a restarted keyboard shows
     * its first suggestions sooner (docs/state.md).
     * With [layoutCacheDir] (the app's no-backup files or cache dir), the model runs from its
     * interleaved copy there, written on the first load (faster decode, the same results;
     * docs/performance.md).
     */
    fun loadModel(path: String, stateDir: String? = null, layoutCacheDir: String? = null) =
        when {
            layoutCacheDir != null -> core.loadModelWithDirs(path, stateDir, layoutCacheDir)
            stateDir == null -> core.loadModel(path)
            else -> core.loadModelWithStateDir(path, stateDir)
        }

    /** Reopens the predictor for [next] when it differs; whether the language changed. */
    fun setLanguage(next: KeyboardLanguage): Boolean = core.setLanguage(next.code)

    /** The keyboard moved to a new field with this raw Android `inputType`. */
    fun startField(inputType: Int) {
        val before = field.textBeforeCursor(CONTEXT_UNITS)
        core.startField(inputType.toUInt(), before, utf16(before.length))
    }

    /** A key press that types [text] (a letter, a space, punctuation, a newline). */
    fun type(text: String) = core.typeText(text)

    /** A tap on strip slot [slot] (0 left, 1 middle, 2 right). */
    fun tap(slot: Int) = core.tap(slot.coerceAtLeast(0).toUInt())

    /** [count] backspaces (user-perceived characters). */
    fun backspace(count: Int = 1) = core.backspace(count.coerceAtLeast(0).toUInt())

    /** The field's selection or text changed (Android `onUpdateSelection`). */
    fun onSelectionChanged() {
        val before = field.textBeforeCursor(CONTEXT_UNITS)
        core.textChanged(before, utf16(before.length))
    }

    /** Memory pressure (Android `onTrimMemory`). */
    fun onTrimMemory() = core.releaseMemory()

    /** Blocks until the controller's worker is idle (the simulator and tests; never on the UI thread). */
    fun awaitIdle(timeoutMillis: Int = 120_000) {
        check(core.waitIdle(timeoutMillis.coerceAtLeast(0).toUInt())) { "the keyboard controller is still busy after $timeoutMillis ms" }
    }

    override fun close() = core.close()
}
