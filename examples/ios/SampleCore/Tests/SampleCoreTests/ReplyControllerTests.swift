// The Reply controller on the real SmolLM2: chips drafted off the UI thread, the reason when
// there are none, a newer message cancelling the draft in flight, chips filling the compose
// field, the streamed longer reply and its Stop, Send.

import Foundation
import PocketLM
import SampleCore
import XCTest

final class ReplyControllerTests: XCTestCase {
    func testThreeDistinctChipsForAMeetingQuestion() async throws {
        let r = ReplyHarness()
        r.controller.receive("Can we meet tomorrow at 5?")
        XCTAssertTrue(r.controller.drafting, "progress shows while drafting")
        XCTAssertEqual(r.controller.chips, [])
        try await r.settle()
        XCTAssertFalse(r.controller.drafting)
        XCTAssertEqual(r.controller.chips.count, 3, "chips \(r.controller.chips)")
        XCTAssertEqual(Set(r.controller.chips).count, 3, "distinct: \(r.controller.chips)")
        XCTAssertTrue(r.controller.chips.allSatisfy { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
        XCTAssertNil(r.controller.noSuggestionReason)
        XCTAssertEqual(r.controller.draftOutcomes, [.shown])
    }

    func testTheReasonIsShownWhenThereAreNoChips() async throws {
        let r = ReplyHarness()
        r.controller.receive("My grandmother passed away last night.")
        try await r.settle()
        XCTAssertEqual(r.controller.chips, [])
        XCTAssertEqual(r.controller.noSuggestionReason, .sensitive)
    }

    func testANewMessageCancelsTheDraftInFlight() async throws {
        let r = ReplyHarness()
        r.controller.receive("Are you coming to dinner tonight?")
        r.controller.receive("Can we meet tomorrow at 5?")
        XCTAssertTrue(r.controller.drafting)
        try await r.settle()
        // The first draft never reached the screen; the second is the whole conversation's.
        XCTAssertEqual(r.controller.draftOutcomes.count, 2)
        XCTAssertTrue([.cancelled, .discarded].contains(r.controller.draftOutcomes[0]),
                      "\(r.controller.draftOutcomes)")
        XCTAssertEqual(r.controller.draftOutcomes[1], .shown)
        let direct = try await sharedModel().replyDrafter().draft([
            ConversationMessage(fromMe: false, text: "Are you coming to dinner tonight?"),
            ConversationMessage(fromMe: false, text: "Can we meet tomorrow at 5?"),
        ])
        XCTAssertEqual(r.controller.chips, direct.replies.prefix(3).map(\.text))
    }

    func testAChipFillsTheComposeFieldWithTheCursorAtTheEnd() async throws {
        let r = ReplyHarness()
        r.controller.receive("Can we meet tomorrow at 5?")
        try await r.settle()
        let chip = try XCTUnwrap(r.controller.chips.last)
        r.controller.tapChip(r.controller.chips.count - 1)
        XCTAssertEqual(r.controller.compose, chip)
        XCTAssertEqual(r.controller.composeCursor, chip.count)
        r.controller.tapChip(7)                    // no such chip: nothing changes
        XCTAssertEqual(r.controller.compose, chip)
    }

    func testSendAppendsMyMessageAndClearsComposeAndChips() async throws {
        let r = ReplyHarness()
        r.controller.receive("Can we meet tomorrow at 5?")
        try await r.settle()
        r.controller.tapChip(0)
        let text = r.controller.compose
        r.controller.send()
        XCTAssertEqual(r.controller.messages.last, ReplyController.Message(fromMe: true, text: text))
        XCTAssertEqual(r.controller.compose, "")
        XCTAssertEqual(r.controller.chips, [])
        XCTAssertFalse(r.controller.drafting, "no draft after my own message")
        r.controller.writeLongerReply()            // the last message is mine: nothing to answer
        XCTAssertFalse(r.controller.streaming)
    }

    func testALongerReplyStreamsThenStopKeepsThePartialText() async throws {
        let r = ReplyHarness()
        r.controller.receive("How was your weekend? Tell me everything!")
        try await r.settle()
        r.controller.writeLongerReply()
        XCTAssertTrue(r.controller.streaming, "the button shows Stop")
        XCTAssertEqual(r.controller.compose, "")
        // Let a few pieces arrive, then Stop.
        try await r.run(until: { r.controller.compose.count >= 12 })
        r.controller.stop()
        XCTAssertFalse(r.controller.streaming)
        let partial = r.controller.compose
        try await r.settle()
        XCTAssertEqual(r.controller.compose, partial, "the partial text stays as it was at Stop")
        let result = try XCTUnwrap(r.controller.lastStreamResult)
        XCTAssertEqual(result.stopReason, .cancelled)
        XCTAssertLessThanOrEqual(result.tokensAfterCancel, 1, "cancelled within one token")
        XCTAssertLessThan(result.generatedTokens, 200)
    }

    func testALongerReplyEndsOnItsOwnAndANewMessageStopsOne() async throws {
        let r = ReplyHarness(chatOptions: ChatOptions(maxTokens: 6, sampling: SamplingOptions(temperature: 0)))
        r.controller.receive("What are you doing this weekend?")
        try await r.settle()
        r.controller.writeLongerReply()
        try await r.settle()
        XCTAssertFalse(r.controller.streaming, "the stream's end ends streaming")
        XCTAssertFalse(r.controller.compose.isEmpty)
        XCTAssertNotEqual(r.controller.lastStreamResult?.stopReason, .cancelled)

        let long = ReplyHarness()
        long.controller.receive("How was your weekend? Tell me everything!")
        try await long.settle()
        long.controller.writeLongerReply()
        try await long.run(until: { !long.controller.compose.isEmpty })
        long.controller.receive("Are you there?")
        XCTAssertFalse(long.controller.streaming)
        try await long.settle()
        XCTAssertEqual(long.controller.lastStreamResult?.stopReason, .cancelled)
        XCTAssertEqual(long.controller.draftOutcomes.last, .shown)
    }

    func testTheLongerReplyPromptQuotesEarlierMessages() {
        let prompt = ReplyController.longReplyPrompt([
            .init(fromMe: false, text: "Hi!"), .init(fromMe: true, text: "Hey"),
            .init(fromMe: false, text: "Dinner tonight?"),
        ])
        XCTAssertEqual(prompt.user, "Dinner tonight?")
        XCTAssertTrue(prompt.system.hasSuffix("Them: Hi!\nMe: Hey"), prompt.system)
    }
}
