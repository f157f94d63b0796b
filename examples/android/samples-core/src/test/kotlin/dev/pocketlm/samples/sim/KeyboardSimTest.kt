package dev.pocketlm.samples.sim

import dev.pocketlm.samples.Json
import dev.pocketlm.samples.JsonException
import dev.pocketlm.samples.ModelState
import dev.pocketlm.samples.TestModel
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

class KeyboardSimTest {
    @Test
    fun `json reader and writer`() {
        assertEquals(
            mapOf("type" to "text", "text" to "a\"b\\c\n\uD83D\uDC4D/é", "n" to 3L, "x" to 1.5, "l" to listOf(true, null, -2L)),
            Json.parse("""{ "type":"text", "text":"a\"b\\c\n\ud83d\udc4d\/é", "n":3, "x":1.5e0, "l":[true,null,-2] }"""),
        )
        assertEquals(emptyMap<String, Any?>(), Json.parse(" {} "))
        for (bad in listOf("", "{", "{\"a\"}", "{\"a\":1,}", "[1 2]", "\"abc", "{\"a\":1} x", "tru", "{\"a\":\"\\x\"}", "-")) {
            assertFailsWith<JsonException>("accepted $bad") { Json.parse(bad) }
        }
        assertEquals("\"a\\\"b\\\\c\\n\\u0001é\uD83D\uDC4D\"", Json.quote("a\"b\\c\n\u0001é\uD83D\uDC4D"))
        assertEquals("\"\\b\\f\\r\\t\\u001f/\"", Json.quote("\b\u000c\r\t\u001f/"))
    }

    @Test
    fun `simulator protocol on the real model`() {
        KeyboardSim(TestModel.path).use { sim ->
            assertEquals(ModelState.Ready, sim.modelState)
            val typed = sim.handle("""{"type":"text","text":"See you tomor"}""")
            assertTrue(
                Regex("""\{"text":"See you tomor","cursor":13,"strip":\["[^"]*","tomorrow","[^"]*"]}""").matches(typed),
                typed,
            )

            val tapped = sim.handle("""{"type":"tap","slot":1}""")
            assertTrue(tapped.startsWith("""{"text":"See you tomorrow ","cursor":17,"strip":["""), tapped)
            assertTrue(!tapped.endsWith("""["","",""]}"""), "empty next-word strip: $tapped")
            assertEquals("""{"text":"See you tomorrow.","cursor":17,"strip":""", sim.handle("""{"type":"text","text":"."}""").substringBefore("["))
            assertTrue(sim.handle("""{"type":"backspace","n":1}""").startsWith("""{"text":"See you tomorrow","cursor":16,"""))
            assertTrue(sim.handle("""{"type":"move","to":7}""").startsWith("""{"text":"See you tomorrow","cursor":7,"""))
            assertEquals("""{"text":"","cursor":0,"strip":["","",""]}""", sim.handle("""{"type":"field","input_type":129}"""))
            val thumbs = "\uD83D\uDC4D\uD83C\uDFFD" // 👍🏽: 2 scalars, 4 UTF-16 units
            assertEquals("{\"text\":\"Hi $thumbs\",\"cursor\":5,\"strip\":[\"\",\"\",\"\"]}", sim.handle("""{"type":"text","text":"Hi \ud83d\udc4d\ud83c\udffd"}"""))
            assertEquals("""{"text":"Hi ","cursor":3,"strip":["","",""]}""", sim.handle("""{"type":"backspace","n":1}"""))
            assertEquals("""{"text":"Hi ","cursor":3,"strip":["","",""]}""", sim.handle("""{"type":"tap","slot":0}"""), "a tap on an empty slot changes nothing")

            for (bad in listOf("not json", "[1]", """{"type":"jump"}""", """{"type":"tap","slot":3}""", """{"type":"backspace"}""", """{"text":"x"}""")) {
                assertTrue(sim.handle(bad).startsWith("""{"error":""""), "no error for $bad")
            }
            assertEquals("""{"text":"Hi ","cursor":3,"strip":["","",""]}""", sim.stateLine(), "an invalid line changes nothing")
        }
    }
}
