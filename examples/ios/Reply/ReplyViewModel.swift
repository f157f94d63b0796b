// Publishes SampleCore's ReplyController to SwiftUI. The controller runs its model work off the
// main actor and delivers results on the main queue; this object only mirrors its state.

import Foundation
import PocketLM
import SampleCore

@MainActor
final class ReplyViewModel: ObservableObject {
    @Published private(set) var messages: [ReplyController.Message] = []
    @Published private(set) var chips: [String] = []
    @Published private(set) var drafting = false
    @Published private(set) var reason: String?
    @Published private(set) var streaming = false
    @Published private(set) var errorMessage: String?
    /// The "Add to calendar" action offered for the last incoming message.
    @Published private(set) var calendarEvent: CalendarEvent?
    /// The compose field; edits go back to the controller.
    @Published var compose = "" {
        didSet { if compose != controller.compose { controller.editCompose(compose) } }
    }

    private let controller: ReplyController

    /// A canned conversation to start from (incoming messages, oldest first).
    struct CannedConversation: Identifiable {
        let title: String
        let messages: [String]
        var id: String { title }
    }

    static let cannedConversations = [
        CannedConversation(title: "Meeting", messages: ["Hey!", "Can we meet tomorrow at 5?"]),
        CannedConversation(title: "Dinner", messages: ["Are you coming to dinner tonight?"]),
        CannedConversation(title: "Weekend", messages: ["How was your weekend? Tell me everything!"]),
    ]

    /// The model shipped in the app bundle (see project.yml: Resources/).
    static var modelPath: String {
        Bundle.main.path(forResource: "SmolLM2-135M-Instruct.Q4_1", ofType: "gguf") ?? "/missing-model.gguf"
    }

    init() {
        controller = ReplyController(engine: ReplyEngine(modelPath: Self.modelPath), deliver: deliverOnMain)
        // onChange runs on the main queue (a UI call or deliverOnMain); hop onto the main actor.
        controller.onChange = { [weak self] in
            guard let self else { return }
            Task { @MainActor in self.refresh() }
        }
    }

    func receive(_ text: String) { controller.receive(text) }
    func load(_ conversation: [String]) { conversation.forEach(controller.receive) }
    func tapChip(_ index: Int) { controller.tapChip(index) }
    func writeLongerReply() { controller.writeLongerReply() }
    func stop() { controller.stop() }
    func send() { controller.send() }
    /// "Add to calendar" tapped: the event to open the calendar editor with (the action is withdrawn).
    func addToCalendar() -> CalendarEvent? { controller.addToCalendar() }

    private func refresh() {
        messages = controller.messages
        chips = controller.chips
        drafting = controller.drafting
        reason = controller.noSuggestionReason.map(Self.describe)
        streaming = controller.streaming
        errorMessage = controller.errorMessage
        calendarEvent = controller.calendarEvent
        if compose != controller.compose { compose = controller.compose }
    }

    static func describe(_ reason: NoDraftReason) -> String {
        switch reason {
        case .sensitive: return "No suggestions for sensitive topics."
        case .lastMessageIsMine: return "Waiting for their reply."
        case .nothingGood: return "No good suggestion for this message."
        case .automated: return "An automated message: no reply needed."
        case .closing: return "Nothing to answer: they just acknowledged."
        case .noReplyExpected: return "This reads like a message nobody answers."
        }
    }
}
