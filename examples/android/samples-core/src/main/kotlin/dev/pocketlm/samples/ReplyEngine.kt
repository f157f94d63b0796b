package dev.pocketlm.samples

import dev.pocketlm.ChatOptions
import dev.pocketlm.ConversationMessage
import dev.pocketlm.GenerationResult
import dev.pocketlm.Model
import dev.pocketlm.PocketLM
import dev.pocketlm.ReplyDrafter
import dev.pocketlm.ReplyDrafts
import dev.pocketlm.TextSession
import dev.pocketlm.generateJson
import dev.pocketlm.structuredOptions
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.withContext

/** The reply controller's view of the model: drafts and the longer streamed reply. */
interface ReplyEngine : AutoCloseable {
    /** Drafts for the last message of [conversation] (oldest first); cancellable. */
    suspend fun draft(conversation: List<ConversationMessage>): ReplyDrafts

    /** A longer reply to the last (incoming) message, streamed; cancelling the collector stops it within one token. */
    fun longerReply(conversation: List<ConversationMessage>): Flow<String>

    /**
     * The "Add to calendar" action for an incoming [message] (schema-constrained extraction), or
     * null when it names no date, time or place; cancellable. Engines without it offer none.
     */
    suspend fun extractEvent(message: String): CalendarEvent? = null
}

/** [ReplyEngine] on the library's [ReplyDrafter] and a fresh [dev.pocketlm.Chat] per longer reply. */
class ModelReplyEngine(private val model: Model, private val drafter: ReplyDrafter) : ReplyEngine {
    companion object {
        /** The longer reply's instruction; earlier messages follow it, one per line. */
        const val SYSTEM_PROMPT =
            "You help the user answer a text message. Write the user's reply only: friendly, a few sentences."

        /** Most tokens of a longer reply. */
        const val MAX_TOKENS = 96

        /** Most tokens of an event extraction (the four fields of CalendarEvent.CALENDAR_SCHEMA). */
        const val EXTRACT_MAX_TOKENS = 96

        /** The system prompt for [conversation]: the instruction, then the messages before the last one. */
        fun systemPrompt(conversation: List<ConversationMessage>): String {
            val earlier = conversation.dropLast(1)
            if (earlier.isEmpty()) return SYSTEM_PROMPT
            return SYSTEM_PROMPT + "\nEarlier messages:\n" +
                earlier.joinToString("\n") { (if (it.fromMe) "Me: " else "Them: ") + it.text }
        }

        /** Opens an engine on the process's shared model at [modelPath]. Loads on the library's dispatcher. */
        suspend fun open(modelPath: String): ModelReplyEngine {
            val model = withContext(PocketLM.dispatcher) { SharedModel.get(modelPath) }
            return ModelReplyEngine(model, model.replyDrafter())
        }
    }

    /** The result of the latest longer reply once its stream has ended (what the native side generated). */
    @Volatile
    var lastLongerReply: GenerationResult? = null
        private set

    override suspend fun draft(conversation: List<ConversationMessage>): ReplyDrafts = drafter.draft(conversation)

    override fun longerReply(conversation: List<ConversationMessage>): Flow<String> = flow {
        lastLongerReply = null
        val last = conversation.lastOrNull { !it.fromMe } ?: return@flow
        model.chat(ChatOptions(systemPrompt = systemPrompt(conversation), maxTokens = MAX_TOKENS)).use { chat ->
            try {
                emitAll(chat.send(last.text))
            } finally {
                // Also after a cancel (Stop): the result says how far the generation went.
                lastLongerReply = withContext(NonCancellable) { chat.lastResult() }
            }
        }
    }

    private val extractLock = Mutex()
    private var extractSession: TextSession? = null

    override suspend fun extractEvent(message: String): CalendarEvent? = extractLock.withLock {
        val session = extractSession ?: model.textSession().also { extractSession = it }
        val json = try {
            session.generateJson(
                CalendarEvent.prompt(message),
                CalendarEvent.CALENDAR_SCHEMA,
                structuredOptions(EXTRACT_MAX_TOKENS),
            )
        } catch (_: dev.pocketlm.IncompleteOutputException) {
            return@withLock null
        }
        CalendarEvent.fromExtraction(message, json)
    }

    override fun close() {
        drafter.close()
        extractSession?.close()
    }
}
