// The keyboard sample as a user meets it, on an iPhone simulator (scripts/ios-ui-test.sh): the
// PocketLM keyboard added in Settings, switched to in the host app's text field, "see you tomor"
// typed on its keys, "tomorrow" tapped in the strip, and the extension's memory footprint read
// after every key. The decisions are the shared Rust KeyboardCore's (tested by `cargo test -p
// pocketlm-ffi keyboard_core` on the real model; its glue by KeyboardGlueTests); this checks the
// extension, its App Group model and the system wiring. Written for Xcode's XCUITest; not compiled on Linux.

import XCTest

final class KeyboardUITests: XCTestCase {
    /// The extension's phys_footprint ceiling while typing. Apple does not publish the keyboard
    /// extension limit; 48 MiB is the lowest figure reported for current iOS versions, so a
    /// footprint under it is safe on every device.
    static let footprintLimitMiB = 48.0

    override func setUp() {
        continueAfterFailure = false
    }

    func testTypeSeeTheStripAndTapASuggestion() throws {
        let app = XCUIApplication()
        app.launch()
        XCTAssertTrue(app.staticTexts["Model installed."].waitForExistence(timeout: 120),
                      "the host app did not install the bundled model into the App Group container")
        addPocketLMKeyboardInSettings()

        app.activate()
        let field = app.textFields["Type here"]
        XCTAssertTrue(field.waitForExistence(timeout: 30))
        field.tap()
        let middleSlot = app.descendants(matching: .button)["pocketlm.strip.1"]
        // Switch keyboards with the system keyboard's globe key until PocketLM's strip shows.
        for _ in 0..<4 where !middleSlot.waitForExistence(timeout: 3) {
            let globe = app.buttons["Next keyboard"]
            if globe.exists { globe.tap() }
        }
        XCTAssertTrue(middleSlot.waitForExistence(timeout: 30), "the PocketLM keyboard did not appear")

        var peak = 0.0
        for c in "see you tomor" {
            tapKey(c == " " ? "space" : String(c), in: app)
            peak = max(peak, footprintMiB(middleSlot))
        }
        XCTAssertEqual(field.value as? String, "See you tomor")

        let tomorrow = app.descendants(matching: .button)
            .matching(NSPredicate(format: "identifier BEGINSWITH 'pocketlm.strip.' AND label == 'tomorrow'")).firstMatch
        XCTAssertTrue(tomorrow.waitForExistence(timeout: 60), "\"tomorrow\" never appeared in the strip")
        tomorrow.tap()
        let expected = NSPredicate(format: "value == 'See you tomorrow '")
        wait(for: [expectation(for: expected, evaluatedWith: field)], timeout: 30)
        peak = max(peak, footprintMiB(middleSlot))

        let attachment = XCTAttachment(string: String(format: "keyboard extension peak phys_footprint while typing: %.1f MiB", peak))
        attachment.lifetime = .keepAlways
        add(attachment)
        XCTAssertGreaterThan(peak, 0, "the extension reported no footprint (a Debug build reports it)")
        XCTAssertLessThan(peak, Self.footprintLimitMiB,
                          "the keyboard extension's footprint reached \(peak) MiB while typing")
    }

    /// Taps PocketLM's key labelled `label` (either case: shift changes the titles).
    private func tapKey(_ label: String, in app: XCUIApplication) {
        let key = app.descendants(matching: .button)
            .matching(NSPredicate(format: "label ==[c] %@ AND NOT (identifier BEGINSWITH 'pocketlm.strip.')", label)).firstMatch
        XCTAssertTrue(key.waitForExistence(timeout: 10), "no key '\(label)'")
        key.tap()
    }

    /// The extension's phys_footprint in MiB: the Debug build puts it in the middle strip slot's
    /// accessibility value ("footprint 23.4 MiB") after every render.
    private func footprintMiB(_ slot: XCUIElement) -> Double {
        guard let value = slot.value as? String,
              let number = value.split(separator: " ").dropFirst().first,
              let mib = Double(number) else { return 0 }
        return mib
    }

    /// Settings › General › Keyboard › Keyboards › Add New Keyboard… › PocketLM (once per
    /// simulator: skipped when PocketLM is listed already).
    private func addPocketLMKeyboardInSettings() {
        let settings = XCUIApplication(bundleIdentifier: "com.apple.Preferences")
        settings.launch()
        settings.staticTexts["General"].tap()
        settings.staticTexts["Keyboard"].tap()
        settings.staticTexts["Keyboards"].tap()
        if !settings.staticTexts["PocketLM"].waitForExistence(timeout: 3) {
            settings.staticTexts.matching(NSPredicate(format: "label BEGINSWITH 'Add New Keyboard'")).firstMatch.tap()
            let entry = settings.staticTexts["PocketLM"]
            XCTAssertTrue(entry.waitForExistence(timeout: 10), "PocketLM is not among the third-party keyboards")
            entry.tap()
        }
        settings.terminate()
    }
}
