// The keyboard's user dictionary through the Kotlin layer on the real SmolLM2: an added and a
// learned made-up name are offered as completions, export/import round-trips into a fresh
// predictor, password fields never learn, corrupt bytes are PocketLmException.InvalidUserDictionary.
package dev.pocketlm.test

import dev.pocketlm.FieldKind
import dev.pocketlm.KeyboardOptions
import dev.pocketlm.KeyboardPredictor
import dev.pocketlm.LearnOutcome
import dev.pocketlm.Model
import dev.pocketlm.UserWordSource
import dev.pocketlm.ffi.PocketLmException
import java.io.File
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UserWordsTest {
    private lateinit var model: Model

    @BeforeAll
    fun load() = runBlocking<Unit> {
        val path = modelPath()
        check(File(path).isFile) { "model file $path is missing: run scripts/fetch-models.sh" }
        model = Model.load(path)
    }

    @AfterAll
    fun close() = model.close()

    private suspend fun predictor(options: KeyboardOptions = KeyboardOptions(threads = 1)): KeyboardPredictor =
        model.keyboardPredictor(options)

    private suspend fun KeyboardPredictor.words(text: String) = suggest(text).map { it.word }

    @Test
    fun `an added name is offered as a completion and removed again`() = runBlocking<Unit> {
        predictor().use { p ->
            val text = "See you at the party with Quen"
            assertFalse("Quenbyth" in p.words(text), "the model alone does not know the name")
            p.addUserWord("Quenbyth")
            assertContains(p.words(text), "Quenbyth")
            assertEquals(listOf("Quenbyth"), p.userWords().map { it.word })
            assertEquals(UserWordSource.ADDED, p.userWords()[0].source)
            assertTrue(p.removeUserWord("quenbyth"))
            assertFalse(p.removeUserWord("quenbyth"))
            assertFalse("Quenbyth" in p.words(text))
            assertFailsWith<PocketLmException.InvalidArgument> { p.addUserWord("two words") }
        }
    }

    @Test
    fun `a name typed twice is learned and offered`() = runBlocking<Unit> {
        predictor().use { p ->
            assertEquals(LearnOutcome.COUNTED, p.learnTypedWord("I had lunch with ", "Vorlanth"))
            assertFalse("Vorlanth" in p.words("Tomorrow I will call Vor"), "one typing is not enough")
            assertEquals(LearnOutcome.LEARNED, p.learnTypedWord("Then ", "Vorlanth", FieldKind.TEXT))
            assertContains(p.words("Tomorrow I will call Vor"), "Vorlanth")
            assertEquals(UserWordSource.LEARNED, p.userWords().single().source)
            assertEquals(LearnOutcome.MODEL_OFFERS, p.learnTypedWord("Thank you very ", "much"))
            p.clearUserWords()
            assertTrue(p.userWords().isEmpty())
            assertFalse("Vorlanth" in p.words("Tomorrow I will call Vor"))
        }
    }

    @Test
    fun `password and no-suggestion fields never learn`() = runBlocking<Unit> {
        predictor().use { p ->
            for (field in listOf(FieldKind.PASSWORD, FieldKind.NO_SUGGESTIONS)) {
                repeat(4) { assertEquals(LearnOutcome.FIELD_NOT_LEARNED, p.learnTypedWord("", "Hunter2xq", field)) }
            }
            assertTrue(p.userWords().isEmpty())
            assertFalse("Hunter2xq" in p.words("my password is Hun"))
        }
        // Learning switched off in the options: not even a text field learns.
        predictor(KeyboardOptions(threads = 1, learnUserWords = false)).use { p ->
            repeat(3) { assertEquals(LearnOutcome.FIELD_NOT_LEARNED, p.learnTypedWord("I met ", "Vorlanth")) }
            assertTrue(p.userWords().isEmpty())
        }
    }

    @Test
    fun `export then import into a fresh predictor round-trips, corrupt bytes are a typed error`() = runBlocking<Unit> {
        val bytes = predictor().use { p ->
            p.addUserWord("Quenbyth")
            repeat(2) { p.learnTypedWord("I met ", "Vorlanth") }
            assertEquals(setOf("Quenbyth", "Vorlanth"), p.userWords().map { it.word }.toSet())
            p.exportUserWords()
        }
        predictor().use { q ->
            assertTrue(q.userWords().isEmpty())
            assertEquals(2, q.importUserWords(bytes))
            assertEquals(setOf("Quenbyth", "Vorlanth"), q.userWords().map { it.word }.toSet())
            assertContains(q.words("Tomorrow I will call Vor"), "Vorlanth")
            assertContains(q.words("See you at the party with Quen"), "Quenbyth")
            val before = q.userWords()

            val flipped = bytes.copyOf().also { it[it.size - 6] = (it[it.size - 6].toInt() xor 0x55).toByte() }
            for (bad in listOf(flipped, bytes.copyOf(bytes.size / 2), ByteArray(0), "not a dictionary".toByteArray())) {
                assertFailsWith<PocketLmException.InvalidUserDictionary> { q.importUserWords(bad) }
            }
            assertEquals(before, q.userWords(), "a failed import changes nothing")
        }
    }
}
