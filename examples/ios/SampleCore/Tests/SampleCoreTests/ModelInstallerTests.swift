// The containing app's model copy into the App Group container: the installed file is the real
// model (it loads), the copy is atomic (no partial file left, protection applied before the
// rename), and a second install is a no-op.

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
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: container.path), [ModelInstaller.fileName],
                       "no temporary file left behind")
        XCTAssertTrue(ModelInstaller.isInstalled(source, at: installed))

        // Installed already: nothing is copied again.
        try ModelInstaller.install(from: source, into: container) { _ in XCTFail("copied twice") }

        // The keyboard's loader reads it from the container.
        let predictor = try await KeyboardSetup.predictorLoader(modelPath: installed.path, store: ModelStore())()
        let words = try await predictor.suggest("See you tomor")
        XCTAssertFalse(words.isEmpty)
    }
}
