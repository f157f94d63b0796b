// The reply screen's "Add to calendar" action: an event read out of an incoming message by
// schema-constrained extraction (docs/samples.md#reply-controller).

import Foundation
import PocketLM

/// An event named by a message. Fields are in the message's own words; nil when it does not say.
public struct CalendarEvent: Equatable, Sendable {
    public let title: String?
    public let date: String?
    public let time: String?
    public let place: String?

    public init(title: String?, date: String?, time: String?, place: String?) {
        self.title = title
        self.date = date
        self.time = time
        self.place = place
    }

    /// What the extraction generates: one JSON object of `calendarSchema`.
    public struct Extracted: StructuredOutput, Equatable, Sendable {
        public var title: String?
        public var date: String?
        public var time: String?
        public var place: String?

        public init(title: String?, date: String?, time: String?, place: String?) {
            self.title = title
            self.date = date
            self.time = time
            self.place = place
        }

        /// tests/fixtures/calendar-schema.json (a test keeps them equal).
        public static let jsonSchema = #"{"type":"object","properties":{"title":{"type":["string","null"],"maxLength":40},"date":{"type":["string","null"],"maxLength":40},"time":{"type":["string","null"],"maxLength":40},"place":{"type":["string","null"],"maxLength":60}},"required":["title","date","time","place"],"additionalProperties":false}"#
    }

    /// The extraction's instruction (the one `pocketlm eval-extract` measures).
    public static let extractPrompt = "Extract the event from this message as JSON with the keys title, date, time and place. "
        + "Copy date, time and place in the message's own words; use null for anything the message does not say."

    /// Most tokens of an extraction.
    public static let maxTokens: Int32 = 96

    public static func prompt(_ message: String) -> String { "\(extractPrompt)\n\nMessage: \(message)" }

    /// The action for `message` from the extraction, or nil when there is none to offer. A small
    /// model invents dates and places a message never names, so a date, time or place counts
    /// only when it is quoted from the message (case and spacing aside); the action is offered
    /// when at least one of them is. The title is the model's (or the place's when it has none).
    public static func fromExtraction(message: String, _ e: Extracted) -> CalendarEvent? {
        func quoted(_ v: String?) -> String? {
            guard let v = v?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty,
                  norm(message).contains(norm(v)) else { return nil }
            return v
        }
        let (date, time, place) = (quoted(e.date), quoted(e.time), quoted(e.place))
        if date == nil && time == nil && place == nil { return nil }
        let title = e.title?.trimmingCharacters(in: .whitespacesAndNewlines)
        return CalendarEvent(title: (title?.isEmpty ?? true) ? place : title, date: date, time: time, place: place)
    }

    /// The action button's label: "Add to calendar: " and the title, date and time it has.
    public var actionLabel: String {
        "Add to calendar: " + [title, date, time].compactMap { $0 }.joined(separator: " · ")
    }

    /// Date and time as the message says them ("Friday, 7pm"; nil when it names neither), for
    /// the calendar editor's notes: they are not parsed into a date.
    public var whenText: String? {
        let parts = [date, time].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    static func norm(_ s: String) -> String {
        s.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
