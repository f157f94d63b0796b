// The reply screen's "Add to calendar" action: the extraction schema is the fixture's, the action's
// rule on hand-written extraction outputs, and the controller on the real SmolLM2.
package dev.pocketlm.samples

import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test

class CalendarActionTest {
    private fun norm(s: String) = s.lowercase().split(Regex("\\s+")).filter { it.isNotEmpty() }.joinToString(" ")

    @Test
    fun `the extraction schema is tests-fixtures-calendar-schema-json`() {
        val fixture = File(System.getenv("POCKETLM_REPO") ?: ".", "tests/fixtures/calendar-schema.json").readText()
        // Same JSON up to whitespace (no string in the schema holds a space).
        assertEquals(fixture.filterNot { it.isWhitespace() }, CalendarEvent.CALENDAR_SCHEMA)
        // The iOS sample's copy too (the Swift suite runs on a mirror without the fixtures).
        val swift = File(System.getenv("POCKETLM_REPO") ?: ".", "examples/ios/SampleCore/Sources/SampleCore/CalendarEvent.swift").readText()
        assertTrue(swift.contains("jsonSchema = #\"${CalendarEvent.CALENDAR_SCHEMA}\"#"), "the Swift sample's jsonSchema differs")
    }

    @Test
    fun `fields count only when quoted from the message`() {
        val msg = "Dinner at Luigi's on Friday at 7pm?"
        assertEquals(
            CalendarEvent("Dinner at Luigi's", "friday", "7pm", "Luigi's"),
            CalendarEvent.fromExtraction(msg, """{"title": "Dinner at Luigi's", "date": "friday", "time": "7pm", "place": "Luigi's"}"""),
        )
        // An invented time is dropped; the rest stays.
        assertEquals(
            CalendarEvent("Dinner", "Friday", null, null),
            CalendarEvent.fromExtraction(msg, """{"title":"Dinner","date":"Friday","time":"11:30am","place":null}"""),
        )
        // Nothing quoted: no action.
        assertNull(CalendarEvent.fromExtraction("can you call me back?", """{"title":"Call","date":"2022-01-01","time":"10:00","place":"Paris"}"""))
        assertNull(CalendarEvent.fromExtraction(msg, """{"title":null,"date":null,"time":null,"place":null}"""))
        // No title: the place names it. Escapes are decoded before matching.
        assertEquals(
            CalendarEvent("the \"Fox\"", null, null, "the \"Fox\""),
            CalendarEvent.fromExtraction("quiz at the \"Fox\"", """{"title":null,"date":null,"time":null,"place":"the \"Fox\""}"""),
        )
        // Not the schema's output: no action.
        assertNull(CalendarEvent.fromExtraction(msg, """{"title":"x","date":"Friday""""))
        assertNull(CalendarEvent.fromExtraction(msg, """["Friday"]"""))
        assertNull(CalendarEvent.fromExtraction(msg, """{"date": 5}"""))
    }

    @Test
    fun `action label and when text`() {
        val e = CalendarEvent("Dinner", "Friday", "7pm", "Luigi's")
        assertEquals("Add to calendar: Dinner · Friday · 7pm", e.actionLabel)
        assertEquals("Friday, 7pm", e.whenText)
        val place = CalendarEvent("the Fox", null, null, "the Fox")
        assertEquals("Add to calendar: the Fox", place.actionLabel)
        assertNull(place.whenText)
    }

    private class Harness {
        val ui = EventLoop()
        val engine = ModelReplyEngine(TestModel.model, runBlocking { TestModel.model.replyDrafter() })
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

    private fun assertQuoted(message: String, e: CalendarEvent) {
        val fields = listOfNotNull(e.date, e.time, e.place)
        assertTrue(fields.isNotEmpty(), "$e")
        for (f in fields) assertTrue(norm(message).contains(norm(f)), "$f is not in \"$message\" ($e)")
    }

    @Test
    fun `a message naming a time and place offers Add to calendar`() {
        val h = Harness()
        val msg = "Dinner at Luigi's on Friday at 7pm?"
        h.controller.receive(msg)
        assertTrue(h.controller.state.extractingEvent)
        assertNull(h.controller.state.calendarEvent)
        h.ui.runUntil(300_000) { !h.controller.state.extractingEvent }
        // The chips came first (the extraction waits for the draft).
        assertFalse(h.controller.state.drafting)
        val event = assertNotNull(h.controller.state.calendarEvent)
        assertQuoted(msg, event)
        assertEquals(event, h.controller.addToCalendar())
        assertNull(h.controller.state.calendarEvent)
        assertNull(h.controller.addToCalendar())
        h.close()
    }

    @Test
    fun `a newer message replaces the extraction in flight`() {
        val h = Harness()
        h.controller.receive("Are you free on Saturday?")
        val second = "Team lunch at the Thai place on Monday at noon."
        h.controller.receive(second)
        h.ui.runUntil(300_000) { !h.controller.state.extractingEvent }
        val event = assertNotNull(h.controller.state.calendarEvent)
        assertQuoted(second, event)
        // My own message does not withdraw the action for the last incoming one.
        h.controller.editCompose("ok", 2)
        h.controller.send()
        assertEquals(event, h.controller.state.calendarEvent)
        h.close()
    }
}
