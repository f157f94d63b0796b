// The keyboard controller on the real SmolLM2 with a fake UITextDocumentProxy: strip order,
// conflation and stale results, field policy, auto-space, case from the core, Character-based
// deletion, new documents, model loading, memory warnings, and the end-to-end tap.

import Foundation
import PocketLM
import SampleCore
import XCTest

final class KeyboardControllerTests: XCTestCase {
    // MARK: strip

    func testStripPutsTheBestWordInTheMiddle() async throws {
        XCTAssertEqual(Strip.slots(["best", "second", "third"]), ["second", "best", "third"])
        XCTAssertEqual(Strip.slots(["best"]), ["", "best", ""])
        XCTAssertEqual(Strip.slots([]), ["", "", ""])

        let k = KeyboardHarness()
        let strip = try await k.typeAndSettle("See you tom")
        let words = try await referencePredictor().suggest("See you tom").map(\.word)
        XCTAssertGreaterThanOrEqual(words.count, 2, "the core should offer words for 'See you tom'")
        XCTAssertEqual(strip, Strip.slots(words))
        XCTAssertEqual(strip[1], words[0])
    }

    // MARK: worker

    func testNewerKeystrokesConflateIntoOneWaitingRequest() async throws {
        let k = KeyboardHarness()
        try await k.settle()                       // loaded; one request for the empty field
        let before = k.controller.stats.modelCalls
        k.controller.type("Thank you so much")     // 17 keys while the first request runs
        try await k.settle()
        // The first key's request ran; the other 16 replaced each other while it ran.
        XCTAssertEqual(k.controller.stats.modelCalls - before, 2)
        try await assertStrip(k.controller.strip, for: "Thank you so much")
    }

    func testAResultForOlderTextIsDroppedNotApplied() async throws {
        let k = KeyboardHarness()
        try await k.settle()
        let emptyFieldStrip = k.controller.strip
        k.controller.type("See you to")
        try await k.ui.waitForQueued()             // the worker finished "See you to"...
        k.controller.type("m")                     // ...but the field changed before delivery
        k.ui.runQueued()
        XCTAssertEqual(k.controller.stats.dropped, 1)
        XCTAssertEqual(k.controller.strip, emptyFieldStrip, "a stale result must not reach the strip")
        try await k.settle()
        try await assertStrip(k.controller.strip, for: "See you tom")
        XCTAssertEqual(k.field.text, "See you tom")
    }

    // MARK: field policy

    func testFieldPolicyTableOverTraits() {
        let on = FieldPolicy(suggestions: true, autoCapitalize: true)
        let off = FieldPolicy(suggestions: false, autoCapitalize: false)
        XCTAssertEqual(FieldPolicy.of(.plainText), on)
        XCTAssertEqual(FieldPolicy.of(FieldTraits(isSecureTextEntry: true)), off)
        for kind in [KeyboardType.numberPad, .decimalPad, .phonePad, .numbersAndPunctuation, .asciiCapableNumberPad] {
            XCTAssertEqual(FieldPolicy.of(FieldTraits(keyboardType: kind)), off, "\(kind)")
        }
        XCTAssertEqual(FieldPolicy.of(FieldTraits(keyboardType: .emailAddress)), off)
        XCTAssertEqual(FieldPolicy.of(FieldTraits(keyboardType: .url)), off)
        XCTAssertEqual(FieldPolicy.of(FieldTraits(autocorrectionType: .no)),
                       FieldPolicy(suggestions: false, autoCapitalize: true))
        for kind in [KeyboardType.default, .asciiCapable, .twitter, .webSearch, .namePhonePad] {
            XCTAssertEqual(FieldPolicy.of(FieldTraits(keyboardType: kind)), on, "\(kind)")
        }
        // A secure field stays off whatever its other traits say.
        XCTAssertEqual(FieldPolicy.of(FieldTraits(isSecureTextEntry: true, autocorrectionType: .yes)), off)
    }

