// Structured output through the Kotlin layer on the real SmolLM2: output constraints on
// GenerationOptions, typed InvalidConstraint errors before any text, complete/valid reported,
// generateJson, streaming with a constraint cancelled mid-stream, score and classify.
package dev.pocketlm.test

import dev.pocketlm.GenerationOptions
import dev.pocketlm.IncompleteOutputException
import dev.pocketlm.Model
import dev.pocketlm.SamplingOptions
import dev.pocketlm.StopReason
import dev.pocketlm.TextSession
import dev.pocketlm.ffi.OutputConstraint
import dev.pocketlm.ffi.PocketLmException
import dev.pocketlm.generateJson
import dev.pocketlm.structuredOptions
import java.io.File
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StructuredTest {
    private lateinit var model: Model
    private lateinit var session: TextSession

    @BeforeAll
    fun load() = runBlocking<Unit> {
        val path = modelPath()
        check(File(path).isFile) { "model file $path is missing: run scripts/fetch-models.sh" }
        model = Model.load(path)
        session = model.textSession()
    }

    @AfterAll
    fun close() {
        session.close()
        model.close()
    }

    private fun constrained(c: OutputConstraint, maxTokens: Int) = structuredOptions(maxTokens).copy(constraint = c)

    @Test
    fun `an invalid constraint is a typed error naming the problem before any text`() = runBlocking<Unit> {
        val cases = listOf(
            OutputConstraint.JsonSchema("{\"type\": \"object\",") to "invalid JSON schema",
            OutputConstraint.Regex("a(b") to "invalid regular expression",
            OutputConstraint.Grammar("start: nowhere") to "invalid grammar",
            OutputConstraint.Choices(emptyList()) to "invalid choices",
        )
        for ((c, want) in cases) {
            val seen = mutableListOf<String>()
            val e = assertFailsWith<PocketLmException.InvalidConstraint>("$c") {
                session.generate("Answer.", constrained(c, 16)).collect { seen.add(it) }
            }
            assertContains(e.message ?: "", want)
            assertEquals(emptyList(), seen)
            assertFailsWith<PocketLmException.InvalidConstraint> { session.complete("Answer.", constrained(c, 16)) }
        }
        assertFailsWith<PocketLmException.InvalidConstraint> { session.generateJson("Answer.", "not json") }
    }

    @Test
    fun `constrained outputs match and report complete and valid`() = runBlocking<Unit> {
        val choices = listOf("red", "green", "blue")
        val r = session.complete("What colour is grass?", constrained(OutputConstraint.Choices(choices), 8))
        assertContains(choices, r.text)
        val c = assertNotNull(r.constraint)
        assertTrue(c.complete && c.valid, "$r")

        val d = session.complete(
            "Write the date of Christmas day 2025 as YYYY-MM-DD.",
            constrained(OutputConstraint.Regex("[0-9]{4}-[0-9]{2}-[0-9]{2}"), 16),
        )
        assertTrue(Regex("[0-9]{4}-[0-9]{2}-[0-9]{2}").matches(d.text), "$d")

        val free = session.complete("Hi", GenerationOptions(maxTokens = 3, sampling = SamplingOptions(temperature = 0f)))
        assertNull(free.constraint)
    }

    @Test
    fun `generateJson returns a complete object with the schema's keys or throws when cut short`() = runBlocking<Unit> {
        val schema = """{"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer","minimum":0,"maximum":150}},"required":["name","age"],"additionalProperties":false}"""
        val json = session.generateJson("Invent a person and give their name and age as JSON.", schema, structuredOptions(64))
        // The schema fixes the shape: {"name": "<string>", "age": <integer>}, keys in order.
        assertTrue(Regex("""^\{\s*"name"\s*:\s*"([^"\\]|\\.)*"\s*,\s*"age"\s*:\s*-?[0-9]+\s*}$""").matches(json), json)
        val e = assertFailsWith<IncompleteOutputException> {
            session.generateJson("Invent a person and give their name and age as JSON.", schema, structuredOptions(3))
        }
        assertEquals(StopReason.MAX_TOKENS, e.result.stopReason)
        val c = assertNotNull(e.result.constraint)
        assertFalse(c.complete || c.valid, "${e.result}")
    }

    @Test
    fun `streaming with a constraint is cancelled by the collector`() = runBlocking<Unit> {
        val schema = """{"type":"array","items":{"type":"string"},"minItems":3,"maxItems":3}"""
        val pieces = session.generate("List three fruits as a JSON array of strings.", constrained(OutputConstraint.JsonSchema(schema), 200))
            .take(2).toList()
        assertEquals(2, pieces.size)
        val last = assertNotNull(session.lastResult())
        assertEquals(StopReason.CANCELLED, last.stopReason)
        assertEquals(pieces.joinToString(""), last.text)
        val c = assertNotNull(last.constraint)
        assertFalse(c.complete || c.valid, "$last")
    }

    @Test
    fun `score and classify`() = runBlocking<Unit> {
        val scores = session.score("The capital of France is", listOf(" Paris", " a small green banana"))
        assertEquals(listOf(" Paris", " a small green banana"), scores.map { it.text })
        for (s in scores) {
            assertEquals(s.logprob, s.tokenLogprobs.sum(), 1e-4f)
            assertTrue(s.tokenLogprobs.all { it <= 0f && it.isFinite() }, "$s")
        }
        assertTrue(scores[0].logprob > scores[1].logprob, "$scores")

        val labels = listOf("billing", "shipping", "technical")
        val c = session.classify(
            "My parcel has not arrived yet and the tracking number shows no delivery update.",
            labels,
            "Which team should handle this customer message?",
        )
        assertEquals(labels, c.scores.map { it.label })
        assertEquals(labels[c.index], c.label)
        assertEquals(c.scores.maxOf { it.meanLogprob }, c.scores[c.index].meanLogprob)
        assertFailsWith<PocketLmException.InvalidArgument> { session.classify("text", listOf("a", "a")) }
        assertFailsWith<PocketLmException.InvalidArgument> { session.score("prompt", emptyList()) }
    }
}
