// The reply controller on the real SmolLM2; its UI thread is an EventLoop the test drains.
package dev.pocketlm.samples

import dev.pocketlm.ConversationMessage
import dev.pocketlm.NoDraftReason
import dev.pocketlm.ReplyDrafts
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test

/** The real engine, recording each draft's end (done or cancelled). */
class RecordingReplyEngine(val real: ModelReplyEngine) : ReplyEngine {
    val drafts: MutableList<String> = Collections.synchronizedList(ArrayList())

    val lastLongerReply get() = real.lastLongerReply

    override suspend fun draft(conversation: List<ConversationMessage>): ReplyDrafts {
        val last = conversation.last().text
        try {
            return real.draft(conversation).also { drafts.add("done:$last") }
        } catch (e: CancellationException) {
            drafts.add("cancelled:$last")
            throw e
        }
    }

    override fun longerReply(conversation: List<ConversationMessage>): Flow<String> = real.longerReply(conversation)

    override fun close() = real.close()
}

class ReplyHarness {
    val ui = EventLoop()
    val engine = RecordingReplyEngine(ModelReplyEngine(TestModel.model, runBlocking { TestModel.model.replyDrafter() }))
    val controller = ReplyController(ui.asCoroutineDispatcher())

    init {
        controller.loadModel { engine }
        ui.runUntil { controller.state.modelState == ModelState.Ready }
    }

    fun close() {
        controller.close()
        ui.runPending()
    }
}

class ReplyControllerTest {
    @Test
    fun `chips fill the compose box and Send appends my message`() {
        val r = ReplyHarness()
        r.controller.receive("Are you coming to dinner tonight?")
        assertTrue(r.controller.state.drafting)
        r.ui.runUntil { !r.controller.state.drafting }
        val chips = r.controller.state.chips
        assertTrue(chips.size in 1..3, "chips $chips")
        r.controller.tapChip(chips.size - 1)
        assertEquals(chips.last(), r.controller.state.compose)
        assertEquals(chips.last().length, r.controller.state.composeCursor)
        r.controller.send()
        val s = r.controller.state
        assertEquals(ConversationMessage(fromMe = true, text = chips.last()), s.messages.last())
        assertEquals(2, s.messages.size)
        assertEquals("", s.compose)
        assertEquals(emptyList(), s.chips)
        assertFalse(s.drafting, "no draft after my own message")
        assertFalse(s.canWriteLonger)
        r.ui.runPending()
        assertEquals(listOf("done:Are you coming to dinner tonight?"), r.engine.drafts)
        r.close()
    }

    @Test
    fun `the reason is shown when the core drafts nothing`() {
        val r = ReplyHarness()
        r.controller.receive("My grandmother passed away last night.")
        r.ui.runUntil { !r.controller.state.drafting }
        assertEquals(emptyList(), r.controller.state.chips)
        assertEquals(NoDraftReason.SENSITIVE, r.controller.state.noSuggestionReason)
        r.close()
    }

    @Test
    fun `a new incoming message cancels the draft in flight`() {
        val r = ReplyHarness()
        r.controller.receive("Are you coming to dinner tonight?")
        r.ui.runPending() // the draft starts on the library's dispatcher
        assertTrue(r.controller.state.drafting)
        r.controller.receive("Can we meet tomorrow at 5?")
        r.ui.runUntil { !r.controller.state.drafting }
        r.ui.runUntil { r.engine.drafts.size == 2 }
        assertEquals(
            listOf("cancelled:Are you coming to dinner tonight?", "done:Can we meet tomorrow at 5?"),
            r.engine.drafts.sortedBy { !it.startsWith("cancelled") },
        )
        val expected = runBlocking { r.engine.real.draft(r.controller.state.messages) }.replies.map { it.text }
        assertEquals(expected.take(3), r.controller.state.chips, "the chips must answer the conversation with both messages")
        r.close()
    }

    @Test
    fun `Stop keeps the partial text and a new message stops the stream`() {
        val r = ReplyHarness()
        r.controller.receive("Can we meet tomorrow at 5?")
        r.ui.runUntil { !r.controller.state.drafting }
        r.controller.tapChip(0)
        r.controller.writeLonger()
        assertTrue(r.controller.state.streaming)
        assertEquals("", r.controller.state.compose, "the longer reply replaces the compose text")
        r.ui.runUntil { r.controller.state.compose.isNotEmpty() }
        r.controller.stop()
        assertFalse(r.controller.state.streaming, "Stop shows at once")
        val partial = r.controller.state.compose
        r.ui.runUntil { r.engine.lastLongerReply != null }
        r.ui.runPending()
        assertEquals(partial, r.controller.state.compose)
        assertEquals(dev.pocketlm.StopReason.CANCELLED, r.engine.lastLongerReply!!.stopReason)

        // A stream that runs to its end clears `streaming` by itself; a new message stops one.
        r.controller.writeLonger()
        r.ui.runUntil { r.controller.state.compose.isNotEmpty() }
        r.controller.receive("Never mind, see you there!")
        assertFalse(r.controller.state.streaming)
        r.ui.runUntil { !r.controller.state.drafting }
        r.close()
    }

    @Test
    fun `a longer reply runs to its end`() {
        val r = ReplyHarness()
        r.controller.showConversation(
            listOf(
                ConversationMessage(fromMe = false, text = "Hi! How was the trip?"),
                ConversationMessage(fromMe = true, text = "Great, thanks!"),
                ConversationMessage(fromMe = false, text = "Did you see the lake?"),
            ),
        )
        r.ui.runUntil { !r.controller.state.drafting }
        r.controller.writeLonger()
        r.ui.runUntil { !r.controller.state.streaming }
        val result = r.engine.lastLongerReply!!
        assertTrue(result.stopReason != dev.pocketlm.StopReason.CANCELLED, "${result.stopReason}")
        assertEquals(result.text, r.controller.state.compose)
        assertTrue(result.text.isNotBlank())
        assertTrue("Them: Hi! How was the trip?\nMe: Great, thanks!" in ModelReplyEngine.systemPrompt(r.controller.state.messages))
        r.close()
    }

    @Test
    fun `model load failure`() {
        val ui = EventLoop()
        val c = ReplyController(ui.asCoroutineDispatcher())
        c.loadModel { ModelReplyEngine.open("/nonexistent/model.gguf") }
        ui.runUntil { c.state.modelState != ModelState.Loading }
        assertIs<ModelState.Failed>(c.state.modelState)
        c.receive("Hello?")
        assertFalse(c.state.drafting)
        assertFalse(c.state.canWriteLonger)
        c.close()
    }
}
