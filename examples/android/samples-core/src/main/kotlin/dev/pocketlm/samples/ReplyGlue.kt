package dev.pocketlm.samples

import dev.pocketlm.ConversationMessage
import dev.pocketlm.Tone
import dev.pocketlm.ffi.CalendarEvent
import dev.pocketlm.ffi.ReplyCore
import dev.pocketlm.ffi.ReplyCoreObserver
import dev.pocketlm.ffi.ReplyCoreState
import dev.pocketlm.ffi.ReplyModelStatus
import java.util.concurrent.Executor

/** The model's state of a reply screen state, as the samples show it. */
val ReplyCoreState.modelState: ModelState
    get() = when (val m = model) {
        is ReplyModelStatus.Loading -> ModelState.Loading
        is ReplyModelStatus.Ready -> ModelState.Ready
        is ReplyModelStatus.Failed -> ModelState.Failed(m.message, m.detail)
    }

/**
 * The Android glue of the shared reply controller (`ReplyCore` in rust/pocketlm-ffi,
 * docs/samples.md): forwards the screen's events and hops the controller's states to the UI
 * thread [ui], drawing only newer ones. The compose cursor crosses the FFI in UTF-16 units, the
 * unit of Kotlin `String` indices and `EditText` selections, so [KeyboardGlue.utf16] is the whole
 * conversion.
 */
class ReplyGlue(
    private val ui: Executor,
    private val onStateChanged: (ReplyCoreState) -> Unit = {},
) : AutoCloseable {
    private var shownVersion = 0UL

    private val core = ReplyCore(
        object : ReplyCoreObserver {
            override fun onState(state: ReplyCoreState) = ui.execute { show(state) }
        },
    )

    /** The last state drawn (updated on [ui]). */
    var state: ReplyCoreState = core.state()
        private set

    private fun show(s: ReplyCoreState) {
        if (s.version <= shownVersion) return // reported from the worker before a newer event's state
        shownVersion = s.version
        state = s
        onStateChanged(s)
    }

    /**
     * Loads the model at [path] on the controller's worker; drafts start once it is ready. With
     * [stateDir] (the app's files dir), the drafter keeps its warm-up there: a restarted app
     * shows its first chips sooner (docs/state.md).
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

    /** Replaces the conversation (a canned one is picked) and drafts replies to it. */
    fun showConversation(messages: List<ConversationMessage>) = core.showConversation(messages)

    /** A message from the other person arrives. */
    fun receive(text: String) = core.receive(text)

    /** The register of the drafts (a different one drafts again). */
    fun setTone(tone: Tone) = core.setTone(tone)

    /** Chip [index] tapped. */
    fun tapChip(index: Int) {
        if (index >= 0) core.tapChip(index.toUInt())
    }

    /** The user edited the compose box; [cursor] is the `EditText` selection (UTF-16). */
    fun editCompose(text: String, cursor: Int) = core.editCompose(text, KeyboardGlue.utf16(cursor))

    /** The "Write a longer reply" / Stop button. */
    fun writeLongerOrStop() = if (state.streaming) core.stop() else core.writeLonger()

    fun send() = core.send()

    /** "Add to calendar" tapped: the event for the calendar editor, or null when none is offered. */
    fun addToCalendar(): CalendarEvent? = core.addToCalendar()

    /** Blocks until the controller's worker is idle (tests; never on the UI thread). */
    fun awaitIdle(timeoutMillis: Int = 300_000) {
        check(core.waitIdle(timeoutMillis.coerceAtLeast(0).toUInt())) { "the reply controller is still busy after $timeoutMillis ms" }
    }

    override fun close() = core.close()
}
