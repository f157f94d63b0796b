package dev.pocketlm.samples

import dev.pocketlm.KeyboardOptions
import dev.pocketlm.KeyboardProfile
import dev.pocketlm.KeyboardPredictor
import dev.pocketlm.Model
import dev.pocketlm.TextEdit
import kotlinx.coroutines.runBlocking

/**
 * The keyboard controller's view of the predictor: blocking calls, made on the controller's
 * worker thread (except [accept], which only splits the text and is called on the UI thread).
 */
interface KeyboardEngine : AutoCloseable {
    /** Up to three words for the text before the cursor, best first, already cased and filtered. */
    fun suggest(textBeforeCursor: String): List<String>

    /** The edit that puts [word] in place of the word being typed, plus one space. */
    fun accept(textBeforeCursor: String, word: String): TextEdit

    /** Forgets the previous field's context. */
    fun reset()

    /** Frees what the predictor caches (memory pressure); later calls rebuild what they need. */
    fun releaseMemory()
}

/** [KeyboardEngine] on the library's [KeyboardPredictor]. */
class PredictorKeyboardEngine(private val predictor: KeyboardPredictor) : KeyboardEngine {
    override fun suggest(textBeforeCursor: String): List<String> =
        runBlocking { predictor.suggest(textBeforeCursor) }.map { it.word }

    override fun accept(textBeforeCursor: String, word: String): TextEdit = predictor.accept(textBeforeCursor, word)

    override fun reset() = runBlocking { predictor.reset() }

    /** Frees the predictor's caches (logits, extra sessions, KV caches); it keeps working. */
    override fun releaseMemory() = runBlocking { predictor.releaseMemory() }

    override fun close() = predictor.close()

    companion object {
        /** The keyboard's predictor options: a keyboard runs beside the app in the foreground. */
        val OPTIONS = KeyboardOptions(profile = KeyboardProfile.LOW_MEMORY)

        /** [OPTIONS] for [language] (the keyboard setting). */
        fun options(language: KeyboardLanguage): KeyboardOptions = OPTIONS.copy(language = language.code)

        /**
         * Opens an engine for [language] on the process's shared model at [modelPath]. Blocking:
         * call it on a worker.
         */
        fun open(modelPath: String, language: KeyboardLanguage = KeyboardLanguage.DEFAULT): PredictorKeyboardEngine {
            val model: Model = SharedModel.get(modelPath)
            return PredictorKeyboardEngine(runBlocking { model.keyboardPredictor(options(language)) })
        }
    }
}
