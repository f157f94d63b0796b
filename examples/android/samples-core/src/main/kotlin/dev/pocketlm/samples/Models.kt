package dev.pocketlm.samples

import dev.pocketlm.Model
import dev.pocketlm.ffi.PocketLmException
import java.io.File
import kotlinx.coroutines.runBlocking

/** Where a controller's model is: being loaded, ready, or failed with a short message for the UI. */
sealed class ModelState {
    object Loading : ModelState() {
        override fun toString() = "Loading"
    }

    object Ready : ModelState() {
        override fun toString() = "Ready"
    }

    /** [message] is short enough for a suggestion strip; [detail] is the library's full error (a path, never user text). */
    data class Failed(val message: String, val detail: String = "") : ModelState()

    companion object {
        /** A message short enough for a suggestion strip, saying what to do. */
        fun failed(error: Throwable): Failed = Failed(
            when (error) {
                is PocketLmException.ModelNotFound -> "No model: open PocketLM settings"
                is PocketLmException.InvalidModel -> "Model file unusable: pick another"
                is PocketLmException.ModelFileChanged -> "Model was replaced: reopen to reload it"
                else -> "Model failed to load"
            },
            error.message.orEmpty(),
        )
    }
}

/**
 * The process's loaded models, one per path: an input method service and the activities of one
 * process share a single memory-mapped model, loaded once. [get] blocks: call it off the UI thread
 * (a [SerialWorker], `Dispatchers.IO`).
 */
object SharedModel {
    /** A loaded model and the file's size and modification time when it was loaded. */
    private class Loaded(val model: Model, val stamp: Pair<Long, Long>)

    private val models = HashMap<String, Loaded>()

    private fun stamp(path: String) = File(path).let { it.length() to it.lastModified() }

    /** The model at [path], loaded on first use and again when the file was replaced since. */
    @Synchronized
    fun get(path: String): Model {
        val stamp = stamp(path)
        models[path]?.let { if (it.stamp == stamp && !it.model.isClosed) return it.model }
        val model = runBlocking { Model.load(path) }
        // Predictors made from the old model keep it alive until they are closed.
        models.put(path, Loaded(model, stamp))?.model?.close()
        return model
    }
}
