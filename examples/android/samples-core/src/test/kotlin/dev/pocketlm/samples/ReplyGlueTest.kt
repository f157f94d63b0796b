// The Android glue of the shared reply controller (ReplyGlue over Rust's ReplyCore) on the real
// SmolLM2: events reach the controller, states are drawn on the UI thread and only newer ones,
// the compose cursor crosses in UTF-16 units. The controller's own behaviour (drafts, stale
// results, the longer reply, the calendar action) is tested in Rust
// (cargo test -p pocketlm-ffi --lib reply_core).
package dev.pocketlm.samples

import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

class ReplyGlueTest {
    private val thumbs = "\uD83D\uDC4D\uD83C\uDFFD" // 👍🏽: four UTF-16 units

    private class Glue : AutoCloseable {
        val ui = EventLoop()
        val drawnOn = ArrayList<Thread>()
        val versions = ArrayList<ULong>()
        val glue = ReplyGlue(ui) {
            drawnOn.add(Thread.currentThread())
            versions.add(it.version)
        }

        fun settle() {
            do glue.awaitIdle() while (ui.runPending() > 0)
        }

        override fun close() = glue.close()
    }

    @Test
    fun `a received message gets chips drawn on the UI thread, newer states only`() = Glue().use { g ->
        val stateDir = java.io.File(kotlin.io.path.createTempDirectory("replystate").toFile(), "reply-state")
        g.glue.loadModel(TestModel.path, stateDir.path)
        g.settle()
        assertEquals(ModelState.Ready, g.glue.state.modelState)
        g.glue.receive("Can we meet tomorrow at 5?")
        g.ui.runPending()
        assertTrue(g.glue.state.drafting, "progress shows while drafting")
        g.settle()
        val s = g.glue.state
        assertFalse(s.drafting)
        assertTrue(s.chips.size in 1..3, "chips ${s.chips}")
        assertTrue(g.drawnOn.all { it === Thread.currentThread() }, "states are drawn on the UI thread only")
        assertEquals(g.versions.sorted(), g.versions, "an older state is never drawn after a newer one")
        assertEquals(g.versions.toSet().size, g.versions.size)
        assertTrue(stateDir.listFiles().orEmpty().isNotEmpty(), "the drafter's warm-up is kept in ${stateDir.path}")
        stateDir.parentFile.deleteRecursively()

        g.glue.tapChip(-1) // not a chip: nothing
        g.glue.tapChip(s.chips.size - 1)
        g.ui.runPending()
        assertEquals(s.chips.last(), g.glue.state.compose)
        assertEquals(s.chips.last().length, g.glue.state.composeCursorUtf16.toInt())
        g.glue.send()
        g.ui.runPending()
        assertEquals(2, g.glue.state.messages.size)
        assertTrue(g.glue.state.messages.last().fromMe)
    }

    @Test
    fun `the compose cursor crosses in UTF-16 units and a failed load maps to ModelState`() = Glue().use { g ->
        g.glue.loadModel("/nonexistent/model.gguf")
        g.glue.editCompose("ok $thumbs!", 99)
        g.settle()
        assertEquals("ok $thumbs!", g.glue.state.compose)
        assertEquals("ok $thumbs!".length, g.glue.state.composeCursorUtf16.toInt(), "clamped to the text's UTF-16 length")
        g.glue.editCompose("ok $thumbs!", 3)
        g.ui.runPending()
        assertEquals(3, g.glue.state.composeCursorUtf16.toInt())
        assertIs<ModelState.Failed>(g.glue.state.modelState)
        assertFalse(g.glue.state.canWriteLonger)
        assertNull(g.glue.addToCalendar())
    }
}
