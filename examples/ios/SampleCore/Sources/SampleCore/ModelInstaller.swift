// Installing the model where the keyboard extension can read it: the containing app copies the
// model it ships into the App Group container. The extension runs without Full Access, so the
// shared container is the only place both can reach; it maps the file read-only (clean pages do
// not count against the extension's memory limit).
//
// Behaves as the Android samples' ModelInstaller: the data must start with "GGUF", goes to a
// temporary file in the same directory, is synced, then renamed over the old file in one step (a
// reader never sees half a model, a failed copy keeps the old one). In addition, the app copies
// on every launch, so a marker written after the rename records what was installed and an
// unchanged install is not copied again.

import Foundation

/// Why an install failed (the message says what to do; never user text).
public struct ModelInstallError: Error, LocalizedError, CustomStringConvertible {
    public let message: String
    public var errorDescription: String? { message }
    public var description: String { message }
}

public enum ModelInstaller {
    /// The model's file name in the shared container.
    public static let fileName = "keyboard-model.gguf"
    /// The install marker's file name: the source's and the installed file's size, modification
    /// time and inode, written (atomically) only after the model is in place.
    public static let markerName = ".keyboard-model.installed"

    private static let ggufMagic = Array("GGUF".utf8)
    private static let chunk = 1 << 20

    /// Copies `source` to `directory/fileName` unless `isInstalled` says that copy is already
    /// there and unchanged. `protect` runs on the temporary file before the rename (the app sets
    /// the data-protection class there). Returns the installed file.
    /// Throws when the copy fails or `source` is not a GGUF file (the old model stays).
    @discardableResult
    public static func install(from source: URL, into directory: URL,
                               protect: (URL) throws -> Void = { _ in }) throws -> URL {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let target = directory.appendingPathComponent(fileName)
        if isInstalled(source, at: target) { return target }
        let marker = directory.appendingPathComponent(markerName)
        // Whatever happens next, the old marker no longer describes the file.
        try? fm.removeItem(at: marker)
        let temporary = directory.appendingPathComponent(".\(fileName).\(UUID().uuidString).partial")
        defer { try? fm.removeItem(at: temporary) }
        try copyModel(from: source, to: temporary)
        try protect(temporary)
        try move(temporary, over: target)
        // The marker goes last: a crash before this line means "not installed", copied again.
        guard let stamp = stamp(source: source, target: target) else {
            throw ModelInstallError(message: "cannot read \(target.path) after installing it")
        }
        let markerTemporary = directory.appendingPathComponent(".\(markerName).\(UUID().uuidString).partial")
        defer { try? fm.removeItem(at: markerTemporary) }
        try Data(stamp.utf8).write(to: markerTemporary)
        try move(markerTemporary, over: marker)
        return target
    }

    /// Whether `target` holds the copy of `source` that `install` made: the marker exists and
    /// the source's and target's size, modification time and inode still match it. A target
    /// truncated, rewritten or replaced since, a half-finished install (no marker) or a new
    /// source (an app update) all read as not installed.
    public static func isInstalled(_ source: URL, at target: URL) -> Bool {
        let marker = target.deletingLastPathComponent().appendingPathComponent(markerName)
        guard let recorded = try? String(contentsOf: marker, encoding: .utf8),
              let now = stamp(source: source, target: target) else { return false }
        return recorded == now
    }

    /// One line describing `source` and `target` as they are now (nil when either is missing).
    private static func stamp(source: URL, target: URL) -> String? {
        guard let s = fileStamp(source), let t = fileStamp(target) else { return nil }
        return "source \(s)\ntarget \(t)\n"
    }

    private static func fileStamp(_ url: URL) -> String? {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return nil }
        #if canImport(Darwin)
        let mtime = st.st_mtimespec
        #else
        let mtime = st.st_mtim
        #endif
        return "size=\(st.st_size) mtime=\(mtime.tv_sec).\(mtime.tv_nsec) inode=\(st.st_ino)"
    }

    /// Streams `source` into a new file `destination`, refusing data that does not start with
    /// "GGUF", and syncs it to disk.
    private static func copyModel(from source: URL, to destination: URL) throws {
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: destination.path, contents: nil) else {
            throw ModelInstallError(message: "cannot create \(destination.path)")
        }
        let output = try FileHandle(forWritingTo: destination)
        defer { try? output.close() }
        var first = true
        while let data = try input.read(upToCount: chunk), !data.isEmpty {
            if first {
                guard data.count >= ggufMagic.count, Array(data.prefix(ggufMagic.count)) == ggufMagic else {
                    throw notGguf(source)
                }
                first = false
            }
            try output.write(contentsOf: data)
        }
        if first { throw notGguf(source) }
        try output.synchronize()
    }

    private static func notGguf(_ source: URL) -> Error {
        ModelInstallError(message: "\(source.lastPathComponent) is not a GGUF model file (it does not start with \"GGUF\")")
    }

    private static func move(_ from: URL, over to: URL) throws {
        if rename(from.path, to.path) != 0 {
            throw ModelInstallError(
                message: "cannot move \(from.lastPathComponent) to \(to.path): \(String(cString: strerror(errno)))")
        }
    }
}
