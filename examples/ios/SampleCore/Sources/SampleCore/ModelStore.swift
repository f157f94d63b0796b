// Loading the model once per process, off the UI thread, and the short messages shown when it
// fails.

import Foundation
import PocketLM

/// The models of this process, each mapped once however many controllers ask for it, and loaded
/// again when the file was replaced since (its size or modification time changed), as the Android
/// samples' SharedModel does. Predictors made from the old model keep it alive until released.
public actor ModelStore {
    public static let shared = ModelStore()

    private struct Load {
        let task: Task<Model, Error>
        let stamp: String?
    }

    private var loads: [String: Load] = [:]

    public init() {}

    /// The model at `path`, loading it on first use and when the file changed since it was
    /// loaded (a failed load is retried next time).
    public func model(at path: String) async throws -> Model {
        let stamp = Self.stamp(path)
        if let load = loads[path], load.stamp == stamp {
            return try await load.task.value
        }
        let task = Task { try await Model.load(path: path) }
        loads[path] = Load(task: task, stamp: stamp)
        do {
            return try await task.value
        } catch {
            if loads[path]?.stamp == stamp { loads[path] = nil }
            throw error
        }
    }

    /// The file's size and modification time, nil when it cannot be read.
    static func stamp(_ path: String) -> String? {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attrs[.size] as? NSNumber,
              let date = attrs[.modificationDate] as? Date else { return nil }
        return "\(size) \(date.timeIntervalSince1970)"
    }
}

/// The keyboard predictor's settings for a keyboard extension.
public enum KeyboardSetup {
    /// The low-memory keyboard profile: a keyboard extension is killed at ~50-80 MB (see
    /// examples/ios/README.md for the memory budget).
    public static var options: KeyboardOptions { KeyboardOptions(profile: .lowMemory) }

    /// `options` for `language` (the keyboard's language setting).
    public static func options(language: KeyboardLanguage) -> KeyboardOptions {
        KeyboardOptions(profile: .lowMemory, language: language.code)
    }

    /// Loads the predictor for the model at `path` (shared model, one predictor per call).
    public static func predictorLoader(modelPath path: String,
                                       store: ModelStore = .shared) -> @Sendable () async throws -> KeyboardPredictor {
        { try await store.model(at: path).keyboardPredictor(options: options) }
    }

    /// Loads a predictor for a language (the controller calls it again when the language changes).
    public static func languagePredictorLoader(modelPath path: String, store: ModelStore = .shared)
        -> @Sendable (KeyboardLanguage) async throws -> KeyboardPredictor {
        { language in try await store.model(at: path).keyboardPredictor(options: options(language: language)) }
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
