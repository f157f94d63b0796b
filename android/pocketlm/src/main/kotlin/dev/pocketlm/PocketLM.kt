// The idiomatic Kotlin layer over the generated bindings (dev.pocketlm.ffi): suspend functions
// that run on a background dispatcher, Flow<String> streaming whose cancellation cancels the
// generation, AutoCloseable objects that may be closed twice.
package dev.pocketlm

import dev.pocketlm.ffi.CancelToken
import dev.pocketlm.ffi.ChatSession as FfiChatSession
import dev.pocketlm.ffi.KeyboardPredictor as FfiKeyboardPredictor
import dev.pocketlm.ffi.LoraAdapter as FfiLoraAdapter
import dev.pocketlm.ffi.Model as FfiModel
import dev.pocketlm.ffi.ReplyDrafter as FfiReplyDrafter
import dev.pocketlm.ffi.TextSession as FfiTextSession
import dev.pocketlm.ffi.PocketLmException
import dev.pocketlm.ffi.initLogging
import dev.pocketlm.ffi.pocketlmVersion
import java.util.concurrent.atomic.AtomicReference
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.channels.ClosedSendChannelException
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.transform
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext

// Records and enums come straight from the generated bindings. Errors are
// dev.pocketlm.ffi.PocketLmException, a sealed class (ModelNotFound, InvalidModel, InvalidArgument,
// ContextFull, Internal, Cancelled, ModelFileChanged, InvalidUserDictionary, UserDictionaryFull,
// InvalidConstraint, InvalidSnapshot) whose
// message says what to do; import it from there (a typealias would hide the subclasses).
// ModelFileChanged: the file was truncated or rewritten after loading; load the model again (install
// updates by renaming a new file over the old one). InvalidUserDictionary: bytes given to
// importUserWords are not a user dictionary (nothing changed).
typealias ModelInfo = dev.pocketlm.ffi.ModelInfo
typealias AdapterPrecision = dev.pocketlm.ffi.AdapterPrecision
typealias SamplingOptions = dev.pocketlm.ffi.SamplingOptions
typealias GenerationOptions = dev.pocketlm.ffi.GenerationOptions
typealias GenerationResult = dev.pocketlm.ffi.GenerationResult
typealias GenerationTask = dev.pocketlm.ffi.GenerationTask
typealias StopReason = dev.pocketlm.ffi.StopReason
typealias SessionOptions = dev.pocketlm.ffi.SessionOptions
typealias ChatOptions = dev.pocketlm.ffi.ChatOptions
typealias ChatMessage = dev.pocketlm.ffi.ChatMessage
typealias ChatRole = dev.pocketlm.ffi.ChatRole
typealias KeyboardOptions = dev.pocketlm.ffi.KeyboardOptions
typealias KeyboardProfile = dev.pocketlm.ffi.KeyboardProfile
typealias Suggestion = dev.pocketlm.ffi.Suggestion
typealias SuggestionKind = dev.pocketlm.ffi.SuggestionKind
typealias TextEdit = dev.pocketlm.ffi.TextEdit
typealias FieldKind = dev.pocketlm.ffi.FieldKind
typealias LearnOutcome = dev.pocketlm.ffi.LearnOutcome
typealias UserWord = dev.pocketlm.ffi.UserWord
typealias UserWordSource = dev.pocketlm.ffi.UserWordSource
typealias DrafterOptions = dev.pocketlm.ffi.DrafterOptions
typealias DraftOptions = dev.pocketlm.ffi.DraftOptions
typealias ConversationMessage = dev.pocketlm.ffi.ConversationMessage
typealias ReplyDraft = dev.pocketlm.ffi.ReplyDraft
typealias ReplyDrafts = dev.pocketlm.ffi.ReplyDrafts
typealias NoDraftReason = dev.pocketlm.ffi.NoDraftReason
typealias Tone = dev.pocketlm.ffi.Tone
typealias LogLevel = dev.pocketlm.ffi.LogLevel

