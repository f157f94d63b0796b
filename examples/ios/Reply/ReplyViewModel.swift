// Publishes the shared reply controller (Rust's ReplyCore through SampleCore's ReplyGlue) to
// SwiftUI. The controller runs its model work on its own worker; the glue delivers its states on
// the main queue; this object only mirrors them.

import Foundation
import PocketLM
import SampleCore

@MainActor
final class ReplyViewModel: ObservableObject {
    @Published private(set) var state: ReplyCoreState?
    /// The compose field; edits go back to the controller.
    @Published var compose = "" {
        didSet { if compose != glue?.state.compose { glue?.editCompose(compose) } }
    }

    private var glue: ReplyGlue?

    var messages: [ConversationMessage] { state?.messages ?? [] }
    var chips: [String] { state?.chips ?? [] }
    var drafting: Bool { state?.drafting ?? false }
    var reason: String? { state?.noDraftReason.map(Self.describe) }
    var streaming: Bool { state?.streaming ?? false }
    var errorMessage: String? {
        if case .failed(let message, _) = state?.modelState { return message }
        return state?.errorMessage
    }
    var canWriteLonger: Bool { state?.canWriteLonger ?? false }
    /// The "Add to calendar" action offered for the last incoming message.
    var calendarEvent: CalendarEvent? { state?.calendarEvent }

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

    /// Where the drafter keeps its warm-up (Application Support): the next launch skips it.
    static var stateDir: String? {
        FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask).first?
            .appendingPathComponent("ReplyState", isDirectory: true).path
    }

    /// Where the model's interleaved copy (faster decode) is written once (Caches: the system
    /// may purge it; the next launch writes it again).
    static var layoutCacheDir: String? {
        FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask).first?
            .appendingPathComponent("LayoutCache", isDirectory: true).path
    }

    init() {
        glue = try? ReplyGlue(deliver: deliverOnMain)
        // onChange runs on the main queue (deliverOnMain); hop onto the main actor.
        glue?.onChange = { [weak self] s in
            Task { @MainActor in self?.refresh(s) }
        }
        glue?.loadModel(path: Self.modelPath, stateDir: Self.stateDir, layoutCacheDir: Self.layoutCacheDir)
    }

    func receive(_ text: String) { glue?.receive(text) }
    func load(_ conversation: [String]) {
        glue?.showConversation(conversation.map { ConversationMessage(fromMe: false, text: $0) })
    }
    func tapChip(_ index: Int) { glue?.tapChip(index) }
    func writeLongerOrStop() { glue?.writeLongerOrStop() }
    func send() { glue?.send() }
    /// "Add to calendar" tapped: the event to open the calendar editor with (the action is withdrawn).
    func addToCalendar() -> CalendarEvent? { glue?.addToCalendar() }

    private func refresh(_ s: ReplyCoreState) {
        state = s
        if compose != s.compose { compose = s.compose }
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
