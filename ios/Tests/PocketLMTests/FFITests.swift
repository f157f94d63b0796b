// The generated module directly (its own file: importing PocketLMFFI next to PocketLM would
// make names such as `Model` ambiguous).

import PocketLMFFI
import XCTest

final class FFITests: XCTestCase {
    /// A pre-cancelled token makes `draft` throw `Cancelled`; without a token it drafts.
    func testPreCancelledTokenCancelsTheDraft() throws {
        let m = try Model.load(path: modelPath())
        let drafter = try ReplyDrafter(model: m, options: DrafterOptions())
        let token = CancelToken()
        token.cancel()
        XCTAssertTrue(token.isCancelled())
        let convo = [ConversationMessage(fromMe: false, text: "Are you coming to the party tonight?")]
        do {
            _ = try drafter.draft(conversation: convo, options: DraftOptions(), cancel: token)
            XCTFail("a cancelled token cancels the draft")
        } catch PocketLmError.Cancelled {
        }
        XCTAssertEqual(try drafter.draft(conversation: convo, options: DraftOptions()).replies.count, 3)
    }
}