/** Library-wide settings. */
object PocketLM {
    /**
     * Where the blocking native calls run (loading, suggestions, drafts, starting a generation).
     * [Dispatchers.IO] by default: each call blocks its thread while the model computes on the
     * model's own worker threads. Never the main thread.
     */
    @Volatile
    var dispatcher: CoroutineDispatcher = Dispatchers.IO

    /** The native library's version. */
    val version: String
        get() = pocketlmVersion()

    /**
     * Sends PocketLM's diagnostics to logcat (tag `PocketLM`; `adb logcat -s PocketLM`) at
     * [level] and above: the kernel tier, each model load (time, mapped and anonymous bytes),
     * a chat template falling back, a model file changed on disk, a keystroke over its time
     * budget. Never any text the user typed or received. Nothing is logged until this is called;
     * calling again changes the level. Returns false when another Rust library in the process
     * installed its logger first (PocketLM's records then go to that one).
     */
    fun enableLogging(level: LogLevel = LogLevel.WARN): Boolean = initLogging(level)
}

/** A reference to a native object that can be closed any number of times. */
internal class NativeRef<T : AutoCloseable>(obj: T, private val what: String) : AutoCloseable {
    private val ref = AtomicReference<T?>(obj)

    /** The object; throws [IllegalStateException] once closed. */
    fun get(): T = ref.get() ?: throw IllegalStateException("$what is closed")

    val isClosed: Boolean
        get() = ref.get() == null

    override fun close() {
        ref.getAndSet(null)?.close()
    }
}

/** One piece of generated text on its way to the collector. Exactly one side settles it
 * (`CompletableDeferred` completes once): the collector takes it (and then emits it), or the
 * generation thread abandons it when collection has stopped first. The native result's text
 * then holds exactly the pieces the collector got. */
private class Piece(val text: String) {
    val taken = CompletableDeferred<Unit>()

    /** Collector side: true if the piece is now the collector's to emit. */
    fun take(): Boolean = taken.complete(Unit)

    /** Generation side: true if the piece was abandoned (never reaches the collector). */
    fun abandon(): Boolean = taken.completeExceptionally(CancellationException("collection stopped"))
}

/** Turns a native generation into a cold Flow: collecting starts it, cancelling the collector
 * cancels it, and collection ends only once the native generation has stopped. The session's
 * last result then holds exactly the text the collector received. */
internal fun textFlow(start: (dev.pocketlm.ffi.TextListener) -> GenerationTask): Flow<String> =
    callbackFlow<Piece> {
        // Cancelled when collection stops: a send blocked on the generation thread then fails
        // at once. (The channel itself is only cancelled when this producer completes, which
        // waits for the generation to end: blocking on the channel alone could deadlock.)
        val sends = Job()
        val listener = object : dev.pocketlm.ffi.TextListener {
            // Runs on the generation thread; blocks it until the collector takes the text
            // (backpressure). A channel send alone cannot tell whether a cancelled send was
            // delivered (prompt cancellation), so the collector acknowledges each piece.
            // Returns false (refused, and generation stops) once collection has stopped.
            override fun onText(delta: String): Boolean {
                val piece = Piece(delta)
                try {
                    runBlocking(sends) {
                        send(piece)
                        piece.taken.await()
                    }
                } catch (_: CancellationException) {
                } catch (_: ClosedSendChannelException) {
                }
                return !piece.abandon()
            }
        }
        val task = start(listener)
        launch {
            try {
                task.result()
                channel.close()
            } catch (e: PocketLmException) {
                channel.close(e)
            }
        }
        try {
            awaitClose {
                task.cancel()
                sends.cancel()
            }
        } finally {
            // Wait (at most about one token) until the native generation has stopped, so the
            // session is free when collection returns.
            withContext(NonCancellable) {
                try {
                    task.result()
                } catch (_: PocketLmException) {
                }
            }
            task.close()
        }
    }
        .buffer(Channel.RENDEZVOUS)
        .flowOn(PocketLM.dispatcher)
        .transform { piece -> if (piece.take()) emit(piece.text) }