    func testAndroidInputTypesMapOntoTheSameRows() {
        let on = FieldPolicy(suggestions: true, autoCapitalize: true)
        let off = FieldPolicy(suggestions: false, autoCapitalize: false)
        let table: [(Int, FieldPolicy)] = [
            (0x1, on),                 // TEXT
            (0x4001, on),              // TEXT | CAP_SENTENCES
            (0x20001, on),             // TEXT | MULTI_LINE
            (0x81, off), (0x91, off), (0xE1, off),   // passwords
            (0x21, off), (0xD1, off), (0x11, off),   // email, web email, URI
            (0x80001, FieldPolicy(suggestions: false, autoCapitalize: true)),  // NO_SUGGESTIONS
            (0x80081, off),            // password + NO_SUGGESTIONS
            (0x2, off), (0x1002, off), (0x3, off), (0x4, off), (0x0, off),
        ]
        for (inputType, policy) in table {
            XCTAssertEqual(FieldPolicy.of(AndroidInputType.traits(inputType)), policy,
                           String(format: "inputType 0x%x", inputType))
        }
        XCTAssertTrue(AndroidInputType.traits(0x81).isSecureTextEntry)
        XCTAssertEqual(AndroidInputType.traits(0x2).keyboardType, .numberPad)
        XCTAssertEqual(AndroidInputType.traits(0x3).keyboardType, .phonePad)
        XCTAssertEqual(AndroidInputType.traits(0x21).keyboardType, .emailAddress)
        XCTAssertEqual(AndroidInputType.traits(0x11).keyboardType, .url)
        XCTAssertEqual(AndroidInputType.traits(0x80001).autocorrectionType, .no)
    }

    func testNoModelCallsAndAnEmptyStripInFieldsWithoutSuggestions() async throws {
        for traits in [FieldTraits(isSecureTextEntry: true), FieldTraits(keyboardType: .numberPad),
                       FieldTraits(keyboardType: .emailAddress), FieldTraits(autocorrectionType: .no)] {
            let k = KeyboardHarness(traits: traits)
            let strip = try await k.typeAndSettle("See you tom")
            XCTAssertEqual(strip, Strip.empty, "\(traits)")
            XCTAssertEqual(k.controller.stats.modelCalls, 0, "\(traits)")
            XCTAssertEqual(k.field.text, "See you tom", "keys still type")
        }
    }

    // MARK: suggestion taps and auto-space

    func testEndToEndTapTomorrowGivesTheWordASpaceAndNextWords() async throws {
        let k = KeyboardHarness()
        let strip = try await k.typeAndSettle("See you tomor")
        let slot = try XCTUnwrap(strip.firstIndex(of: "tomorrow"), "strip \(strip)")
        k.controller.tap(slot: slot)
        XCTAssertEqual(k.field.text, "See you tomorrow ")
        try await k.settle()
        XCTAssertTrue(k.controller.strip.contains { !$0.isEmpty }, "a next-word strip after the tap")
        try await assertStrip(k.controller.strip, for: "See you tomorrow ")
    }

    func testPunctuationAfterTheTapSpaceReplacesIt() async throws {
        let k = KeyboardHarness()
        let strip = try await k.typeAndSettle("See you tomor")
        let slot = try XCTUnwrap(strip.firstIndex(of: "tomorrow"))
        k.controller.tap(slot: slot)
        k.controller.type(".")
        XCTAssertEqual(k.field.text, "See you tomorrow.")
        // Only once: the next space is the user's own.
        k.controller.type(" ")
        k.controller.type("!")
        XCTAssertEqual(k.field.text, "See you tomorrow. !")
        try await k.settle()
    }

    func testAnyOtherEventEndsTheAutoSpace() async throws {
        let k = KeyboardHarness()
        // A letter typed after the tap space.
        var strip = try await k.typeAndSettle("See you tomor")
        k.controller.tap(slot: try XCTUnwrap(strip.firstIndex(of: "tomorrow")))
        k.controller.type("a")
        k.controller.backspace()
        k.controller.type(",")
        XCTAssertEqual(k.field.text, "See you tomorrow ,")
        // A cursor move reported by the host.
        k.field.newDocument(traits: .plainText)
        k.controller.textDidChange()
        strip = try await k.typeAndSettle("See you tomor")
        k.controller.tap(slot: try XCTUnwrap(strip.firstIndex(of: "tomorrow")))
        k.field.moveCursor(toScalarOffset: 4)
        k.field.moveCursor(toScalarOffset: k.field.text.unicodeScalars.count)
        k.controller.outsideChange()
        k.controller.type("?")
        XCTAssertEqual(k.field.text, "See you tomorrow ?")
        try await k.settle()
    }

