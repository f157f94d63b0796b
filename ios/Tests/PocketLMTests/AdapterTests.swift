// LoRA adapters through the Swift layer on the real SmolLM2-135M and its random rank-8 adapter
// (scripts/gen-random-loras.sh, run by scripts/test-swift.sh): an adapted session generates
// other text than a plain one, detaching gives the plain model back, bad files and scales are
// typed errors. The adapter's effect itself is checked against llama.cpp in
// rust/pocketlm/tests/lora.rs.

import Foundation
import PocketLM
import XCTest

/// $POCKETLM_LORA, else models/lora/smollm2-r8-seed0.gguf under the repo root (found from this
/// file's path), made for the default model. Missing is a failure, not a skip.
func loraPath() -> String {
    if let p = ProcessInfo.processInfo.environment["POCKETLM_LORA"] { return p }
    let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent("models/lora/smollm2-r8-seed0.gguf").path
}

let codePrompt = "def fibonacci(n):\n    "

final class AdapterTests: XCTestCase {
    let opts = SessionOptions(contextLength: 128)

    func adapter(_ m: Model) async throws -> LoraAdapter {
        let path = loraPath()
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestError(message: "adapter file \(path) is missing: run scripts/gen-random-loras.sh")
        }
        return try await m.loadAdapter(path: path)
    }

    func text(_ s: TextSession) async throws -> String {
        try await s.complete(codePrompt, options: greedy(8)).text
    }

    func testAnAdaptedSessionGeneratesOtherTextAndDetachingGivesThePlainModelBack() async throws {
        let m = try await Shared.shared.get()
        let a = try await adapter(m)
        defer { a.close() }
        XCTAssertEqual(a.rank, 8)
        XCTAssertEqual(a.matrixCount, 210)
        XCTAssertGreaterThan(a.sizeBytes, 9_000_000)
        XCTAssertFalse(a.name.isEmpty)
        let plain = try await m.textSession(options: opts)
        let adapted = try await m.textSession(options: opts)
        defer { plain.close(); adapted.close() }
        try await adapted.attachAdapter(a, scale: 0.75)
        let plainCount = try await plain.adapterCount()
        var adaptedCount = try await adapted.adapterCount()
        XCTAssertEqual(plainCount, 0)
        XCTAssertEqual(adaptedCount, 1)
        // Interleaved: one model serves both at once.
        let p = try await text(plain)
        let q = try await text(adapted)
        XCTAssertNotEqual(p, q, "the adapter changed nothing")
        let p2 = try await text(plain)
        let q2 = try await text(adapted)
        XCTAssertEqual(p2, p)
        XCTAssertEqual(q2, q)
        // Attaching again sets a new scale, it does not add a second adapter.
        try await adapted.attachAdapter(a, scale: 1)
        adaptedCount = try await adapted.adapterCount()
        XCTAssertEqual(adaptedCount, 1)
        try await adapted.detachAdapter(a)
        adaptedCount = try await adapted.adapterCount()
        XCTAssertEqual(adaptedCount, 0)
        let detached = try await text(adapted)
        XCTAssertEqual(detached, p)
        // Detaching one that is not attached changes nothing.
        try await adapted.detachAdapter(a)
        adaptedCount = try await adapted.adapterCount()
        XCTAssertEqual(adaptedCount, 0)
        let fresh = try await m.textSession(options: opts)
        defer { fresh.close() }
        let f = try await text(fresh)
        XCTAssertEqual(f, p)
    }

    func testAnAdapterHeldAtF16TakesHalfTheMemoryAndStillAdapts() async throws {
        let m = try await Shared.shared.get()
        let a = try await adapter(m)
        let held = try await m.loadAdapter(path: loraPath(), precision: .f16)
        defer { a.close(); held.close() }
        XCTAssertEqual(a.sizeBytes, 2 * held.sizeBytes)
        let plain = try await m.textSession(options: opts)
        let s = try await m.textSession(options: opts)
        defer { plain.close(); s.close() }
        try await s.attachAdapter(held, scale: 0.75)
        let p = try await text(plain)
        let q = try await text(s)
        XCTAssertNotEqual(p, q, "the F16 adapter changed nothing")
    }

    func testAnAdapterHeldAtQ8TakesLessThanAtF16AndStillAdapts() async throws {
        let m = try await Shared.shared.get()
        let f16 = try await m.loadAdapter(path: loraPath(), precision: .f16)
        let q8 = try await m.loadAdapter(path: loraPath(), precision: .q8)
        defer { f16.close(); q8.close() }
        XCTAssertLessThan(q8.sizeBytes * 5, f16.sizeBytes * 4)
        let plain = try await m.textSession(options: opts)
        let s = try await m.textSession(options: opts)
        defer { plain.close(); s.close() }
        try await s.attachAdapter(q8, scale: 0.75)
        let p = try await text(plain)
        let q = try await text(s)
        XCTAssertNotEqual(p, q, "the Q8 adapter changed nothing")
    }

    func testAClosedAdapterStaysAppliedWhereItIsAttached() async throws {
        let m = try await Shared.shared.get()
        let a = try await adapter(m)
        let s = try await m.textSession(options: opts)
        defer { s.close() }
        try await s.attachAdapter(a, scale: 0.75)
        let q = try await text(s)
        a.close()
        a.close()
        XCTAssertTrue(a.isClosed)
        let again = try await text(s)
        XCTAssertEqual(again, q)
        let count = try await s.adapterCount()
        XCTAssertEqual(count, 1)
        do {
            try await s.detachAdapter(a)
            XCTFail("a closed adapter cannot be detached")
        } catch is ClosedError {}
    }

    func testBadAdapterFilesAndScalesAreTypedErrors() async throws {
        let m = try await Shared.shared.get()
        // The model file itself: a GGUF file, but not an adapter.
        do {
            _ = try await m.loadAdapter(path: modelPath())
            XCTFail("the model file loaded as an adapter")
        } catch PocketLmError.InvalidModel(let message) {
            XCTAssertTrue(message.contains("not an adapter"), message)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pocketlm-lora-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let notes = dir.appendingPathComponent("notes.gguf")
        try Data(String(repeating: "this is not an adapter, just text ", count: 100).utf8).write(to: notes)
        do {
            _ = try await m.loadAdapter(path: notes.path)
            XCTFail("a text file loaded as an adapter")
        } catch PocketLmError.InvalidModel {}
        do {
            _ = try await m.loadAdapter(path: dir.appendingPathComponent("missing.gguf").path)
            XCTFail("a missing file loaded as an adapter")
        } catch PocketLmError.ModelNotFound {}

        let a = try await adapter(m)
        defer { a.close() }
        let s = try await m.textSession(options: opts)
        defer { s.close() }
        for bad in [Float.nan, Float.infinity, -Float.infinity] {
            do {
                try await s.attachAdapter(a, scale: bad)
                XCTFail("scale \(bad) was accepted")
            } catch PocketLmError.InvalidArgument(let message) {
                XCTAssertTrue(message.contains("scale"), message)
            }
        }
        var count = try await s.adapterCount()
        XCTAssertEqual(count, 0)
        // An adapter loaded for another Model (even of the same file).
        let other = try await Model.load(path: modelPath())
        defer { other.close() }
        let o = try await other.textSession(options: opts)
        defer { o.close() }
        do {
            try await o.attachAdapter(a)
            XCTFail("an adapter of another model was attached")
        } catch PocketLmError.InvalidArgument {}
        count = try await o.adapterCount()
        XCTAssertEqual(count, 0)
    }
}