/** Runs a generation to the end and returns its result; cancelling the coroutine cancels it. */
internal suspend fun runToEnd(start: (dev.pocketlm.ffi.TextListener) -> GenerationTask): GenerationResult {
    // withContext drops the block's result when the coroutine is cancelled by the time it
    // resumes (prompt cancellation, even with NonCancellable): keep the task aside so a
    // cancellation that arrives while the native call runs still cancels the generation.
    val started = AtomicReference<GenerationTask?>()
    val task = try {
        withContext(PocketLM.dispatcher) { start(IgnoreText).also { started.set(it) } }
    } catch (e: CancellationException) {
        started.get()?.use { it.cancel() }
        throw e
    }
    return task.use {
        try {
            it.result()
        } catch (e: CancellationException) {
            it.cancel()
            throw e
        }
    }
}

private object IgnoreText : dev.pocketlm.ffi.TextListener {
    override fun onText(delta: String): Boolean = true
}

/**
 * A GGUF model, memory-mapped read-only. Cheap to share across threads and coroutines: every
 * predictor, drafter and session made from it keeps it alive, so closing the [Model] while they
 * are in use is safe.
 *
 * ```kotlin
 * val model = Model.load("/data/.../SmolLM2-135M-Instruct.Q4_1.gguf")
 * println(model.info.parameterCount)
 * ```
 */
class Model private constructor(ffi: FfiModel) : AutoCloseable {
    private val ref = NativeRef(ffi, "Model")
    internal val ffi: FfiModel
        get() = ref.get()

    companion object {
        /**
         * Maps the model file at [path] on [PocketLM.dispatcher].
         * @throws PocketLmException.ModelNotFound when the file is missing or unreadable
         * @throws PocketLmException.InvalidModel when it is corrupt or unsupported
         */
        suspend fun load(path: String): Model =
            withContext(PocketLM.dispatcher) { Model(FfiModel.load(path)) }

        /**
         * [load] through a layout cache in [cacheDir] (e.g. `context.noBackupFilesDir` or
         * `context.cacheDir`): the first load writes a copy of the model with its weights
         * interleaved for the decode kernels (as much disk as the model, about as long as
         * reading it once), later loads map that copy (faster decode, the same outputs). A cache
         * that cannot be used never fails the load: [layoutCache] says why the original runs.
         * @throws PocketLmException.ModelNotFound when the file is missing or unreadable
         * @throws PocketLmException.InvalidModel when it is corrupt or unsupported
         */
        suspend fun load(path: String, cacheDir: java.io.File): Model =
            withContext(PocketLM.dispatcher) { Model(FfiModel.loadWithLayoutCache(path, cacheDir.path)) }
    }

    /**
     * What the layout cache did at load (`NotRequested` for `load(path)`). A sealed class: import
     * dev.pocketlm.ffi.LayoutCacheStatus (a typealias would hide its subclasses).
     */
    val layoutCache: dev.pocketlm.ffi.LayoutCacheStatus
        get() = ffi.layoutCache()

    /** Architecture, parameter count, quantization, context length, ... */
    val info: ModelInfo
        get() = ffi.info()

    val path: String
        get() = ffi.path()

    /** Tokens [text] takes as a prompt. */
    suspend fun countTokens(text: String): Int = withContext(PocketLM.dispatcher) { ffi.countTokens(text) }

    /** A keyboard suggestion engine on this model. */
    suspend fun keyboardPredictor(options: KeyboardOptions = KeyboardOptions()): KeyboardPredictor =
        withContext(PocketLM.dispatcher) { KeyboardPredictor(FfiKeyboardPredictor(ffi, options)) }

    /**
     * A keyboard suggestion engine that keeps its framing prefix's warm-up in [stateDir] (an
     * input method's `filesDir`): the first predictor evaluates it and saves it there, later
     * ones (after the process restarts) load it. The suggestions are the same either way; a bad
     * or stale file is rewritten (docs/state.md).
     */
    suspend fun keyboardPredictor(options: KeyboardOptions = KeyboardOptions(), stateDir: String): KeyboardPredictor =
        withContext(PocketLM.dispatcher) { KeyboardPredictor(FfiKeyboardPredictor.withStateDir(ffi, options, stateDir)) }

