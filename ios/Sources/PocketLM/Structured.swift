// Structured output (docs/structured.md): output constraints on GenerationOptions, decoding a
// `Decodable` type from schema-constrained JSON, and the types of TextSession.score / classify.

import Foundation
import PocketLMFFI

/// What the generated text must match: `.jsonSchema(schema:)`, `.regex(pattern:)`,
/// `.grammar(grammar:)` (llguidance's Lark-like syntax) or `.choices(choices:)`. Set it as
/// `GenerationOptions.constraint`; an invalid one throws `PocketLmError.InvalidConstraint`
/// (naming the problem) before any text is produced.
public typealias OutputConstraint = PocketLMFFI.OutputConstraint
/// How a constrained generation ended: `complete` (the output is the finished value), `valid`.
public typealias ConstraintOutcome = PocketLMFFI.ConstraintOutcome
public typealias ContinuationScore = PocketLMFFI.ContinuationScore
public typealias LabelScore = PocketLMFFI.LabelScore
public typealias Classification = PocketLMFFI.Classification

/// A `Decodable` type that states its JSON Schema, for `TextSession.generate(_:as:)`.
///
/// ```swift
/// struct Event: StructuredOutput {
///     var title: String; var date: String?; var time: String?; var place: String?
///     static let jsonSchema = #"{"type":"object","properties":{"title":{"type":"string"}, ...}"#
/// }
/// let event = try await session.generate("Extract the event: \(message)", as: Event.self)
/// ```
public protocol StructuredOutput: Decodable {
    /// A JSON Schema (as JSON text) every value of the type's JSON form validates against.
    static var jsonSchema: String { get }
}

/// Why a structured generation produced no value.
public enum StructuredOutputError: Error, LocalizedError, Sendable {
    /// The output did not finish (the token budget, the context or a stop string cut it short);
    /// the partial result is attached. Raise `maxTokens`.
    case incomplete(GenerationResult)
    /// The output validates against the schema but does not decode as the type (the schema
    /// and the type disagree).
    case decoding(text: String, error: String)

    public var errorDescription: String? {
        switch self {
        case .incomplete(let r):
            return "the constrained output is incomplete (stopped by \(r.stopReason) after \(r.generatedTokens) tokens): raise maxTokens"
        case .decoding(let text, let error):
            return "the output \(text) does not decode as the requested type: \(error)"
        }
    }
}

extension GenerationOptions {
    /// Options for extraction-like tasks: the chat template, greedy decoding.
    public static func structured(maxTokens: Int32 = 256) -> GenerationOptions {
        GenerationOptions(maxTokens: maxTokens, sampling: SamplingOptions(temperature: 0),
                          useChatTemplate: true)
    }
}

extension TextSession {
    /// Generates one JSON value that validates against `schema` in answer to `prompt` and
    /// returns its text. With the default options the prompt is the user's message in the
    /// model's chat template and decoding is greedy.
    /// - Throws: `PocketLmError.InvalidConstraint` (invalid schema, before any token),
    ///   `StructuredOutputError.incomplete` (the output did not finish within `maxTokens`).
    public func generateJSON(_ prompt: String, schema: String,
                             options: GenerationOptions = .structured()) async throws -> String {
        let o = GenerationOptions(maxTokens: options.maxTokens, sampling: options.sampling, stop: options.stop,
                                  constraint: .jsonSchema(schema: schema),
                                  useChatTemplate: options.useChatTemplate)
        let r = try await complete(prompt, options: o)
        guard r.constraint?.complete == true else { throw StructuredOutputError.incomplete(r) }
        return r.text
    }

    /// Generates a value of `type`, constrained by `schema` (JSON Schema text), decoded with
    /// `JSONDecoder`.
    public func generate<T: Decodable>(_ prompt: String, as type: T.Type, schema: String,
                                       options: GenerationOptions = .structured()) async throws -> T {
        let text = try await generateJSON(prompt, schema: schema, options: options)
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StructuredOutputError.decoding(text: text, error: String(describing: error))
        }
    }

    /// Generates a value of `type`, constrained by its `jsonSchema`.
    public func generate<T: StructuredOutput>(_ prompt: String, as type: T.Type,
                                              options: GenerationOptions = .structured()) async throws -> T {
        try await generate(prompt, as: type, schema: T.jsonSchema, options: options)
    }

    /// The log-probability of each of `continuations` after `prompt` (each tokenized on its
    /// own: give it its leading space), in one batched pass.
    public func score(_ prompt: String, continuations: [String]) async throws -> [ContinuationScore] {
        let s = try ffiSession()
        return try await offload { try s.score(prompt: prompt, continuations: continuations) }
    }

    /// The label of `labels` the model finds most likely for `text` (asked in the model's chat
    /// template after `instruction`), with every label's score; one batched pass.
    public func classify(_ text: String, labels: [String], instruction: String? = nil) async throws -> Classification {
        let s = try ffiSession()
        return try await offload { try s.classify(text: text, labels: labels, instruction: instruction) }
    }
}
