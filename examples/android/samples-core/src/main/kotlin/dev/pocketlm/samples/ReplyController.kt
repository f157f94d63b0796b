package dev.pocketlm.samples

import dev.pocketlm.ConversationMessage
import dev.pocketlm.NoDraftReason
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.launch

/** What the reply screen shows. */
data class ReplyState(
    val messages: List<ConversationMessage>,
    /** At most three drafted replies, in the core's order. */
    val chips: List<String>,
    /** A draft is being computed (progress indicator). */
    val drafting: Boolean,
    /** Why there are no chips, when the core drafted none. */
    val noSuggestionReason: NoDraftReason?,
    val compose: String,
    /** The compose box's cursor, a UTF-16 index. */
    val composeCursor: Int,
    /** A longer reply is streaming (its button shows Stop). */
    val streaming: Boolean,
    val modelState: ModelState,
    /** The "Add to calendar" action for the last incoming message (null: not offered). */
    val calendarEvent: CalendarEvent? = null,
    /** The last incoming message is being read for an event. */
    val extractingEvent: Boolean = false,
) {
    /** "Write a longer reply" applies: a ready model and an incoming last message. */
    val canWriteLonger: Boolean
        get() = modelState == ModelState.Ready && messages.lastOrNull()?.fromMe == false
}

/**
 * The reply sample's behaviour (docs/samples.md, "Reply controller"), platform-neutral. Every
 * public method runs on the UI thread, whose coroutine dispatcher is [ui] (Android:
 * `Dispatchers.Main`); the model work runs on the library's dispatcher. [onStateChanged] is called
 * on the UI thread after every change.
 */
