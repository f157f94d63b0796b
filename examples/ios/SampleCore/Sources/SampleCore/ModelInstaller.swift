// Installing the model where the keyboard extension can read it: the containing app copies the
// model it ships into the App Group container. The extension runs without Full Access, so the
// shared container is the only place both can reach; it maps the file read-only (clean pages do
// not count against the extension's memory limit).

import Foundation

public enum ModelInstaller {
    /// The model's file name in the shared container.
    public static let fileName = "keyboard-model.gguf"

    /// Copies `source` to `directory/fileName` unless an identical-size copy is already there.
    /// The copy goes to a temporary file in the same directory and is renamed over the target
    /// in one step, so the keyboard never maps a half-written model. `protect` runs on the
    /// temporary file before the rename (the app sets the data-protection class there).
    /// Returns the installed file.
    @discardableResult
    public static func install(from source: URL, into directory: URL,
                               protect: (URL) throws -> Void = { _ in }) throws -> URL {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let target = directory.appendingPathComponent(fileName)
        if isInstalled(source, at: target) { return target }
        let temporary = directory.appendingPathComponent(".\(fileName).\(UUID().uuidString).partial")
        defer { try? fm.removeItem(at: temporary) }
        try fm.copyItem(at: source, to: temporary)
        try protect(temporary)
        if rename(temporary.path, target.path) != 0 {
            throw CocoaError(.fileWriteUnknown, userInfo: [
                NSFilePathErrorKey: target.path,
                NSLocalizedDescriptionKey: "cannot move the model into place: \(String(cString: strerror(errno)))",
            ])
        }
        return target
    }

    /// Whether `target` holds a copy of `source` (same size; a model is replaced by a new file
    /// name or size, never edited in place).
    public static func isInstalled(_ source: URL, at target: URL) -> Bool {
        let fm = FileManager.default
        guard let a = try? fm.attributesOfItem(atPath: source.path)[.size] as? NSNumber,
              let b = try? fm.attributesOfItem(atPath: target.path)[.size] as? NSNumber else { return false }
        return a == b
    }
}
