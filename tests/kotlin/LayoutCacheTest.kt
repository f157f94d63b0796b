// Model.load(path, cacheDir) through the Kotlin layer on the real SmolLM2: the first load writes
// the interleaved copy, the second maps it, both generate what the original file generates, and a
// cache directory that cannot be created loads the original file with the reason in layoutCache.
package dev.pocketlm.test

import dev.pocketlm.Model
import dev.pocketlm.SessionOptions
import dev.pocketlm.ffi.LayoutCacheStatus
import java.io.File
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test

class LayoutCacheTest {
    private suspend fun greedyText(model: Model): String =
        model.textSession(SessionOptions(contextLength = 128)).use { it.complete(PROMPT, greedy(6)).text }

    @Test
    fun `a layout cache converts once, then hits, with the same text as the original`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("pocketlm-kt-layout").toFile()
        try {
            val cache = File(dir, "layout")
            val want = Model.load(modelPath()).use { m ->
                assertEquals(LayoutCacheStatus.NotRequested, m.layoutCache)
                greedyText(m)
            }
            val copy = Model.load(modelPath(), cache).use { m ->
                val status = assertIs<LayoutCacheStatus.Converted>(m.layoutCache)
                assertEquals(want, greedyText(m))
                status.path
            }
            assertTrue(File(copy).isFile && File(copy).parentFile == cache, copy)
            Model.load(modelPath(), cache).use { m ->
                assertEquals(LayoutCacheStatus.Hit(copy), m.layoutCache)
                assertEquals(want, greedyText(m))
            }

            val blocker = File(dir, "a-file").also { it.writeText("x") }
            Model.load(modelPath(), File(blocker, "cache")).use { m ->
                val status = assertIs<LayoutCacheStatus.Fallback>(m.layoutCache)
                assertTrue(status.reason.contains("cache directory"), status.reason)
                assertEquals(want, greedyText(m))
            }
        } finally {
            dir.deleteRecursively()
        }
    }
}
