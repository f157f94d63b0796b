// The samples end to end on the real SmolLM2, with a real background worker thread: what a user
// of the keyboard and the reply screen sees.
package dev.pocketlm.samples

import kotlin.test.assertEquals
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

class EndToEndTest {
    @Test
    fun `typing See you tomor and tapping tomorrow`() {
        val field = InMemoryTextField()
        val ui = EventLoop()
        KeyboardGlue(field, ui).use { controller ->
            controller.startField(1)
            controller.loadModel(TestModel.path)
            fun settle() {
                do controller.awaitIdle() while (ui.runPending() > 0)
            }
            settle()
            assertEquals(ModelState.Ready, controller.state.modelState)
            "See you tomor".forEach { controller.type(it.toString()) }
            settle()
            val slot = controller.state.strip.indexOf("tomorrow")
            assertTrue(slot >= 0, "no \"tomorrow\" in ${controller.state.strip}")
            controller.tap(slot)
            settle()
            assertEquals("See you tomorrow ", field.text)
            assertEquals(17, field.scalarCursor)
            val next = controller.state.strip
            assertTrue(next.any { it.isNotEmpty() }, "empty next-word strip $next")
            assertTrue("tomorrow" !in next, "the strip still shows the completions: $next")
        }
    }

    @Test
    fun `three distinct reply chips for a question`() {
        val r = ReplyHarness()
        r.controller.receive("Can we meet tomorrow at 5?")
        assertTrue(r.controller.state.drafting)
        r.ui.runUntil { !r.controller.state.drafting }
        val chips = r.controller.state.chips
        assertEquals(3, chips.size, "chips $chips, reason ${r.controller.state.noSuggestionReason}")
        assertEquals(3, chips.map { it.trim().lowercase() }.toSet().size, "chips not distinct: $chips")
        assertTrue(chips.all { it.isNotBlank() })
        assertEquals(null, r.controller.state.noSuggestionReason)
        r.close()
    }

    @Test
    fun `Stop ends a longer reply within one token`() {
        val r = ReplyHarness()
        r.controller.receive("Can we meet tomorrow at 5?")
        r.ui.runUntil { !r.controller.state.drafting }
        r.controller.writeLonger()
        r.ui.runUntil { r.controller.state.compose.length >= 8 }
        r.controller.stop()
        val partial = r.controller.state.compose
        r.ui.runUntil { r.engine.lastLongerReply != null }
        r.ui.runPending()
        val result = r.engine.lastLongerReply!!
        assertEquals(dev.pocketlm.StopReason.CANCELLED, result.stopReason)
        assertTrue(result.tokensAfterCancel <= 1, "${result.tokensAfterCancel} tokens after the cancel")
        assertEquals(partial, r.controller.state.compose, "the partial text must stay as it was at Stop")
        assertTrue(result.text.startsWith(partial), "shown \"$partial\" is not what was generated: \"${result.text}\"")
        r.close()
    }
}
