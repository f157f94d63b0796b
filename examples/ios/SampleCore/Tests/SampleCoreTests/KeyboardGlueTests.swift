// The iOS glue of the shared keyboard controller (KeyboardGlue over Rust's KeyboardCore) on the
// real SmolLM2: it passes the field's text in UTF-16 units, turns the controller's edits into
// `deleteBackward()`/`insertText` calls, maps traits onto the shared policy table, and draws states
// on the UI thread, only newer ones. The controller's own behaviour is tested in Rust
// (cargo test -p pocketlm-ffi keyboard_core).

import Foundation
import PocketLM
import SampleCore
import XCTest

/// A "UI thread" that runs delivered closures newest first (out of order), to test the version rule.
final class LastFirstExecutor: @unchecked Sendable {
    private let lock = NSLock()
    private var jobs: [@Sendable () -> Void] = []

    var deliver: Deliver {
        { [self] job in lock.lock(); jobs.append(job); lock.unlock() }
    }

    @discardableResult
    func runQueued() -> Int {
        lock.lock()
        let batch = jobs.reversed()
        jobs.removeAll()
        lock.unlock()
        for job in batch { job() }
        return batch.count
    }
}

final class KeyboardGlueTests: XCTestCase {
    private let thumbs = "\u{1F44D}\u{1F3FD}" // 👍🏽: two scalars, four UTF-16 units, one Character

    /// A glue on an in-memory field, the model loaded, its UI queue run by the test.
    final class Harness {
        let field: InMemoryTextDocument
        let ui = ManualExecutor()
        var drawn: [KeyboardState] = []
        let glue: KeyboardGlue

        init(_ text: String = "", traits: FieldTraits = .plainText, stateDir: String? = nil) throws {
            field = InMemoryTextDocument(traits: traits)
            field.insertText(text)
            glue = try KeyboardGlue(document: field, deliver: ui.deliver)
            glue.onChange = { [unowned self] in self.drawn.append($0) }
            glue.startField()
            glue.loadModel(path: modelPath(), stateDir: stateDir)
            settle()
        }

        func settle() {
            repeat { XCTAssertTrue(glue.waitIdle()) } while ui.runQueued() > 0
        }
    }

    func testOffsetsAreUTF16AndDeletionsWholeCharacters() {
        XCTAssertEqual(TextOffsets.utf16("ok \(thumbs)"), 7)
        XCTAssertEqual(TextOffsets.utf16("cafe\u{301}"), 5)
        XCTAssertEqual(TextOffsets.deleteBackwardCount(utf16: 4, before: "ok \(thumbs)"), 1)
        XCTAssertEqual(TextOffsets.deleteBackwardCount(utf16: 5, before: "ok \(thumbs)"), 2)
        XCTAssertEqual(TextOffsets.deleteBackwardCount(utf16: 1, before: "ok \(thumbs)"), 1,
                       "never half a Character")
        XCTAssertEqual(TextOffsets.deleteBackwardCount(utf16: 2, before: "cafe\u{301}"), 1)
        XCTAssertEqual(TextOffsets.deleteBackwardCount(utf16: 5, before: "cafe\u{301}"), 4)
        XCTAssertEqual(TextOffsets.deleteBackwardCount(utf16: 0, before: "abc"), 0)
        // A truncated context: units beyond it count one call each.
        XCTAssertEqual(TextOffsets.deleteBackwardCount(utf16: 5, before: "abc"), 5)
    }

    func testEditsReachTheFieldAsProxyCalls() throws {
        let k = try Harness("Great \(thumbs) see you tomor")
        XCTAssertEqual(k.glue.state.modelState, .ready)
        let slot = try XCTUnwrap(k.glue.state.strip.firstIndex(of: "tomorrow"), "strip \(k.glue.state.strip)")
        var calls = k.field.deleteBackwardCalls
        k.glue.tap(slot: slot)
        XCTAssertEqual(k.field.text, "Great \(thumbs) see you tomorrow ")
        XCTAssertEqual(k.field.deleteBackwardCalls - calls, 5, "\"tomor\": five units, five Characters")
        k.glue.type(".")
        XCTAssertEqual(k.field.text, "Great \(thumbs) see you tomorrow.", "punctuation eats the tap's space")

        // One backspace over an emoji with its skin tone: four units, one deleteBackward().
        k.field.newDocument(traits: .plainText)
        k.field.insertText("ok \(thumbs)")
        k.glue.textDidChange()
        calls = k.field.deleteBackwardCalls
        k.glue.backspace()
        XCTAssertEqual(k.field.text, "ok ")
        XCTAssertEqual(k.field.deleteBackwardCalls - calls, 1)
        // A combining accent goes with its letter.
        k.glue.type("cafe\u{301}")
        k.glue.backspace()
        XCTAssertEqual(k.field.text, "ok caf")

        // A host that gives no context (nil: ""): keys and backspace still edit the field.
        k.field.contextUnavailable = true
        k.glue.textDidChange()
        k.glue.type("s")
        k.glue.backspace()
        XCTAssertEqual(k.field.text, "ok caf")
        k.field.contextUnavailable = false

        // A cursor moved into the text: the controller sees the text before the cursor.
        k.field.newDocument(traits: .plainText)
        k.field.insertText("See you tomorrow")
        k.field.moveCursor(toScalarOffset: 7)
        k.glue.textDidChange()
        k.settle()
        k.glue.type(" s")
        k.settle()
        XCTAssertEqual(k.field.text, "See you s tomorrow")
        XCTAssertEqual(k.field.cursor, 9)
        XCTAssertTrue(k.glue.state.strip.contains { !$0.isEmpty }, "no strip for \"See you s\"")
    }