class ReplyController(
    ui: CoroutineDispatcher,
    private val onStateChanged: (ReplyState) -> Unit = {},
) : AutoCloseable {
    private val scope = CoroutineScope(SupervisorJob() + ui)
    private var engine: ReplyEngine? = null
    private var draftJob: Job? = null
    private var streamJob: Job? = null
    private var eventJob: Job? = null

    var state = ReplyState(
        messages = emptyList(),
        chips = emptyList(),
        drafting = false,
        noSuggestionReason = null,
        compose = "",
        composeCursor = 0,
        streaming = false,
        modelState = ModelState.Loading,
    )
        private set

    /** Opens the engine with [open] (off the UI thread, it suspends); drafts start once it is ready. */
    fun loadModel(open: suspend () -> ReplyEngine) {
        stopEverything()
        engine?.close()
        engine = null
        update { copy(modelState = ModelState.Loading) }
        scope.launch {
            try {
                engine = open()
                update { copy(modelState = ModelState.Ready) }
                if (state.messages.lastOrNull()?.fromMe == false) {
                    startDraft()
                    startExtraction()
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                update { copy(modelState = ModelState.failed(e)) }
            }
        }
    }

    /** Replaces the conversation (e.g. a canned one is picked) and drafts replies to it. */
    fun showConversation(messages: List<ConversationMessage>) {
        stopEverything()
        update { copy(messages = messages, chips = emptyList(), noSuggestionReason = null, compose = "", composeCursor = 0) }
        if (messages.lastOrNull()?.fromMe == false) startDraft()
        startExtraction()
    }

    /** A message from the other person arrives: the draft in flight is cancelled and a new one starts. */
    fun receive(text: String) {
        stopEverything()
        update {
            copy(messages = messages + ConversationMessage(fromMe = false, text = text), chips = emptyList(), noSuggestionReason = null)
        }
        startDraft()
        startExtraction()
    }

    /**
     * "Add to calendar" tapped: returns the event for the platform to open its calendar editor
     * with (Android: an `Intent.ACTION_INSERT` on `CalendarContract.Events`), and withdraws the
     * action. Null when none is offered.
     */
    fun addToCalendar(): CalendarEvent? {
        val event = state.calendarEvent ?: return null
        update { copy(calendarEvent = null) }
        return event
    }

    /** Chip [index] tapped: it becomes the compose text, cursor at the end. */
    fun tapChip(index: Int) {
        val text = state.chips.getOrNull(index) ?: return
        update { copy(compose = text, composeCursor = text.length) }
    }

    /** The user edited the compose box. */
    fun editCompose(text: String, cursor: Int) {
        if (text == state.compose && cursor == state.composeCursor) return
        update { copy(compose = text, composeCursor = cursor.coerceIn(0, text.length)) }
    }

    /** "Write a longer reply": streams a chat answer into the compose box (replacing its text). */
    fun writeLonger() {
        val e = engine
        if (e == null || state.streaming || !state.canWriteLonger) return
        val conversation = state.messages
        update { copy(compose = "", composeCursor = 0, streaming = true) }
        streamJob = scope.launch {
            val me = coroutineContext[Job]
            try {
                e.longerReply(conversation).collect { piece ->
                    // A piece that reaches the UI thread after Stop is not shown.
                    ensureActive()
                    update { copy(compose = compose + piece, composeCursor = compose.length + piece.length) }
                }
            } catch (c: CancellationException) {
                throw c
            } catch (_: Exception) {
                // A failed generation keeps what it wrote.
            } finally {
                if (streamJob === me) {
                    streamJob = null
                    update { copy(streaming = false) }
                }
            }
        }
    }

    /** Stop: the stream ends within one token; the compose box keeps the partial text. */
    fun stop() {
        val job = streamJob ?: return
        streamJob = null
        job.cancel()
        update { copy(streaming = false) }
    }

    /** Send: the compose text becomes my message; the compose box and the chips clear. */
    fun send() {
        val text = state.compose
        if (text.isBlank()) return
        stopEverything()
        update {
            copy(
                messages = messages + ConversationMessage(fromMe = true, text = text),
                compose = "",
                composeCursor = 0,
                chips = emptyList(),
                noSuggestionReason = null,
            )
        }
    }

    override fun close() {
        eventJob?.cancel()
        scope.cancel()
        engine?.close()
    }

    private fun stopEverything() {
        stop()
        draftJob?.cancel()
        draftJob = null
        if (state.drafting) update { copy(drafting = false) }
    }

    private fun startDraft() {
        val e = engine ?: return
        val conversation = state.messages
        update { copy(drafting = true, chips = emptyList(), noSuggestionReason = null) }
        draftJob = scope.launch {
            val me = coroutineContext[Job]
            val result = try {
                e.draft(conversation)
            } catch (c: CancellationException) {
                throw c
            } catch (_: Exception) {
                null
            }
            // A cancelled draft never gets here (the dispatch back to the UI thread checks it).
            ensureActive()
            if (draftJob !== me) return@launch
            draftJob = null
            update {
                copy(
                    drafting = false,
                    chips = result?.replies.orEmpty().take(3).map { it.text },
                    noSuggestionReason = result?.noDraftReason,
                )
            }
        }
    }

    /**
     * Reads the last message, when incoming, for an event (after its draft, so the chips come
     * first); a newer message or conversation cancels it. Replaces the calendar action.
     */
    private fun startExtraction() {
        eventJob?.cancel()
        eventJob = null
        val last = state.messages.lastOrNull()
        val e = engine
        if (last == null || last.fromMe || e == null) {
            if (state.calendarEvent != null || state.extractingEvent) update { copy(calendarEvent = null, extractingEvent = false) }
            return
        }
        update { copy(calendarEvent = null, extractingEvent = true) }
        val draft = draftJob
        eventJob = scope.launch {
            val me = coroutineContext[Job]
            draft?.join()
            val event = try {
                e.extractEvent(last.text)
            } catch (c: CancellationException) {
                throw c
            } catch (_: Exception) {
                null
            }
            ensureActive()
            if (eventJob !== me) return@launch
            eventJob = null
            update { copy(calendarEvent = event, extractingEvent = false) }
        }
    }

    private inline fun update(change: ReplyState.() -> ReplyState) {
        state = state.change()
        onStateChanged(state)
    }
}
