// The model file changing under a loaded model, through the Kotlin layer on the real SmolLM2:
// replacing it by an atomic rename keeps the loaded model working; truncating or rewriting it in
// place gives PocketLmException.ModelFileChanged on the next call (never a SIGBUS that kills the JVM).
package dev.pocketlm.test

import dev.pocketlm.Model
import dev.pocketlm.SessionOptions
import dev.pocketlm.ffi.PocketLmException
import java.io.File
import java.io.RandomAccessFile
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test

class ModelFileTest {
    private fun copyModel(dir: File, name: String): File =
        File(dir, name).also { Files.copy(File(modelPath()).toPath(), it.toPath()) }

    @Test
    fun `replacing the model by rename keeps it working, changing it in place is ModelFileChanged`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("pocketlm-kt-file").toFile()
        try {
            val path = copyModel(dir, "model.gguf")
            Model.load(path.path).use { model ->
                model.keyboardPredictor().use { kb ->
                    model.textSession(SessionOptions(contextLength = 128)).use { session ->
                        val before = session.complete(PROMPT, greedy(4)).text
                        assertTrue(kb.suggest("See you tomor").isNotEmpty())

                        // 1. A new file renamed over the old one: the mapping keeps the old inode.
                        val fresh = copyModel(dir, "model.gguf.part")
                        Files.move(fresh.toPath(), path.toPath(), StandardCopyOption.ATOMIC_MOVE)
                        assertEquals(before, session.complete(PROMPT, greedy(4)).text)
                        assertTrue(kb.suggest("Good morn").isNotEmpty())
                    }
                }
            }
            // 2. Truncated in place while loaded: a typed error on the next call of every object.
            Model.load(path.path).use { model ->
                model.keyboardPredictor().use { kb ->
                    model.textSession(SessionOptions(contextLength = 128)).use { session ->
                        assertEquals(4, session.complete(PROMPT, greedy(4)).generatedTokens)
                        RandomAccessFile(path, "rw").use { it.setLength(4096) }
                        val e1 = assertFailsWith<PocketLmException.ModelFileChanged> { session.complete("Once upon a time", greedy(4)) }
                        assertContains(e1.message!!, "load the model again")
                        val e2 = assertFailsWith<PocketLmException.ModelFileChanged> { kb.suggest("How are you do") }
                        assertContains(e2.message!!, "changed after it was loaded")
                        model.replyDrafter().use { d ->
                            assertFailsWith<PocketLmException.ModelFileChanged> { d.draft("Are you coming tonight?") }
                        }
                    }
                }
            }
            // 3. Rewritten in place with other bytes of the same size (a second in-place download).
            val other = copyModel(dir, "other.gguf")
            Model.load(other.path).use { model ->
                model.textSession(SessionOptions(contextLength = 128)).use { session ->
                    assertEquals(4, session.complete(PROMPT, greedy(4)).generatedTokens)
                    Thread.sleep(20) // a distinct modification time on coarse clocks
                    RandomAccessFile(other, "rw").use { f ->
                        f.seek(f.length() / 2)
                        f.write(ByteArray(4096) { 0x55 })
                    }
                    val e = assertFailsWith<PocketLmException.ModelFileChanged> { session.complete(PROMPT, greedy(4)) }
                    assertContains(e.message!!, "renaming")
                }
            }
        } finally {
            dir.deleteRecursively()
        }
    }
}
