// Shared test setup: the real SmolLM2 (mapped once for the whole suite through ModelStore), a
// manual executor standing in for the UI thread, and an in-memory field.

import Foundation
import PocketLM
import SampleCore
import XCTest

/// $POCKETLM_MODEL, else models/SmolLM2-135M-Instruct.Q4_1.gguf under the repo root (found from
/// this file's path). A missing model fails the tests, it never skips them.
func modelPath() -> String {
    if let p = ProcessInfo.processInfo.environment["POCKETLM_MODEL"] { return p }
    var root = URL(fileURLWithPath: #filePath)
    for _ in 0..<6 { root = root.deletingLastPathComponent() }
    return root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
}

struct MissingModel: Error, CustomStringConvertible {
    let path: String
    var description: String { "model file \(path) is missing: run scripts/fetch-models.sh" }
}

/// Gemma 3 270M, the multilingual model, beside the test model (scripts/fetch-models.sh links both).
func gemmaPath() throws -> String {
    let path = URL(fileURLWithPath: modelPath()).deletingLastPathComponent()
        .appendingPathComponent("gemma-3-270m-q4_k_m.gguf").path
    guard FileManager.default.fileExists(atPath: path) else {
        throw MissingModel(path: path)
    }
    return path
}

/// The model of the whole suite.
func sharedModel() async throws -> Model {
    try await ModelStore.shared.model(at: modelPath())
}

/// A predictor of its own to compare the controller's strip with.
func referencePredictor() async throws -> KeyboardPredictor {
    try await sharedModel().keyboardPredictor(options: KeyboardSetup.options)
}

/// A keyboard controller on a fake field, its "UI thread" run by the test.
final class KeyboardHarness {
    let ui = ManualExecutor()
    let field: InMemoryTextDocument
    let controller: KeyboardController

    init(traits: FieldTraits = .plainText,
         load: (@Sendable () async throws -> KeyboardPredictor)? = nil) {
        field = InMemoryTextDocument(traits: traits)
        controller = KeyboardController(
            document: field, deliver: ui.deliver,
            loadPredictor: load ?? KeyboardSetup.predictorLoader(modelPath: modelPath()))
    }

    /// A controller that loads a predictor per language with `loadFor`.
    init(language: KeyboardLanguage,
         loadFor: @escaping @Sendable (KeyboardLanguage) async throws -> KeyboardPredictor) {
        field = InMemoryTextDocument(traits: .plainText)
        controller = KeyboardController(document: field, deliver: ui.deliver, language: language,
                                        loadPredictorFor: loadFor)
    }

    /// Runs delivered results until no request is running or waiting.
    func settle() async throws {
        let controller = self.controller
        try await ui.settle { controller.isIdle }
    }

    /// Types `text`, lets the worker finish, returns the strip.
    @discardableResult
    func typeAndSettle(_ text: String) async throws -> [String] {
        controller.type(text)
        try await settle()
        return controller.strip
    }
}

/// The strip the core's own ranking gives for `text`.
func expectedStrip(_ text: String, _ predictor: KeyboardPredictor) async throws -> [String] {
    Strip.slots(try await predictor.suggest(text).map(\.word))
}

/// Fails unless `strip` is the core's own ranking for `text`, in strip order.
func assertStrip(_ strip: [String], for text: String, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) async throws {
    let expected = try await expectedStrip(text, try await referencePredictor())
    XCTAssertEqual(strip, expected, message, file: file, line: line)
}

/// A Reply controller on the shared model, its UI thread run by the test.
final class ReplyHarness {
    let ui = ManualExecutor()
    let controller: ReplyController

    /// Longer replies: greedy, at most 200 tokens unless `chatOptions` says otherwise.
    init(chatOptions: ChatOptions? = nil) {
        controller = ReplyController(
            engine: ReplyEngine(loadModel: { try await sharedModel() }), deliver: ui.deliver,
            chatOptions: chatOptions ?? ChatOptions(maxTokens: 200, sampling: SamplingOptions(temperature: 0)))
    }

    func settle() async throws {
        let controller = self.controller
        try await ui.settle { controller.isIdle }
    }

    /// Runs delivered closures until `condition` holds.
    func run(until condition: () -> Bool, timeout seconds: Double = 120) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { throw SettleTimeout(seconds: seconds) }
            if ui.runQueued() == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        }
    }
}
