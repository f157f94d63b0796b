// LoRA adapters through the Kotlin layer on the real SmolLM2-135M and its random rank-8 adapter
// (scripts/gen-random-loras.sh, run by scripts/test-kotlin.sh): an adapted session generates
// other text than a plain one, detaching gives the plain model back, bad files and scales are
// typed errors. The adapter's effect itself is checked against llama.cpp in
// rust/pocketlm/tests/lora.rs.
package dev.pocketlm.test

import dev.pocketlm.AdapterPrecision
import dev.pocketlm.LoraAdapter
import dev.pocketlm.Model
import dev.pocketlm.SessionOptions
import dev.pocketlm.TextSession
import dev.pocketlm.ffi.PocketLmException
import java.io.File
import java.nio.file.Files
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** The adapter: $POCKETLM_LORA, else models/lora/smollm2-r8-seed0.gguf under the repo root
 * ($POCKETLM_REPO or the working directory), made for the default model. Missing is a failure. */
fun loraPath(): String {
    System.getenv("POCKETLM_LORA")?.let { return it }
    val root = System.getenv("POCKETLM_REPO") ?: "."
    return File(root, "models/lora/smollm2-r8-seed0.gguf").path
}

const val CODE_PROMPT = "def fibonacci(n):\n    "

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterTest {
    private lateinit var model: Model
    private lateinit var adapter: LoraAdapter
    private val opts = SessionOptions(contextLength = 128)

    @BeforeAll
    fun load() = runBlocking<Unit> {
        val path = loraPath()
        check(File(path).isFile) { "adapter file $path is missing: run scripts/gen-random-loras.sh" }
        model = Model.load(modelPath())
        adapter = model.loadAdapter(path)
    }

    @AfterAll
    fun close() {
        adapter.close()
        model.close()
    }

    private suspend fun text(s: TextSession): String = s.complete(CODE_PROMPT, greedy(8)).text

    @Test
    fun `an adapted session generates other text and detaching gives the plain model back`() = runBlocking<Unit> {
        assertEquals(8, adapter.rank)
        assertEquals(210, adapter.matrixCount)
        assertTrue(adapter.sizeBytes > 9_000_000, "${adapter.sizeBytes} bytes")
        assertTrue(adapter.name.isNotEmpty())
        model.textSession(opts).use { plain ->
            model.textSession(opts).use { adapted ->
                adapted.attachAdapter(adapter, 0.75f)
                assertEquals(0, plain.adapterCount())
                assertEquals(1, adapted.adapterCount())
                // Interleaved: one model serves both at once.
                val p = text(plain)
                val q = text(adapted)
                assertNotEquals(p, q, "the adapter changed nothing")
                assertEquals(p, text(plain))
                assertEquals(q, text(adapted))
                // Attaching again sets a new scale, it does not add a second adapter.
                adapted.attachAdapter(adapter, 1f)
                assertEquals(1, adapted.adapterCount())
                adapted.detachAdapter(adapter)
                assertEquals(0, adapted.adapterCount())
                assertEquals(p, text(adapted))
                // Detaching one that is not attached changes nothing.
                adapted.detachAdapter(adapter)
                assertEquals(0, adapted.adapterCount())
                val fresh = model.textSession(opts).use { text(it) }
                assertEquals(fresh, p)
            }
        }
    }

    @Test
    fun `an adapter held at f16 takes half the memory and still adapts`() = runBlocking<Unit> {
        val held = model.loadAdapter(loraPath(), precision = AdapterPrecision.F16)
        try {
            assertEquals(adapter.sizeBytes, 2 * held.sizeBytes)
            model.textSession(opts).use { plain ->
                model.textSession(opts).use { s ->
                    s.attachAdapter(held, 0.75f)
                    assertNotEquals(text(plain), text(s), "the F16 adapter changed nothing")
                }
            }
        } finally {
            held.close()
        }
    }

    @Test
    fun `an adapter held at q8 takes less than at f16 and still adapts`() = runBlocking<Unit> {
        val f16 = model.loadAdapter(loraPath(), precision = AdapterPrecision.F16)
        val q8 = model.loadAdapter(loraPath(), precision = AdapterPrecision.Q8)
        try {
            assertTrue(q8.sizeBytes * 5 < f16.sizeBytes * 4, "Q8 ${q8.sizeBytes} vs F16 ${f16.sizeBytes}")
            model.textSession(opts).use { plain ->
                model.textSession(opts).use { s ->
                    s.attachAdapter(q8, 0.75f)
                    assertNotEquals(text(plain), text(s), "the Q8 adapter changed nothing")
                }
            }
        } finally {
            q8.close()
            f16.close()
        }
    }

    @Test
    fun `a closed adapter stays applied where it is attached`() = runBlocking<Unit> {
        val own = model.loadAdapter(loraPath())
        model.textSession(opts).use { s ->
            s.attachAdapter(own, 0.75f)
            val q = text(s)
            own.close()
            own.close()
            assertTrue(own.isClosed)
            assertEquals(q, text(s))
            assertEquals(1, s.adapterCount())
            assertFailsWith<IllegalStateException> { s.detachAdapter(own) }
        }
    }

    @Test
    fun `bad adapter files and scales are typed errors`() = runBlocking<Unit> {
        // The model file itself: a GGUF file, but not an adapter.
        val e1 = assertFailsWith<PocketLmException.InvalidModel> { model.loadAdapter(modelPath()) }
        assertContains(e1.message!!, "not an adapter")
        val dir = Files.createTempDirectory("pocketlm-lora").toFile()
        try {
            val text = File(dir, "notes.gguf").apply { writeText("this is not an adapter, just text ".repeat(100)) }
            assertFailsWith<PocketLmException.InvalidModel> { model.loadAdapter(text.path) }
            assertFailsWith<PocketLmException.ModelNotFound> { model.loadAdapter(File(dir, "missing.gguf").path) }
        } finally {
            dir.deleteRecursively()
        }
        model.textSession(opts).use { s ->
            for (bad in listOf(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY)) {
                val e = assertFailsWith<PocketLmException.InvalidArgument> { s.attachAdapter(adapter, bad) }
                assertContains(e.message!!, "scale")
            }
            assertEquals(0, s.adapterCount())
        }
        // An adapter loaded for another Model (even of the same file).
        Model.load(modelPath()).use { other ->
            other.textSession(opts).use { s ->
                assertFailsWith<PocketLmException.InvalidArgument> { s.attachAdapter(adapter) }
                assertEquals(0, s.adapterCount())
            }
        }
    }
}
