// Shared test setup: the real SmolLM2 (mapped once for the whole suite through ModelStore) and a
// manual executor standing in for the UI thread.

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

/// The model of the whole suite.
func sharedModel() async throws -> Model {
    try await ModelStore.shared.model(at: modelPath())
}

/// The keyboard's low-memory predictor profile.
var lowMemory: KeyboardOptions { KeyboardOptions(profile: .lowMemory) }
