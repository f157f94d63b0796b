// The iOS glue of the shared reply controller (ReplyGlue over Rust's ReplyCore) on the real
// SmolLM2: events reach the controller, states are drawn on the UI thread and only newer ones, the
// compose cursor crosses in UTF-16 units. The controller's own behaviour (drafts, stale results,
// the longer reply, the calendar action) is tested in Rust
// (cargo test -p pocketlm-ffi --lib reply_core).

import Foundation
import PocketLM
import SampleCore
import XCTest

final class ReplyGlueTests: XCTestCase {
    private let thumbs = "\u{1F44D}\u{1F3FD}" // 👍🏽: four UTF-16 units, one Character

    final class Harness {
        let ui = ManualExecutor()
        var versions: [UInt64] = []
        let glue: ReplyGlue

        init() throws {
            glue = try ReplyGlue(deliver: ui.deliver)
            glue.onChange = { [unowned self] in self.versions.append($0.version) }
        }

        func settle() {
            repeat { XCTAssertTrue(glue.waitIdle()) } while ui.runQueued() > 0
        }
    }

    func testAReceivedMessageGetsChipsDrawnInOrder() throws {
        let h = try Harness()
        let tmp = FileManager.default.temporaryDirectory
            .appendingPathComponent("replystate-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let stateDir = tmp.appendingPathComponent("ReplyState", isDirectory: true).path
        h.glue.loadModel(path: modelPath(), stateDir: stateDir)
        h.settle()
        XCTAssertEqual(h.glue.state.modelState, .ready)
        h.glue.receive("Can we meet tomorrow at 5?")
        h.ui.runQueued()
        XCTAssertTrue(h.glue.state.drafting, "progress shows while drafting")
        h.settle()
        let s = h.glue.state
        XCTAssertFalse(s.drafting)
        XCTAssertTrue((1...3).contains(s.chips.count), "chips \(s.chips)")
        XCTAssertEqual(h.versions, h.versions.sorted(), "an older state is never drawn after a newer one")
        XCTAssertEqual(Set(h.versions).count, h.versions.count)
        let saved = (try? FileManager.default.contentsOfDirectory(atPath: stateDir)) ?? []
        XCTAssertFalse(saved.isEmpty, "the drafter's warm-up is kept in \(stateDir)")

        h.glue.tapChip(-1) // not a chip: nothing
        h.glue.tapChip(s.chips.count - 1)
        h.ui.runQueued()
        XCTAssertEqual(h.glue.state.compose, s.chips.last)
        XCTAssertEqual(Int(h.glue.state.composeCursorUtf16), s.chips.last!.utf16.count)
        h.glue.send()
        h.ui.runQueued()
        XCTAssertEqual(h.glue.state.messages.count, 2)
        XCTAssertEqual(h.glue.state.messages.last?.fromMe, true)
    }

    func testTheComposeCursorIsUTF16AndAFailedLoadMapsToModelState() throws {
        let h = try Harness()
        h.glue.loadModel(path: "/nonexistent/model.gguf")
        h.glue.editCompose("ok \(thumbs)!")
        h.settle()
        XCTAssertEqual(h.glue.state.compose, "ok \(thumbs)!")
        XCTAssertEqual(h.glue.state.composeCursorUtf16, 8, "the end, in UTF-16 units")
        h.glue.editCompose("ok \(thumbs)!", cursorUtf16: 99)
        h.ui.runQueued()
        XCTAssertEqual(h.glue.state.composeCursorUtf16, 8, "clamped to the text")
        guard case .failed = h.glue.state.modelState else {
            return XCTFail("\(h.glue.state.modelState)")
        }
        XCTAssertFalse(h.glue.state.canWriteLonger)
        XCTAssertNil(h.glue.addToCalendar())
    }
}
