package dev.pocketlm.samples

import dev.pocketlm.Model
import dev.pocketlm.TextEdit
import java.io.File
import java.util.Collections
import kotlinx.coroutines.runBlocking

/** The real model: $POCKETLM_MODEL, else models/SmolLM2-135M-Instruct.Q4_1.gguf under $POCKETLM_REPO (or "."). */
object TestModel {
    val path: String by lazy {
        System.getenv("POCKETLM_MODEL")
            ?: File(System.getenv("POCKETLM_REPO") ?: ".", "models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    /** Loaded once for all sample tests (missing is a failure, not a skip). */
    val model: Model by lazy {
        check(File(path).isFile) { "model file $path is missing: run scripts/fetch-models.sh" }
        SharedModel.get(path)
    }

    /** Gemma 3 270M, the multilingual model, beside [path] (scripts/fetch-models.sh links both). */
    val gemmaPath: String by lazy {
        val p = File(File(path).absoluteFile.parentFile, "gemma-3-270m-q4_k_m.gguf")
        check(p.isFile) { "model file $p is missing: run scripts/fetch-models.sh" }
        p.path
    }

    fun keyboardEngine(): PredictorKeyboardEngine =
        PredictorKeyboardEngine(runBlocking { model.keyboardPredictor(PredictorKeyboardEngine.OPTIONS) })
}

/** The real engine, recording which calls reached it (to see conflation, resets and memory release). */
class RecordingEngine(private val real: KeyboardEngine) : KeyboardEngine {
    val calls: MutableList<String> = Collections.synchronizedList(ArrayList())

    val suggestCalls: List<String>
        get() = synchronized(calls) { calls.filter { it.startsWith("suggest:") }.map { it.removePrefix("suggest:") } }

    override fun suggest(textBeforeCursor: String): List<String> {
        calls.add("suggest:$textBeforeCursor")
        return real.suggest(textBeforeCursor)
    }

    override fun accept(textBeforeCursor: String, word: String): TextEdit = real.accept(textBeforeCursor, word)

    override fun reset() {
        calls.add("reset")
        real.reset()
    }

    override fun releaseMemory() {
        calls.add("releaseMemory")
        real.releaseMemory()
    }

    override fun close() {
        calls.add("close")
        real.close()
    }
}