    /** A reply drafter on this model. */
    suspend fun replyDrafter(options: DrafterOptions = DrafterOptions()): ReplyDrafter =
        withContext(PocketLM.dispatcher) { ReplyDrafter(FfiReplyDrafter(ffi, options)) }

    /**
     * A reply drafter that keeps each tone's warm-up in [stateDir] (e.g. `context.filesDir`):
     * the first drafter evaluates it and saves it there, later ones (after a restart) load it in
     * tens of milliseconds instead of seconds. A bad or stale file is rewritten (docs/state.md).
     */
    suspend fun replyDrafter(options: DrafterOptions = DrafterOptions(), stateDir: String): ReplyDrafter =
        withContext(PocketLM.dispatcher) { ReplyDrafter(FfiReplyDrafter.withStateDir(ffi, options, stateDir)) }

    /** A plain text generation session on this model. */
    suspend fun textSession(options: SessionOptions = SessionOptions()): TextSession =
        withContext(PocketLM.dispatcher) { TextSession(FfiTextSession(ffi, options)) }

    /** A chat on this model, using its chat template. */
    suspend fun chat(options: ChatOptions = ChatOptions()): Chat =
        withContext(PocketLM.dispatcher) { Chat(FfiChatSession(ffi, options)) }

    /**
     * A chat restored from the file [Chat.saveState] wrote with this model file: its history and
     * its KV cache, so it answers exactly as the saved chat would have (docs/state.md). Throws
     * `PocketLmException.InvalidSnapshot` (missing, damaged, another model) or `ContextFull`.
     */
    suspend fun restoreChat(path: String, options: ChatOptions = ChatOptions()): Chat =
        withContext(PocketLM.dispatcher) { Chat(FfiChatSession.restore(ffi, options, path)) }

    /**
     * Loads the LoRA adapter file at [path] (llama.cpp's GGUF format, docs/adapters.md) for this
     * model on [PocketLM.dispatcher]: it is checked against the model and copied into memory
     * (about the file's size). Attach it to sessions with [TextSession.attachAdapter].
     * [precision] `F16` holds an F32 adapter's matrices as F16: half the memory and faster
     * decode, the products of the adapter converted to F16.
     * @throws PocketLmException.ModelNotFound when the file is missing or unreadable
     * @throws PocketLmException.InvalidModel when it is not a LoRA adapter for this model (the
     *   message names the tensor that does not fit)
     */
    suspend fun loadAdapter(
        path: String,
        precision: AdapterPrecision = AdapterPrecision.AS_FILE,
    ): LoraAdapter =
        withContext(PocketLM.dispatcher) {
            LoraAdapter(FfiLoraAdapter.loadWithPrecision(ffi, path, precision))
        }

    val isClosed: Boolean
        get() = ref.isClosed

    /** Releases this reference (objects made from the model keep working). Idempotent. */
    override fun close() = ref.close()
}

/**
 * Suggestions for a keyboard's three-slot strip: next words, completions and corrections.
 *
 * ```kotlin
 * val strip = predictor.suggest("See you tomor")   // [tomorrow, ...]
 * val edit = predictor.accept("See you tomor", strip[0].word)
 * ```
 */
class KeyboardPredictor internal constructor(ffi: FfiKeyboardPredictor) : AutoCloseable {
    private val ref = NativeRef(ffi, "KeyboardPredictor")

    /** Up to `maxSuggestions` distinct words for the text before the cursor, best first. */
    suspend fun suggest(textBeforeCursor: String): List<Suggestion> =
        withContext(PocketLM.dispatcher) { ref.get().suggest(textBeforeCursor) }

    /**
     * Suggestions for each text of [textBeforeCursor] (e.g. the field's content after every
     * keystroke); texts that arrive while a suggestion is computed are conflated to the latest.
     */
    fun suggestions(textBeforeCursor: Flow<String>): Flow<List<Suggestion>> =
        textBeforeCursor.conflate().map { suggest(it) }

    /** How to apply [word]: delete `deleteChars` characters before the cursor, insert `insert`. */
    fun accept(textBeforeCursor: String, word: String): TextEdit = ref.get().accept(textBeforeCursor, word)

