// The model file changing under a loaded model, through the Swift layer on the real SmolLM2:
// replacing it by an atomic rename keeps the loaded model working; truncating or rewriting it in
// place throws PocketLmError.ModelFileChanged on the next call (never a SIGBUS).

import Foundation
import PocketLM
import XCTest

final class ModelFileTests: XCTestCase {
    private func copyModel(to url: URL) throws {
        try FileManager.default.copyItem(at: URL(fileURLWithPath: modelPath()), to: url)
    }

    func testRenameKeepsTheModelWorkingAndInPlaceChangesAreTypedErrors() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pocketlm-swift-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.gguf")
        try copyModel(to: path)

        // 1. A new file renamed over the old one: the loaded model keeps its mapping.
        do {
            let model = try await Model.load(path: path.path)
            let session = try await model.textSession(options: SessionOptions(contextLength: 128))
            let before = try await session.complete(prompt, options: greedy(4)).text
            let part = dir.appendingPathComponent("model.gguf.part")
            try copyModel(to: part)
            XCTAssertEqual(rename(part.path, path.path), 0, "rename failed")
            let after = try await session.complete(prompt, options: greedy(4)).text
            XCTAssertEqual(after, before)
            let kb = try await model.keyboardPredictor()
            let strip = try await kb.suggest("See you tomor")
            XCTAssertFalse(strip.isEmpty)
        }

        // 2. Truncated in place while loaded: a typed error on the next call.
        let model = try await Model.load(path: path.path)
        let session = try await model.textSession(options: SessionOptions(contextLength: 128))
        let kb = try await model.keyboardPredictor()
        let first = try await session.complete(prompt, options: greedy(4))
        XCTAssertEqual(first.generatedTokens, 4)
        XCTAssertEqual(truncate(path.path, 4096), 0, "truncate failed")
        do {
            _ = try await session.complete("Once upon a time", options: greedy(4))
            XCTFail("a truncated model file must be an error")
        } catch PocketLmError.ModelFileChanged(let message) {
            XCTAssertTrue(message.contains("load the model again"), message)
        }
        do {
            _ = try await kb.suggest("How are you do")
            XCTFail("a truncated model file must be an error")
        } catch PocketLmError.ModelFileChanged(let message) {
            XCTAssertTrue(message.contains("changed after it was loaded"), message)
        }
    }
}
