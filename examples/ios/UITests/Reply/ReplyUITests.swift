// The reply sample on an iPhone simulator (scripts/ios-ui-test.sh): a message typed into "Add an
// incoming message" and received gets three distinct reply chips. The drafting is the shared
// ReplyCore's (tested in Rust on the real model, its glue by ReplyGlueTests); this checks the SwiftUI
// screen, the bundled model and the XCFramework on the simulator. Not compiled on Linux.

import XCTest

final class ReplyUITests: XCTestCase {
    override func setUp() {
        continueAfterFailure = false
    }

    func testAReceivedMessageGetsThreeChips() {
        let app = XCUIApplication()
        app.launch()
        let incoming = app.textFields["Add an incoming message"]
        XCTAssertTrue(incoming.waitForExistence(timeout: 60))
        incoming.tap()
        incoming.typeText("Can we meet tomorrow at 5?")
        app.buttons["Receive"].tap()

        let chips = app.buttons.matching(identifier: "pocketlm.chip")
        let three = NSPredicate(format: "count == 3")
        wait(for: [expectation(for: three, evaluatedWith: chips)], timeout: 180)
        let labels = (0..<3).map { chips.element(boundBy: $0).label }
        XCTAssertEqual(Set(labels).count, 3, "three distinct chips: \(labels)")
        XCTAssertFalse(labels.contains(""), "an empty chip: \(labels)")
    }
}