    /** Forgets the cached text (call when the keyboard moves to another field). */
    suspend fun reset() = withContext(PocketLM.dispatcher) { ref.get().reset() }

    /** Whether the framing's first warm-up was loaded from the state directory (null: no call yet, or none). */
    fun warmStarted(): Boolean? = ref.get().warmStarted()

    /**
     * Frees the predictor's caches on memory pressure (call it from `onTrimMemory`); it keeps
     * working, the next suggestion re-evaluates what it needs. Waits for a call in progress.
     */
    suspend fun releaseMemory() = withContext(PocketLM.dispatcher) { ref.get().releaseMemory() }

    // The user dictionary: words offered beside the model's (names, slang), added by the app or
    // learned from typing. The app stores it: exportUserWords() gives the bytes, importUserWords
    // reads them back on the next start (the SDK writes no files).

    /**
     * Adds [word] (offered from now on, never decays).
     * @throws PocketLmException.InvalidArgument when it is not a word (spaces, no letters, too long)
     * @throws PocketLmException.UserDictionaryFull when only added words are left and there is no room
     */
    fun addUserWord(word: String) = ref.get().addUserWord(word)

    /** Removes [word] (any case); whether it was there. */
    fun removeUserWord(word: String): Boolean = ref.get().removeUserWord(word)

    /** The words the dictionary offers now, sorted. */
    fun userWords(): List<UserWord> = ref.get().userWords()

    /** Forgets every user word and every count. */
    fun clearUserWords() = ref.get().clearUserWords()

    /** The dictionary as bytes for the app to store. */
    fun exportUserWords(): ByteArray = ref.get().exportUserWords()

    /**
     * Replaces the dictionary with bytes from [exportUserWords]; the number of words read.
     * @throws PocketLmException.InvalidUserDictionary for bytes that are not a dictionary (nothing changes)
     */
    fun importUserWords(bytes: ByteArray): Int = ref.get().importUserWords(bytes).toInt()

    /**
     * Learns from [word], typed in full (not picked from the strip) after [textBeforeWord] in a
     * field of kind [field]: a word the model would not have offered, typed twice, becomes a user
     * word. Password and no-suggestion fields are never learned from. Costs about one [suggest].
     */
    suspend fun learnTypedWord(textBeforeWord: String, word: String, field: FieldKind = FieldKind.TEXT): LearnOutcome =
        withContext(PocketLM.dispatcher) { ref.get().learnTypedWord(textBeforeWord, word, field) }

    override fun close() = ref.close()
}

/**
 * A LoRA adapter loaded for one [Model] ([Model.loadAdapter]): attach it to any number of that
 * model's sessions, each with its own scale; sessions without it run the plain model.
 *
 * ```kotlin
 * val adapter = model.loadAdapter("/data/.../task.lora.gguf")
 * session.attachAdapter(adapter, scale = 1f)
 * ```
 */
class LoraAdapter internal constructor(ffi: FfiLoraAdapter) : AutoCloseable {
    private val ref = NativeRef(ffi, "LoraAdapter")
    internal val ffi: FfiLoraAdapter
        get() = ref.get()

    /** `general.name` of the adapter file, or its file name. */
    val name: String = ffi.name()

    /** The largest rank of its matrices. */
    val rank: Int = ffi.rank()

    /** How many of the model's matrices it updates. */
    val matrixCount: Int = ffi.matrixCount()

    /** Bytes of memory its matrices hold. */
    val sizeBytes: Long = ffi.sizeBytes()

    val isClosed: Boolean
        get() = ref.isClosed

    /** Releases this reference (sessions it is attached to keep applying it). Idempotent. */
    override fun close() = ref.close()
}

/**
 * Short reply suggestions for a message just received (or none, with a reason, when nothing
 * fits or the topic is sensitive).
 *
 * ```kotlin
 * val drafts = drafter.draft("Are you coming to dinner tonight?")
 * drafts.replies.map { it.text }   // e.g. [Yes, I'll be there!, Sorry, I can't make it., ...]
 * ```
 */
