// Model.load(path:layoutCache:) through the Swift layer on the real SmolLM2: the first load writes
// the interleaved copy, the second maps it, both generate what the original file generates, and a
// cache directory that cannot be created loads the original file with the reason in
// layoutCacheStatus.

import Foundation
import PocketLM
import XCTest

final class LayoutCacheTests: XCTestCase {
    private func greedyText(_ model: Model) async throws -> String {
        let session = try await model.textSession(options: SessionOptions(contextLength: 128))
        return try await session.complete(prompt, options: greedy(6)).text
    }

    func testALayoutCacheConvertsOnceThenHitsWithTheOriginalsText() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pocketlm-swift-layout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("layout")

        let original = try await Model.load(path: modelPath())
        guard case .notRequested = try original.layoutCacheStatus else {
            return XCTFail("load(path:) uses no cache: \(try original.layoutCacheStatus)")
        }
        let want = try await greedyText(original)

        let first = try await Model.load(path: modelPath(), layoutCache: cache)
        guard case .converted(let copy, _, nil) = try first.layoutCacheStatus else {
            return XCTFail("expected a conversion: \(try first.layoutCacheStatus)")
        }
        XCTAssertTrue(copy.hasPrefix(cache.path), copy)
        XCTAssertTrue(FileManager.default.fileExists(atPath: copy))
        let firstText = try await greedyText(first)
        XCTAssertEqual(firstText, want)

        let second = try await Model.load(path: modelPath(), layoutCache: cache)
        guard case .hit(let path) = try second.layoutCacheStatus else {
            return XCTFail("expected a hit: \(try second.layoutCacheStatus)")
        }
        XCTAssertEqual(path, copy)
        let secondText = try await greedyText(second)
        XCTAssertEqual(secondText, want)

        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let fallback = try await Model.load(path: modelPath(), layoutCache: blocker.appendingPathComponent("cache"))
        guard case .fallback(let reason) = try fallback.layoutCacheStatus else {
            return XCTFail("expected a fallback: \(try fallback.layoutCacheStatus)")
        }
        XCTAssertTrue(reason.contains("cache directory"), reason)
        let fallbackText = try await greedyText(fallback)
        XCTAssertEqual(fallbackText, want)
    }
}
