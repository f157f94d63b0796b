// Structured output through the Swift layer on the real SmolLM2: constraints on
// GenerationOptions, typed InvalidConstraint errors before any text, complete/valid reported,
// generate(_:as:) decoding a Decodable type, streaming with a constraint stopped mid-stream,
// score and classify.

import Foundation
import PocketLM
import XCTest

struct Person: StructuredOutput, Equatable {
    var name: String
    var age: Int
    static let jsonSchema = #"{"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer","minimum":0,"maximum":150}},"required":["name","age"],"additionalProperties":false}"#
}

final class StructuredTests: XCTestCase {
    func session() async throws -> TextSession {
        try await Shared.shared.get().textSession()
    }

    func constrained(_ c: OutputConstraint, _ maxTokens: Int32) -> GenerationOptions {
        GenerationOptions(maxTokens: maxTokens, sampling: SamplingOptions(temperature: 0), constraint: c,
                          useChatTemplate: true)
    }

    func testAnInvalidConstraintIsATypedErrorBeforeAnyText() async throws {
        let s = try await session()
        let cases: [(OutputConstraint, String)] = [
            (.jsonSchema(schema: "{\"type\": \"object\","), "invalid JSON schema"),
            (.regex(pattern: "a(b"), "invalid regular expression"),
            (.grammar(grammar: "start: nowhere"), "invalid grammar"),
            (.choices(choices: []), "invalid choices"),
        ]
        for (c, want) in cases {
            do {
                _ = try await s.complete("Answer.", options: constrained(c, 16))
                XCTFail("\(c): no error")
            } catch PocketLmError.InvalidConstraint(let m) {
                XCTAssertTrue(m.contains(want), "\(c): \(m)")
            }
            var pieces = 0
            do {
                for try await _ in try s.generate("Answer.", options: constrained(c, 16)) { pieces += 1 }
                XCTFail("\(c): no error")
            } catch PocketLmError.InvalidConstraint {
            }
            XCTAssertEqual(pieces, 0)
        }
    }

    func testConstrainedOutputsMatchAndReportCompleteAndValid() async throws {
        let s = try await session()
        let choices = ["red", "green", "blue"]
        let r = try await s.complete("What colour is grass?", options: constrained(.choices(choices: choices), 8))
        XCTAssertTrue(choices.contains(r.text), "\(r)")
        let c = try XCTUnwrap(r.constraint)
        XCTAssertTrue(c.complete && c.valid)
        let free = try await s.complete("Hi", options: greedy(3))
        XCTAssertNil(free.constraint)
    }

    func testGenerateAsDecodesATypeOrThrowsWhenCutShort() async throws {
        let s = try await session()
        let p = try await s.generate("Invent a person and give their name and age as JSON.", as: Person.self,
                                     options: .structured(maxTokens: 64))
        XCTAssertTrue((0...150).contains(p.age), "\(p)")
        XCTAssertLessThanOrEqual(p.name.count, 20)
        do {
            _ = try await s.generate("Invent a person and give their name and age as JSON.", as: Person.self,
                                     options: .structured(maxTokens: 3))
            XCTFail("a 3-token output cannot be complete")
        } catch StructuredOutputError.incomplete(let r) {
            XCTAssertEqual(r.stopReason, .maxTokens)
            XCTAssertEqual(r.constraint?.complete, false)
            XCTAssertEqual(r.constraint?.valid, false)
        }
    }

    func testStreamingWithAConstraintStopsWhenTheLoopBreaks() async throws {
        let s = try await session()
        let schema = #"{"type":"array","items":{"type":"string"},"minItems":3,"maxItems":3}"#
        var pieces: [String] = []
        for try await piece in try s.generate("List three fruits as a JSON array of strings.",
                                              options: constrained(.jsonSchema(schema: schema), 200)) {
            pieces.append(piece)
            if pieces.count == 2 { break }
        }
        let lastResult = try await s.lastResult()
        let last = try XCTUnwrap(lastResult)
        XCTAssertEqual(last.stopReason, .cancelled)
        XCTAssertEqual(last.constraint?.complete, false)
        XCTAssertTrue(last.text.hasPrefix(pieces.joined()), "\(last.text) vs \(pieces)")
    }

    func testScoreAndClassify() async throws {
        let s = try await session()
        let scores = try await s.score("The capital of France is", continuations: [" Paris", " a small green banana"])
        XCTAssertEqual(scores.map(\.text), [" Paris", " a small green banana"])
        for x in scores {
            XCTAssertEqual(x.logprob, x.tokenLogprobs.reduce(0, +), accuracy: 1e-4)
        }
        XCTAssertGreaterThan(scores[0].logprob, scores[1].logprob)
        let labels = ["billing", "shipping", "technical"]
        let c = try await s.classify("My parcel has not arrived yet.", labels: labels,
                                     instruction: "Which team should handle this customer message?")
        XCTAssertEqual(c.scores.map(\.label), labels)
        XCTAssertEqual(labels[Int(c.index)], c.label)
        do {
            _ = try await s.classify("text", labels: ["a", "a"])
            XCTFail("duplicate labels")
        } catch PocketLmError.InvalidArgument {
        }
    }
}
