// The keyboard's user dictionary through the Swift layer on the real SmolLM2: an added and a
// learned made-up name are offered as completions, export/import round-trips into a fresh
// predictor, password fields never learn, corrupt bytes are PocketLmError.InvalidUserDictionary.

import Foundation
import PocketLM
import XCTest

final class UserWordsTests: XCTestCase {
    private func predictor(_ options: KeyboardOptions = KeyboardOptions(threads: 1)) async throws -> KeyboardPredictor {
        try await Shared.shared.get().keyboardPredictor(options: options)
    }

    private func words(_ p: KeyboardPredictor, _ text: String) async throws -> [String] {
        try await p.suggest(text).map(\.word)
    }

    func testAnAddedNameIsOfferedAsACompletionAndRemovedAgain() async throws {
        let p = try await predictor()
        defer { p.close() }
        let text = "See you at the party with Quen"
        let before = try await words(p, text)
        XCTAssertFalse(before.contains("Quenbyth"), "the model alone does not know the name")
        try p.addUserWord("Quenbyth")
        let after = try await words(p, text)
        XCTAssertTrue(after.contains("Quenbyth"), "\(after)")
        XCTAssertEqual(try p.userWords().map(\.word), ["Quenbyth"])
        XCTAssertEqual(try p.userWords().first?.source, .added)
        XCTAssertTrue(try p.removeUserWord("quenbyth"))
        XCTAssertFalse(try p.removeUserWord("quenbyth"))
        let removed = try await words(p, text)
        XCTAssertFalse(removed.contains("Quenbyth"))
        XCTAssertThrowsError(try p.addUserWord("two words")) { error in
            guard case PocketLmError.InvalidArgument = error else { return XCTFail("\(error)") }
        }
    }

    func testANameTypedTwiceIsLearnedAndOffered() async throws {
        let p = try await predictor()
        defer { p.close() }
        let first = try await p.learnTypedWord("Vorlanth", after: "I had lunch with ")
        XCTAssertEqual(first, .counted)
        let once = try await words(p, "Tomorrow I will call Vor")
        XCTAssertFalse(once.contains("Vorlanth"), "one typing is not enough")
        let second = try await p.learnTypedWord("Vorlanth", after: "Then ", field: .text)
        XCTAssertEqual(second, .learned)
        let twice = try await words(p, "Tomorrow I will call Vor")
        XCTAssertTrue(twice.contains("Vorlanth"), "\(twice)")
        XCTAssertEqual(try p.userWords().map(\.source), [.learned])
        let easy = try await p.learnTypedWord("much", after: "Thank you very ")
        XCTAssertEqual(easy, .modelOffers)
        try p.clearUserWords()
        XCTAssertEqual(try p.userWords(), [])
    }

    func testPasswordAndNoSuggestionFieldsNeverLearn() async throws {
        let p = try await predictor()
        defer { p.close() }
        for field in [FieldKind.password, .noSuggestions] {
            for _ in 0..<4 {
                let outcome = try await p.learnTypedWord("Hunter2xq", after: "", field: field)
                XCTAssertEqual(outcome, .fieldNotLearned)
            }
        }
        XCTAssertEqual(try p.userWords(), [])
        let strip = try await words(p, "my password is Hun")
        XCTAssertFalse(strip.contains("Hunter2xq"))

        // Learning switched off in the options: not even a text field learns.
        let off = try await predictor(KeyboardOptions(threads: 1, learnUserWords: false))
        defer { off.close() }
        for _ in 0..<3 {
            let outcome = try await off.learnTypedWord("Vorlanth", after: "I met ")
            XCTAssertEqual(outcome, .fieldNotLearned)
        }
        XCTAssertEqual(try off.userWords(), [])
    }

    func testExportImportRoundTripsAndCorruptBytesAreATypedError() async throws {
        let p = try await predictor()
        try p.addUserWord("Quenbyth")
        for _ in 0..<2 { try await p.learnTypedWord("Vorlanth", after: "I met ") }
        XCTAssertEqual(Set(try p.userWords().map(\.word)), ["Quenbyth", "Vorlanth"])
        let bytes = try p.exportUserWords()
        p.close()

        let q = try await predictor()
        defer { q.close() }
        XCTAssertEqual(try q.userWords(), [])
        XCTAssertEqual(try q.importUserWords(bytes), 2)
        XCTAssertEqual(Set(try q.userWords().map(\.word)), ["Quenbyth", "Vorlanth"])
        let learned = try await words(q, "Tomorrow I will call Vor")
        XCTAssertTrue(learned.contains("Vorlanth"), "\(learned)")
        let added = try await words(q, "See you at the party with Quen")
        XCTAssertTrue(added.contains("Quenbyth"), "\(added)")
        let before = try q.userWords()

        var flipped = bytes
        flipped[flipped.count - 6] ^= 0x55
        for bad in [flipped, bytes.prefix(bytes.count / 2), Data(), Data("not a dictionary".utf8)] {
            XCTAssertThrowsError(try q.importUserWords(Data(bad))) { error in
                guard case PocketLmError.InvalidUserDictionary = error else { return XCTFail("\(error)") }
            }
        }
        XCTAssertEqual(try q.userWords(), before, "a failed import changes nothing")
    }
}
