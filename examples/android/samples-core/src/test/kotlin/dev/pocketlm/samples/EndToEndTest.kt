// The keyboard sample end to end on the real SmolLM2, with a real background worker thread: what a
// user sees. The reply screen's equivalents (three distinct chips, Stop within one token) are Rust
// tests of the shared ReplyCore (rust/pocketlm-ffi/src/reply_core/tests.rs) and ReplyGlueTest.
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
}
