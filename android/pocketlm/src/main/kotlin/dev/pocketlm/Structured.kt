// Structured output (docs/structured.md): output constraints on GenerationOptions, JSON generation
// that either completes or throws, and the types of TextSession.score / classify.
package dev.pocketlm

import dev.pocketlm.ffi.OutputConstraint
import dev.pocketlm.ffi.PocketLmException

// What the generated text must match: dev.pocketlm.ffi.OutputConstraint, a sealed class
// (JsonSchema(schema), Regex(pattern), Grammar(grammar) in llguidance's Lark-like syntax,
// Choices(list)); import it from there (a typealias would hide the subclasses). Set it as
// GenerationOptions.constraint; an invalid one fails the generation with
// PocketLmException.InvalidConstraint (naming the problem) before any text is produced.

/** How a constrained generation ended: `complete` (the output is the finished value), `valid`. */
typealias ConstraintOutcome = dev.pocketlm.ffi.ConstraintOutcome
typealias ContinuationScore = dev.pocketlm.ffi.ContinuationScore
typealias LabelScore = dev.pocketlm.ffi.LabelScore
typealias Classification = dev.pocketlm.ffi.Classification

/**
 * A constrained generation that stopped before its output was complete (the token budget, the
 * context or a stop string cut it short): [result] holds the partial text. Never a valid value.
 */
class IncompleteOutputException(val result: GenerationResult) :
    Exception("the constrained output is incomplete (stopped by ${result.stopReason} after ${result.generatedTokens} tokens): raise maxTokens")

/** Greedy options for extraction-like tasks: the chat template, deterministic decoding. */
fun structuredOptions(maxTokens: Int = 256): GenerationOptions =
    GenerationOptions(maxTokens = maxTokens, sampling = SamplingOptions(temperature = 0f), useChatTemplate = true)

/**
 * Generates one JSON value that validates against [schema] (a JSON Schema document) in answer to
 * [prompt] and returns its text; decode it with the JSON library of your choice (docs/structured.md
 * shows kotlinx.serialization). With the default options the prompt is the user's message in the
 * model's chat template and decoding is greedy.
 * @throws PocketLmException.InvalidConstraint when the schema is invalid (before any token)
 * @throws IncompleteOutputException when the output did not finish within `maxTokens`
 */
suspend fun TextSession.generateJson(
    prompt: String,
    schema: String,
    options: GenerationOptions = structuredOptions(),
): String {
    val r = complete(prompt, options.copy(constraint = OutputConstraint.JsonSchema(schema)))
    if (r.constraint?.complete != true) throw IncompleteOutputException(r)
    return r.text
}
