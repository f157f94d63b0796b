package dev.pocketlm.samples

import dev.pocketlm.Model
import java.io.File

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
}