    func testTheEchoOfTheControllersOwnEditIsNotAnOutsideChange() async throws {
        let k = KeyboardHarness()
        try await k.typeAndSettle("See you tom")
        let calls = k.controller.stats.modelCalls
        k.controller.textDidChange()               // UIKit reporting the keyboard's own edit
        try await k.settle()
        XCTAssertEqual(k.controller.stats.modelCalls, calls)
        k.field.moveCursor(toScalarOffset: 3)      // the user moved the cursor: "See|"
        k.controller.textDidChange()
        try await k.settle()
        XCTAssertEqual(k.controller.stats.modelCalls, calls + 1)
        try await assertStrip(k.controller.strip, for: "See")
    }

    // MARK: case

    func testCaseComesFromTheCore() async throws {
        let k = KeyboardHarness()
        func words(after text: String) async throws -> [String] {
            k.field.newDocument(traits: .plainText)
            k.controller.textDidChange()
            let words = try await k.typeAndSettle(text).filter { !$0.isEmpty }
            XCTAssertFalse(words.isEmpty, "no words for \(text)")
            return words
        }
        // Typed letters keep their case; all-capital typing stays all-capital.
        let lower = try await words(after: "I think we should hel")
        XCTAssertTrue(lower.allSatisfy { $0.first!.isLowercase }, "\(lower)")
        let upper = try await words(after: "I think we should Hel")
        XCTAssertTrue(upper.allSatisfy { $0.first!.isUppercase }, "\(upper)")
        let caps = try await words(after: "I LOVE YOU SO MU")
        XCTAssertTrue(caps.allSatisfy { $0 == $0.uppercased() }, "\(caps)")
        // Next words at a sentence start are capitalized.
        let start = try await words(after: "It is late. ")
        XCTAssertTrue(start.allSatisfy { $0.first!.isUppercase }, "\(start)")

        // Auto-shift (the view's shift key) at sentence starts of the field.
        k.field.newDocument(traits: .plainText)
        k.controller.textDidChange()
        XCTAssertTrue(k.controller.autoShift, "an empty field starts a sentence")
        k.controller.type("It is late. wh")
        XCTAssertFalse(k.controller.autoShift)
        k.controller.type(" ")
        XCTAssertFalse(k.controller.autoShift, "'wh ' is not a sentence end")
        k.controller.type("Done. ")
        XCTAssertTrue(k.controller.autoShift)
        k.field.newDocument(traits: FieldTraits(keyboardType: .emailAddress))
        k.controller.textDidChange()
        XCTAssertFalse(k.controller.autoShift, "no auto-capitalization in an email field")
        try await k.settle()
    }

    // MARK: deletion: Characters vs Unicode scalars