class ReplyDrafter internal constructor(ffi: FfiReplyDrafter) : AutoCloseable {
    private val ref = NativeRef(ffi, "ReplyDrafter")

    /**
     * Drafts replies to the last message of [conversation] (oldest first), on
     * [PocketLM.dispatcher]. Cancelling the coroutine cancels the native draft (it stops within
     * one decode step, a few tens of milliseconds, and the drafter stays usable) and throws
     * [CancellationException] at once.
     */
    suspend fun draft(conversation: List<ConversationMessage>, options: DraftOptions = DraftOptions()): ReplyDrafts =
        suspendCancellableCoroutine { cont ->
            val token = CancelToken()
            cont.invokeOnCancellation {
                // The token may already be closed (the draft has ended): nothing to cancel then.
                try {
                    token.cancel()
                } catch (_: IllegalStateException) {
                }
            }
            PocketLM.dispatcher.asExecutor().execute {
                val result = runCatching { token.use { ref.get().draft(conversation, options, it) } }
                // Ignored when the coroutine was cancelled meanwhile.
                cont.resumeWith(result)
            }
        }

    /** Drafts replies to one incoming message. */
    suspend fun draft(incomingMessage: String, options: DraftOptions = DraftOptions()): ReplyDrafts =
        draft(listOf(ConversationMessage(fromMe = false, text = incomingMessage)), options)

    /** Prepares the prompt of [tone] so the first draft is fast. */
    suspend fun warmUp(tone: Tone = Tone.NEUTRAL) = withContext(PocketLM.dispatcher) { ref.get().warmUp(tone) }

    /** Whether [tone]'s warm-up was loaded from the state directory (null: not warmed up yet). */
    fun warmStarted(tone: Tone = Tone.NEUTRAL): Boolean? = ref.get().warmStarted(tone)

    override fun close() = ref.close()
}

/**
 * Text generation with a KV cache. Generations on one session run one at a time (a second one
 * waits for the first); use one session per concurrent generation.
 *
 * ```kotlin
 * session.generate("Once upon a time").collect { print(it) }
 * ```
 */
class TextSession internal constructor(ffi: FfiTextSession) : AutoCloseable {
    private val ref = NativeRef(ffi, "TextSession")

    /** Streams the text generated after [prompt]. Cancelling the collector (or `take(n)`,
     * `first()`, ...) cancels the generation; the flow fails with [PocketLmException]. */
    fun generate(prompt: String, options: GenerationOptions = GenerationOptions()): Flow<String> {
        val s = ref.get()
        return textFlow { s.generate(prompt, options, it) }
    }

    /** Generates after [prompt] and returns the whole result. */
    suspend fun complete(prompt: String, options: GenerationOptions = GenerationOptions()): GenerationResult =
        runToEnd { ref.get().generate(prompt, options, it) }

    /**
     * Low level: starts a generation and returns its handle ([GenerationTask.cancel],
     * `join()`, `result()`; closing it cancels). [onText] runs on the generation thread and
     * returns false to stop.
     */
    fun start(prompt: String, options: GenerationOptions = GenerationOptions(), onText: (String) -> Boolean): GenerationTask =
        ref.get().generate(prompt, options, object : dev.pocketlm.ffi.TextListener {
            override fun onText(delta: String): Boolean = onText(delta)
        })

    /** The result of the latest generation once it has ended, or null if none ran. */
    suspend fun lastResult(): GenerationResult? = ref.get().lastResult()

    /**
     * Saves this session's state (its tokens and KV cache) to the file [path], written
     * atomically; returns its size in bytes. Load it into a session of the same model with
     * [loadState] to continue exactly where this one is (docs/state.md).
     */
    suspend fun saveState(path: String): Long = withContext(PocketLM.dispatcher) { ref.get().saveState(path) }

    /** This session's state as bytes (see [saveState]). */
    suspend fun saveStateBytes(): ByteArray = withContext(PocketLM.dispatcher) { ref.get().saveStateBytes() }

