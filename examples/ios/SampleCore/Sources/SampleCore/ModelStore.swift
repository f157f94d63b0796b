// Loading the model once per process, off the UI thread, and the short messages shown when it
// fails.

import Foundation
import PocketLM

/// The models of this process, each mapped once however many controllers ask for it.
public actor ModelStore {
    public static let shared = ModelStore()

    private var loads: [String: Task<Model, Error>] = [:]

    public init() {}

    /// The model at `path`, loading it on first use (a failed load is retried next time).
    public func model(at path: String) async throws -> Model {
        if let load = loads[path] {
            return try await load.value
        }
        let load = Task { try await Model.load(path: path) }
        loads[path] = load
        do {
            return try await load.value
        } catch {
            loads[path] = nil
            throw error
        }
    }
}

/// The keyboard predictor's settings for a keyboard extension.
public enum KeyboardSetup {
    /// The low-memory keyboard profile: a keyboard extension is killed at ~50-80 MB (see
    /// examples/ios/README.md for the memory budget).
    public static var options: KeyboardOptions { KeyboardOptions(profile: .lowMemory) }

    /// Loads the predictor for the model at `path` (shared model, one predictor per call).
    public static func predictorLoader(modelPath path: String,
                                       store: ModelStore = .shared) -> @Sendable () async throws -> KeyboardPredictor {
        { try await store.model(at: path).keyboardPredictor(options: options) }
    }
}

/// A one-line message for the strip or a banner; never contains user text.
public func shortMessage(_ error: Error) -> String {
    switch error {
    case PocketLmError.ModelNotFound:
        return "Model not installed: open the PocketLM app once"
    case PocketLmError.InvalidModel:
        return "Model file is damaged: reinstall it from the app"
    case PocketLmError.ModelFileChanged:
        return "Model was replaced: reopen the keyboard to reload it"
    default:
        return "Suggestions unavailable"
    }
}
