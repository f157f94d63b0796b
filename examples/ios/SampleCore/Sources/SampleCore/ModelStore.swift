// Loading the model once per process, off the UI thread, and the short messages shown when it
// fails (the Reply app; the keyboard's shared controller loads its model itself).

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
