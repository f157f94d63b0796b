// The containing app's model copy into the App Group container: the installed file is the real
// model (it loads), the copy is atomic (no partial file left, protection applied before the
// rename), a second install is a no-op, a changed or half-installed copy is installed again,
// non-GGUF data is refused keeping the old model; the model store reloads a replaced file.

import Foundation
import PocketLM
import SampleCore
import XCTest

final class ModelInstallerTests: XCTestCase {
    func testTheModelIsCopiedAtomicallyOnceAndLoads() async throws {
        let container = FileManager.default.temporaryDirectory
            .appendingPathComponent("pocketlm-appgroup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: container) }
        let source = URL(fileURLWithPath: modelPath()).resolvingSymlinksInPath()
        var protected: [String] = []
        let installed = try ModelInstaller.install(from: source, into: container) { url in
            protected.append(url.lastPathComponent)
            XCTAssertFalse(FileManager.default.fileExists(
                atPath: container.appendingPathComponent(ModelInstaller.fileName).path),
                "the target appears only with the rename")
        }
        XCTAssertEqual(installed.lastPathComponent, ModelInstaller.fileName)
        XCTAssertEqual(protected.count, 1)
        XCTAssertTrue(protected[0].hasSuffix(".partial"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: container.path).sorted(),
                       [ModelInstaller.markerName, ModelInstaller.fileName].sorted(),
                       "no temporary file left behind")
        XCTAssertTrue(ModelInstaller.isInstalled(source, at: installed))

        // Installed already: nothing is copied again.
        try ModelInstaller.install(from: source, into: container) { _ in XCTFail("copied twice") }

        // A predictor reads it from the container.
        let predictor = try await ModelStore().model(at: installed.path).keyboardPredictor(options: lowMemory)
        let words = try await predictor.suggest("See you tomor")
        XCTAssertFalse(words.isEmpty)
    }

    /// A container holding a copy of the real model installed by `ModelInstaller`.
    private func installedCopy() throws -> (source: URL, container: URL, installed: URL) {
        let container = FileManager.default.temporaryDirectory
            .appendingPathComponent("pocketlm-appgroup-\(UUID().uuidString)")
        let source = URL(fileURLWithPath: modelPath()).resolvingSymlinksInPath()
        let installed = try ModelInstaller.install(from: source, into: container)
        XCTAssertTrue(ModelInstaller.isInstalled(source, at: installed))
        return (source, container, installed)
    }

    func testACorruptedOrReplacedCopyIsInstalledAgain() throws {
        let (source, container, installed) = try installedCopy()
        defer { try? FileManager.default.removeItem(at: container) }
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: source.path)[.size] as? NSNumber)

        // Truncated in place (same inode): the size differs from the marker.
        let handle = try FileHandle(forWritingTo: installed)
        try handle.truncate(atOffset: 4096)
        try handle.close()
        XCTAssertFalse(ModelInstaller.isInstalled(source, at: installed))
        var copies = 0
        try ModelInstaller.install(from: source, into: container) { _ in copies += 1 }
        XCTAssertEqual(copies, 1)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: installed.path)[.size] as? NSNumber, size)
        XCTAssertTrue(ModelInstaller.isInstalled(source, at: installed))

        // Same size, other bytes, written later: the modification time and inode differ.
        let other = container.appendingPathComponent("other")
        try Data(count: size.intValue).write(to: other)
        XCTAssertEqual(rename(other.path, installed.path), 0)
        XCTAssertFalse(ModelInstaller.isInstalled(source, at: installed), "a same-size replacement is detected")
        try ModelInstaller.install(from: source, into: container) { _ in copies += 1 }
        XCTAssertEqual(copies, 2)
        XCTAssertEqual(try Data(contentsOf: installed).prefix(4), Data("GGUF".utf8))

        // The model file in place but no marker (the app died between the two renames).
        try FileManager.default.removeItem(at: container.appendingPathComponent(ModelInstaller.markerName))
        XCTAssertFalse(ModelInstaller.isInstalled(source, at: installed))
        try ModelInstaller.install(from: source, into: container) { _ in copies += 1 }
        XCTAssertEqual(copies, 3)
        XCTAssertTrue(ModelInstaller.isInstalled(source, at: installed))
    }

    func testNonGgufDataIsRefusedAndTheOldModelKept() throws {
        let (source, container, installed) = try installedCopy()
        defer { try? FileManager.default.removeItem(at: container) }
        let html = container.appendingPathComponent("download.gguf")
        for bytes in [Data("<html>not a model</html>".utf8), Data(), Data("GG".utf8)] {
            try bytes.write(to: html)
            XCTAssertThrowsError(try ModelInstaller.install(from: html, into: container)) { error in
                XCTAssertTrue("\(error)".contains("GGUF"), "\(error)")
            }
            try FileManager.default.removeItem(at: html)
            XCTAssertEqual(try Data(contentsOf: installed).prefix(4), Data("GGUF".utf8))
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: container.path)
                .filter { $0.hasSuffix(".partial") }, [], "temporary files left behind")
        }
        // The marker was dropped with the failed install: the old copy is checked again.
        XCTAssertFalse(ModelInstaller.isInstalled(source, at: installed))
        try ModelInstaller.install(from: source, into: container)
        XCTAssertTrue(ModelInstaller.isInstalled(source, at: installed))
    }

    func testTheModelStoreReloadsAReplacedFile() async throws {
        let (source, container, installed) = try installedCopy()
        defer { try? FileManager.default.removeItem(at: container) }
        let store = ModelStore()
        let a = try await store.model(at: installed.path)
        let again = try await store.model(at: installed.path)
        XCTAssertTrue(a === again, "loaded once while the file is unchanged")

        // A new copy renamed over it (what the installer does), with a later modification time.
        let copy = container.appendingPathComponent("copy.gguf")
        try FileManager.default.copyItem(at: source, to: copy)
        let later = Date().addingTimeInterval(10)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: copy.path)
        XCTAssertEqual(rename(copy.path, installed.path), 0)
        let b = try await store.model(at: installed.path)
        XCTAssertFalse(a === b, "a replaced file is loaded again")
        let words = try await b.keyboardPredictor(options: lowMemory).suggest("See you tomor")
        XCTAssertFalse(words.isEmpty)
        let oldWords = try await a.keyboardPredictor(options: lowMemory).suggest("See you tomor")
        XCTAssertFalse(oldWords.isEmpty, "the old mapping keeps working after the rename")
    }
}