    func testStatesAreDrawnOnTheUIThreadNewestOnly() throws {
        let k = try Harness()
        let before = k.drawn.count
        for c in "See you tomor" { k.glue.type(String(c)) }
        XCTAssertEqual(k.drawn.count, before, "a state was drawn off the UI thread's queue")
        k.settle()
        XCTAssertEqual(k.glue.state.strip[1], "tomorrow", "\(k.glue.state.strip)")
        XCTAssertEqual(k.drawn.last, k.glue.state)
        XCTAssertFalse(k.glue.state.autoShift)

        // States delivered out of order: the newest is drawn, the older ones are dropped.
        let field = InMemoryTextDocument()
        let ui = LastFirstExecutor()
        let glue = try KeyboardGlue(document: field, deliver: ui.deliver)
        var drawn: [KeyboardState] = []
        glue.onChange = { drawn.append($0) }
        glue.startField()
        glue.type("Hi")
        glue.type(" ")
        XCTAssertTrue(glue.waitIdle())
        XCTAssertEqual(ui.runQueued(), 3, "one state each for startField and the two keys (no model)")
        XCTAssertEqual(drawn.count, 1, "older states drawn after a newer one: \(drawn)")
        XCTAssertEqual(field.text, "Hi ")
        XCTAssertEqual(glue.state.autoShift, false, "the newest state: \"Hi \" is no sentence start")
    }

    func testTraitsMapOntoTheSharedPolicyTable() throws {
        let off = KeyboardFieldPolicy(suggestions: false, autoCapitalize: false)
        let on = KeyboardFieldPolicy(suggestions: true, autoCapitalize: true)
        let cases: [(FieldTraits, KeyboardFieldPolicy)] = [
            (.plainText, on),
            (FieldTraits(keyboardType: .twitter), on),
            (FieldTraits(keyboardType: .namePhonePad), on),
            (FieldTraits(isSecureTextEntry: true), off),
            (FieldTraits(isSecureTextEntry: true, keyboardType: .emailAddress), off),
            (FieldTraits(keyboardType: .numberPad), off),
            (FieldTraits(keyboardType: .decimalPad), off),
            (FieldTraits(keyboardType: .phonePad), off),
            (FieldTraits(keyboardType: .numbersAndPunctuation), off),
            (FieldTraits(keyboardType: .asciiCapableNumberPad), off),
            (FieldTraits(keyboardType: .emailAddress), off),
            (FieldTraits(keyboardType: .url, autocorrectionType: .no), off),
            (FieldTraits(autocorrectionType: .no), KeyboardFieldPolicy(suggestions: false, autoCapitalize: true)),
            (FieldTraits(autocorrectionType: .yes), on),
        ]
        for (traits, policy) in cases {
            XCTAssertEqual(keyboardFieldPolicy(inputType: traits.inputType), policy, "\(traits)")
        }

        // A password field through the glue: keys type, the strip stays empty, no shift.
        let k = try Harness(traits: FieldTraits(isSecureTextEntry: true))
        for c in "Hel" { k.glue.type(String(c)) }
        k.settle()
        XCTAssertEqual(k.field.text, "Hel")
        XCTAssertEqual(k.glue.state.strip, ["", "", ""])
        XCTAssertFalse(k.glue.state.autoShift)
        // New traits on the same document are a new field with their policy.
        k.field.newDocument(traits: .plainText)
        k.glue.textDidChange()
        k.settle()
        XCTAssertTrue(k.glue.state.autoShift, "an empty plain-text field starts a sentence")
    }

    func testLanguageCodesOfTheSetting() throws {
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
        // Every language of the setting is one the shared controller accepts, and reads back.
        let glue = try KeyboardGlue(document: InMemoryTextDocument(), deliver: ManualExecutor().deliver)
        for l in KeyboardLanguage.allCases.dropFirst() {
            XCTAssertTrue(glue.setLanguage(l), "\(l)")
            XCTAssertEqual(glue.language, l)
        }
        XCTAssertFalse(glue.setLanguage(KeyboardLanguage.allCases.last!), "the same language changes nothing")
    }

    func testAStateDirGetsThePredictorsWarmUpAndTheStripIsTheSame() throws {
        let tmp = FileManager.default.temporaryDirectory
            .appendingPathComponent("kbstate-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let stateDir = tmp.appendingPathComponent("KeyboardState", isDirectory: true)
        let plain = try Harness("See you tomor").glue.state.strip
        let warm = try Harness("See you tomor", stateDir: stateDir.path).glue.state.strip
        XCTAssertEqual(plain, warm)
        XCTAssertEqual(warm[1], "tomorrow")
        let saved = try FileManager.default.contentsOfDirectory(atPath: stateDir.path)
        XCTAssertEqual(saved.count, 1, "one warm-up file: \(saved)")
        let size = try FileManager.default.attributesOfItem(
            atPath: stateDir.appendingPathComponent(saved[0]).path)[.size] as? Int ?? 0
        XCTAssertGreaterThan(size, 100_000)
    }
}
