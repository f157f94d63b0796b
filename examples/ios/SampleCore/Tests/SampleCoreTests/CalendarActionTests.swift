// The reply screen's "Add to calendar" action: the extraction schema is the fixture's, the
// action's rule on hand-written extraction outputs, and the controller on the real SmolLM2.

import Foundation
import PocketLM
import SampleCore
import XCTest

final class CalendarActionTests: XCTestCase {
    private func norm(_ s: String) -> String {
        s.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    // The schema is tests/fixtures/calendar-schema.json: the Kotlin suite's CalendarActionTest
    // checks this file's literal (the Swift suite runs on a mirror without the fixtures).

    func testFieldsCountOnlyWhenQuotedFromTheMessage() {
        typealias X = CalendarEvent.Extracted
        let msg = "Dinner at Luigi's on Friday at 7pm?"
        XCTAssertEqual(
            CalendarEvent.fromExtraction(message: msg, X(title: "Dinner at Luigi's", date: "friday", time: "7pm", place: "Luigi's")),
            CalendarEvent(title: "Dinner at Luigi's", date: "friday", time: "7pm", place: "Luigi's"))
        // An invented time is dropped; the rest stays.
        XCTAssertEqual(
            CalendarEvent.fromExtraction(message: msg, X(title: "Dinner", date: "Friday", time: "11:30am", place: nil)),
            CalendarEvent(title: "Dinner", date: "Friday", time: nil, place: nil))
        // Nothing quoted: no action.
        XCTAssertNil(CalendarEvent.fromExtraction(message: "can you call me back?",
                                                  X(title: "Call", date: "2022-01-01", time: "10:00", place: "Paris")))
        XCTAssertNil(CalendarEvent.fromExtraction(message: msg, X(title: nil, date: nil, time: nil, place: nil)))
        // No title: the place names it.
        XCTAssertEqual(
            CalendarEvent.fromExtraction(message: "quiz at the Fox", X(title: nil, date: nil, time: nil, place: "the Fox")),
            CalendarEvent(title: "the Fox", date: nil, time: nil, place: "the Fox"))
    }

    func testActionLabelAndWhenText() {
        let e = CalendarEvent(title: "Dinner", date: "Friday", time: "7pm", place: "Luigi's")
        XCTAssertEqual(e.actionLabel, "Add to calendar: Dinner · Friday · 7pm")
        XCTAssertEqual(e.whenText, "Friday, 7pm")
        let place = CalendarEvent(title: "the Fox", date: nil, time: nil, place: "the Fox")
        XCTAssertEqual(place.actionLabel, "Add to calendar: the Fox")
        XCTAssertNil(place.whenText)
    }

    private func assertQuoted(_ message: String, _ e: CalendarEvent, file: StaticString = #filePath, line: UInt = #line) {
        let fields = [e.date, e.time, e.place].compactMap { $0 }
        XCTAssertFalse(fields.isEmpty, "\(e)", file: file, line: line)
        for f in fields {
            XCTAssertTrue(norm(message).contains(norm(f)), "\(f) is not in \"\(message)\" (\(e))", file: file, line: line)
        }
    }

    func testAMessageNamingATimeAndPlaceOffersAddToCalendar() async throws {
        let r = ReplyHarness()
        let msg = "Dinner at Luigi's on Friday at 7pm?"
        r.controller.receive(msg)
        XCTAssertTrue(r.controller.extractingEvent)
        XCTAssertNil(r.controller.calendarEvent)
        try await r.settle()
        XCTAssertFalse(r.controller.extractingEvent)
        XCTAssertFalse(r.controller.drafting)
        let event = try XCTUnwrap(r.controller.calendarEvent)
        assertQuoted(msg, event)
        XCTAssertEqual(r.controller.addToCalendar(), event)
        XCTAssertNil(r.controller.calendarEvent)
        XCTAssertNil(r.controller.addToCalendar())
    }

    func testANewerMessageReplacesTheExtractionInFlight() async throws {
        let r = ReplyHarness()
        r.controller.receive("Are you free on Saturday?")
        let second = "Team lunch at the Thai place on Monday at noon."
        r.controller.receive(second)
        try await r.settle()
        let event = try XCTUnwrap(r.controller.calendarEvent)
        assertQuoted(second, event)
        // My own message does not withdraw the action for the last incoming one.
        r.controller.editCompose("ok")
        r.controller.send()
        XCTAssertEqual(r.controller.calendarEvent, event)
    }
}
