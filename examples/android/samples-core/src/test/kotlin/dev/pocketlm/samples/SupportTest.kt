package dev.pocketlm.samples

import java.io.ByteArrayInputStream
import java.io.File
import java.io.IOException
import java.nio.file.Files
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertSame
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

class SupportTest {
    @Test
    fun `shift key cycles once, locked, off and auto-shift shifts one letter`() {
        val shift = ShiftKey()
        assertEquals("a", shift.type("a", autoShift = false))
        assertEquals("A", shift.type("a", autoShift = true))
        shift.tap()
        assertEquals("B", shift.type("b", autoShift = false))
        assertEquals("c", shift.type("c", autoShift = false), "a one-shot shift is used up")
        shift.tap()
        shift.tap()
        assertEquals(ShiftKey.Mode.LOCKED, shift.mode)
        assertEquals("HI", shift.type("h", false) + shift.type("i", false))
        shift.tap()
        assertFalse(shift.isUpper(autoShift = false))
    }

    @Test
    fun `model install replaces the file in one step and refuses non-GGUF data`() {
        val dir = Files.createTempDirectory("pocketlm-install").toFile()
        try {
            val first = "GGUF".toByteArray() + ByteArray(100_000) { it.toByte() }
            val file = ModelInstaller.install(ByteArrayInputStream(first), dir)
            assertEquals(ModelInstaller.modelFile(dir), file)
            assertContentEquals(first, file.readBytes())

            val err = assertFailsWith<IOException> { ModelInstaller.install(ByteArrayInputStream("<html>".toByteArray()), dir) }
            assertTrue("GGUF" in err.message.orEmpty())
            assertContentEquals(first, file.readBytes(), "a failed install must keep the old model")
            assertEquals(listOf(ModelInstaller.FILE_NAME), dir.list()!!.toList(), "temporary files left behind")

            val second = "GGUF".toByteArray() + ByteArray(10) { 7 }
            ModelInstaller.install(ByteArrayInputStream(second), dir)
            assertContentEquals(second, file.readBytes())
        } finally {
            dir.deleteRecursively()
        }
    }

    @Test
    fun `the shared model is loaded once per file`() {
        val dir = Files.createTempDirectory("pocketlm-shared").toFile()
        try {
            val path = File(TestModel.path).also { check(it.isFile) { "missing model $it" } }
            val file = path.inputStream().use { ModelInstaller.install(it, dir) }
            val a = SharedModel.get(file.path)
            assertSame(a, SharedModel.get(file.path))
            // A newly installed file is loaded again; the old model object is released.
            path.inputStream().use { ModelInstaller.install(it, dir) }
            file.setLastModified(file.lastModified() + 2000)
            val b = SharedModel.get(file.path)
            assertTrue(a !== b)
            assertTrue(a.isClosed)
            assertSame(b, SharedModel.get(file.path))
        } finally {
            dir.deleteRecursively()
        }
    }
}