    /**
     * Replaces this session's state with a saved one; throws [PocketLmException.InvalidSnapshot]
     * (another model, a truncated or corrupted file, ...) and leaves the session as it was.
     */
    suspend fun loadState(path: String) = withContext(PocketLM.dispatcher) { ref.get().loadState(path) }

    /** Like [loadState], from bytes. */
    suspend fun loadStateBytes(bytes: ByteArray) = withContext(PocketLM.dispatcher) { ref.get().loadStateBytes(bytes) }

    /**
     * The log-probability of each of [continuations] after [prompt] (each tokenized on its own:
     * give it its leading space), in one batched pass. Waits for a generation on this session.
     */
    suspend fun score(prompt: String, continuations: List<String>): List<ContinuationScore> =
        withContext(PocketLM.dispatcher) { ref.get().score(prompt, continuations) }

    /**
     * The label of [labels] the model finds most likely for [text] (asked in the model's chat
     * template after [instruction]), with every label's score; one batched pass.
     * @throws PocketLmException.InvalidArgument for no labels, an empty or duplicate label, or an empty text
     */
    suspend fun classify(text: String, labels: List<String>, instruction: String? = null): Classification =
        withContext(PocketLM.dispatcher) { ref.get().classify(text, labels, instruction) }

    /**
     * Applies [adapter] (loaded for this session's model) to every generation from now on,
     * its update multiplied by [scale] (1 = as trained); attaching it again sets a new scale.
     * Several adapters add up. Waits for a running generation to finish; the session forgets
     * its cached tokens when its adapters change (docs/adapters.md).
     * @throws PocketLmException.InvalidArgument for a scale that is NaN or infinite, or an
     *   adapter loaded for another [Model] (the session is unchanged)
     */
    suspend fun attachAdapter(adapter: LoraAdapter, scale: Float = 1f) =
        withContext(PocketLM.dispatcher) { ref.get().attachAdapter(adapter.ffi, scale) }

    /** Stops applying [adapter] (nothing happens if it is not attached). Waits like [attachAdapter]. */
    suspend fun detachAdapter(adapter: LoraAdapter) =
        withContext(PocketLM.dispatcher) { ref.get().detachAdapter(adapter.ffi) }

    /**
     * How many adapters this session applies. Suspends (on [PocketLM.dispatcher]) while a
     * generation runs on this session: the count is read under the session's lock.
     */
    suspend fun adapterCount(): Int = withContext(PocketLM.dispatcher) { ref.get().adapterCount() }

    /** Tokens in the KV cache after the latest generation. */
    val contextTokens: Int
        get() = ref.get().contextTokens()

    val contextLength: Int
        get() = ref.get().contextLength()

    /** Forgets the cached tokens (never blocks). */
    fun reset() = ref.get().reset()

    override fun close() = ref.close()
}

/**
 * A chat with the model: keeps the history and KV cache between answers.
 *
 * ```kotlin
 * chat.send("What is a haiku?").collect { print(it) }
 * ```
 */
class Chat internal constructor(ffi: FfiChatSession) : AutoCloseable {
    private val ref = NativeRef(ffi, "Chat")

    /** Sends a user message and streams the answer; cancelling the collector cancels it. */
    fun send(message: String): Flow<String> {
        val c = ref.get()
        return textFlow { c.send(message, it) }
    }

    /** Sends a user message and returns the whole answer. */
    suspend fun reply(message: String): GenerationResult = runToEnd { ref.get().send(message, it) }

    /** The conversation so far (as of the latest finished answer). */
    val history: List<ChatMessage>
        get() = ref.get().history()

    /** The result of the latest answer once it has ended, or null. */
    suspend fun lastResult(): GenerationResult? = ref.get().lastResult()

    /** Forgets the conversation, keeping the system prompt (never blocks). */
    fun clear() = ref.get().clear()

    /**
     * Saves the chat (history and KV cache) to [path], replaced atomically; returns its size in
     * bytes. Waits for an answer in progress. Restore it with [Model.restoreChat].
     */
    suspend fun saveState(path: String): Long = withContext(PocketLM.dispatcher) { ref.get().saveState(path) }

    override fun close() = ref.close()
}