    func testScalarCountsBecomeCharacterDeletions() {
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 5, before: "I like cafe\u{301}"), 4)
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 4, before: "I like cafe\u{301}"), 3)
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 1, before: "I like cafe\u{301}"), 1,
                       "never half a Character")
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 2, before: "ok 👍🏽"), 1)
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 3, before: "ok 👍🏽"), 2)
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 3, before: "\u{1100}\u{1161}\u{11A8}"), 1)
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 0, before: "abc"), 0)
        // A truncated context: scalars beyond it count one call each.
        XCTAssertEqual(ScalarEditing.deleteBackwardCount(scalars: 5, before: "abc"), 5)
    }

    func testBackspaceDeletesWholeCharacters() async throws {
        let k = KeyboardHarness()
        k.controller.type("Nice 👍🏽")
        k.controller.backspace()
        XCTAssertEqual(k.field.text, "Nice ")
        k.controller.type("cafe\u{301}")
        XCTAssertEqual(k.field.cursor, 10)
        k.controller.backspace()
        XCTAssertEqual(k.field.text, "Nice caf")
        k.controller.backspace(20)
        XCTAssertEqual(k.field.text, "", "nothing happens at the start of the field")
        try await k.settle()
        try await assertStrip(k.controller.strip, for: "")
    }

    func testATapNextToAnEmojiAndAnAccentKeepsThemWhole() async throws {
        let k = KeyboardHarness()
        // The word being typed follows an emoji: only its letters are replaced.
        var strip = try await k.typeAndSettle("See you 👍🏽 tomor")
        XCTAssertFalse(strip[1].isEmpty, "strip \(strip)")
        let tapEdit = try await referencePredictor().accept("See you 👍🏽 tomor", word: strip[1])
        XCTAssertEqual(tapEdit.deleteChars, 5)
        k.controller.tap(slot: 1)
        XCTAssertEqual(k.field.text, "See you 👍🏽 " + strip[1] + " ")
        XCTAssertEqual(k.field.deleteBackwardCalls, 5)
        // Right after "café" with a combining accent (a word character, like the core's): the
        // tap replaces the whole word, accent included; no accent is left on another letter.
        k.field.newDocument(traits: .plainText)
        k.controller.textDidChange()
        strip = try await k.typeAndSettle("I like the cafe\u{301}")
        let slot = try XCTUnwrap(strip.firstIndex { !$0.isEmpty }, "strip \(strip)")
        let word = strip[slot]
        let callsBefore = k.field.deleteBackwardCalls
        let edit = try await referencePredictor().accept("I like the cafe\u{301}", word: word)
        XCTAssertEqual(edit.deleteChars, 5, "c, a, f, e and U+0301")
        k.controller.tap(slot: slot)
        XCTAssertEqual(k.field.deleteBackwardCalls - callsBefore,
                       ScalarEditing.deleteBackwardCount(scalars: Int(edit.deleteChars), before: "I like the cafe\u{301}"))
        XCTAssertEqual(k.field.text, "I like the " + edit.insert)
        try await k.settle()
    }

    // MARK: context from the proxy

    func testANilOrTruncatedContextIsHandled() async throws {
        let k = KeyboardHarness()
        k.field.contextUnavailable = true
        try await k.typeAndSettle("See you tom")
        try await assertStrip(k.controller.strip, for: "", "nil is treated as \"\"")
        k.field.contextUnavailable = false
        k.field.contextLimit = 6
        k.controller.outsideChange()
        try await k.settle()
        try await assertStrip(k.controller.strip, for: "ou tom")
    }

    // MARK: documents

    func testANewDocumentResetsContextStateAndDropsOldResults() async throws {
        let k = KeyboardHarness()
        try await k.settle()
        k.controller.type("See you tomor")
        try await k.ui.waitForQueued()             // a result for the old field is on its way
        k.field.newDocument(traits: .plainText)
        k.controller.textDidChange()
        XCTAssertEqual(k.controller.strip, Strip.empty)
        k.ui.runQueued()
        XCTAssertEqual(k.controller.stats.dropped, 1)
        XCTAssertEqual(k.controller.strip, Strip.empty)
        try await k.settle()
        XCTAssertEqual(k.controller.stats.resets, 1, "the predictor forgets the old field")
        try await assertStrip(k.controller.strip, for: "")
        // The policy follows the new document's traits.
        k.field.newDocument(traits: FieldTraits(isSecureTextEntry: true))
        k.controller.textDidChange()
        try await k.typeAndSettle("hunter2")
        XCTAssertEqual(k.controller.strip, Strip.empty)
        XCTAssertFalse(k.controller.policy.suggestions)
    }

    // MARK: model loading and memory

    func testKeysWorkWhileTheModelLoadsAndOneRequestFollowsTheLoad() async throws {
        let k = KeyboardHarness()
        XCTAssertEqual(k.controller.modelState, .loading)
        k.controller.type("See you tom")           // before any delivery: still loading
        XCTAssertEqual(k.field.text, "See you tom")
        XCTAssertEqual(k.controller.strip, Strip.empty)
        XCTAssertEqual(k.controller.stats.modelCalls, 0)
        try await k.settle()
        XCTAssertEqual(k.controller.modelState, .ready)
        XCTAssertEqual(k.controller.stats.modelCalls, 1)
        try await assertStrip(k.controller.strip, for: "See you tom")
    }

    func testALoadFailureIsAShortMessageAndKeysStillType() async throws {
        let k = KeyboardHarness(load: KeyboardSetup.predictorLoader(modelPath: "/nonexistent/model.gguf"))
        k.controller.type("Hi")
        try await k.settle()
        XCTAssertEqual(k.controller.modelState, .failed("Model not installed: open the PocketLM app once"))
        k.controller.type(" there")
        XCTAssertEqual(k.field.text, "Hi there")
        XCTAssertEqual(k.controller.strip, Strip.empty)
        XCTAssertEqual(k.controller.stats.modelCalls, 0)
    }

    func testAMemoryWarningReleasesCachesAndSuggestionsGoOn() async throws {
        let k = KeyboardHarness()
        try await k.typeAndSettle("See you tom")
        k.controller.memoryWarning()
        try await k.settle()
        XCTAssertEqual(k.controller.stats.memoryReleases, 1)
        try await k.typeAndSettle("orrow at")
        try await assertStrip(k.controller.strip, for: "See you tomorrow at")
    }

    // MARK: language

    func testLanguageCodesOfTheSetting() async throws {
        XCTAssertEqual(KeyboardLanguage.allCases.map(\.code), ["en", "es", "de", "fr", "pt", "it"])
        XCTAssertEqual(KeyboardLanguage(code: "pt-BR"), .pt)
        XCTAssertEqual(KeyboardLanguage(code: " DE "), .de)
        XCTAssertEqual(KeyboardLanguage(code: "it_IT"), .it)
        XCTAssertNil(KeyboardLanguage(code: "nl"))
        XCTAssertNil(KeyboardLanguage(code: ""))
        XCTAssertNil(KeyboardLanguage(code: nil))
        let defaults = UserDefaults(suiteName: "pocketlm.test.\(UUID().uuidString)")!
        XCTAssertEqual(KeyboardLanguage.stored(in: defaults), .en)
        defaults.set("fr", forKey: KeyboardLanguage.settingsKey)
        XCTAssertEqual(KeyboardLanguage.stored(in: defaults), .fr)
        defaults.set("xx", forKey: KeyboardLanguage.settingsKey)
        XCTAssertEqual(KeyboardLanguage.stored(in: defaults), .en)
        // Every language of the setting is one the library accepts.
        for l in KeyboardLanguage.allCases {
            _ = try await sharedModel().keyboardPredictor(options: KeyboardSetup.options(language: l))
        }
    }

    /// Records which languages were loaded.
    final class Loads: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [KeyboardLanguage] = []
        func add(_ l: KeyboardLanguage) { lock.lock(); list.append(l); lock.unlock() }
        var languages: [KeyboardLanguage] { lock.lock(); defer { lock.unlock() }; return list }
    }

    func testTheLanguageSettingLoadsAPredictorForThatLanguage() async throws {
        // Gemma 3 270M: with English "Vielen Da" offers no "Dank"; German does (docs/keyboard.md,
        // the library's own language test).
        let gemma = try gemmaPath()
        let loads = Loads()
        let loader = KeyboardSetup.languagePredictorLoader(modelPath: gemma)
        let k = KeyboardHarness(language: .en) { l in
            loads.add(l)
            return try await loader(l)
        }
        try await k.typeAndSettle("Vielen Da")
        XCTAssertEqual(loads.languages, [.en])
        let english = k.controller.strip
        XCTAssertFalse(k.controller.setLanguage(.en), "the same language changes nothing")

        XCTAssertTrue(k.controller.setLanguage(.de))
        XCTAssertEqual(k.controller.modelState, .loading)
        XCTAssertEqual(k.controller.strip, Strip.empty, "the old language's strip is cleared")
        try await k.settle()
        XCTAssertEqual(k.controller.modelState, .ready)
        XCTAssertEqual(loads.languages, [.en, .de])
        let german = try await expectedStrip("Vielen Da", try await loader(.de))
        XCTAssertEqual(k.controller.strip, german)
        XCTAssertTrue(k.controller.strip.contains("Dank"), "German strip \(k.controller.strip)")
        XCTAssertFalse(english.contains("Dank"), "English strip \(english)")

        // Two changes before any load finishes: only the last language's predictor is used.
        k.controller.setLanguage(.fr)
        k.controller.setLanguage(.it)
        try await k.settle()
        XCTAssertEqual(k.controller.language, .it)
        let italian = try await expectedStrip("Vielen Da", try await loader(.it))
        XCTAssertEqual(k.controller.strip, italian)
    }
}
