// The Reply app's logic (docs/samples.md#reply-controller): reply chips drafted off the UI
// thread for each incoming message, the draft in flight cancelled by a newer message, and a
// streamed "longer reply" that Stop ends within one token, keeping the partial text.

import Foundation
import PocketLM

/// The model-side objects of the Reply app, created once and shared by all drafts and streams.
public actor ReplyEngine {
    private let loadModel: @Sendable () async throws -> Model
    private var model: Task<Model, Error>?
    private var drafter: Task<ReplyDrafter, Error>?
    private var extractSession: TextSession?

    public init(loadModel: @escaping @Sendable () async throws -> Model) {
        self.loadModel = loadModel
    }

    /// The engine of the model at `path`, loaded through the process's `ModelStore`.
    public init(modelPath path: String, store: ModelStore = .shared) {
        self.init(loadModel: { try await store.model(at: path) })
    }

    public func loadedModel() async throws -> Model {
        if model == nil { model = Task { [loadModel] in try await loadModel() } }
        do {
            return try await model!.value
        } catch {
            model = nil
            throw error
        }
    }

    public func replyDrafter() async throws -> ReplyDrafter {
        if drafter == nil {
            drafter = Task { try await self.loadedModel().replyDrafter() }
        }
        do {
            return try await drafter!.value
        } catch {
            drafter = nil
            throw error
        }
    }

    /// The "Add to calendar" action for an incoming `message` (schema-constrained extraction
    /// on a session of its own), or nil when it names no date, time or place.
    public func extractEvent(_ message: String) async throws -> CalendarEvent? {
        let session: TextSession
        if let s = extractSession {
            session = s
        } else {
            session = try await loadedModel().textSession()
            extractSession = session
        }
        do {
            let e = try await session.generate(CalendarEvent.prompt(message), as: CalendarEvent.Extracted.self,
                                               options: .structured(maxTokens: CalendarEvent.maxTokens))
            return CalendarEvent.fromExtraction(message: message, e)
        } catch StructuredOutputError.incomplete {
            return nil
        }
    }
}

/// The conversation screen's state machine. Confined to the UI thread like `KeyboardGlue`.
public final class ReplyController: @unchecked Sendable {
    public struct Message: Equatable, Sendable {
        public let fromMe: Bool
        public let text: String
        public init(fromMe: Bool, text: String) {
            self.fromMe = fromMe
            self.text = text
        }
    }

    /// What became of each draft (tests check these).
    public enum DraftOutcome: Equatable, Sendable {
        case shown
        /// Superseded by a newer message and cancelled before it finished.
        case cancelled
        /// Finished after a newer message arrived; never shown.
        case discarded
        case failed
    }

    public private(set) var messages: [Message] = []
    /// At most three reply texts, in the core's order.
    public private(set) var chips: [String] = []
    public private(set) var drafting = false
    /// Why there are no chips for the last draft (nil while drafting or when there are chips).
    public private(set) var noSuggestionReason: NoDraftReason?
    /// A short message when the model failed (never user text).
    public private(set) var errorMessage: String?
    public private(set) var compose = ""
    /// The compose field's cursor, in `Character`s.
    public private(set) var composeCursor = 0
    /// True while "Write a longer reply" streams (its button shows Stop).
    public private(set) var streaming = false
    /// The result of the last longer reply once its generation ended (stop reason, tokens).
    public private(set) var lastStreamResult: GenerationResult?
    public private(set) var draftOutcomes: [DraftOutcome] = []
    /// The "Add to calendar" action for the last incoming message (nil: not offered).
    public private(set) var calendarEvent: CalendarEvent?
    /// The last incoming message is being read for an event.
    public private(set) var extractingEvent = false
    /// Called after any state change (the view redraws).
    public var onChange: (() -> Void)?

    private let engine: ReplyEngine
    private let deliver: Deliver
    private let draftOptions: DraftOptions
    private let chatOptions: ChatOptions
    private var draftTask: Task<Void, Never>?
    private var draftGeneration = 0
    private var streamTask: Task<Void, Never>?
    private var streamGeneration = 0
    private var streamTaskRunning = false
    private var eventTask: Task<Void, Never>?
    private var eventGeneration = 0
    private var eventTaskRunning = false
    /// Draft tasks started and not delivered yet (superseded ones included).
    private var draftsInFlight = 0

    /// `draftOptions` default: three chips; `chatOptions` default: longer replies of at most
    /// 160 tokens (its system prompt is replaced by the reply prompt).
    public init(engine: ReplyEngine, deliver: @escaping Deliver,
                draftOptions: DraftOptions? = nil, chatOptions: ChatOptions? = nil) {
        self.engine = engine
        self.deliver = deliver
        self.draftOptions = draftOptions ?? DraftOptions(count: 3)
        self.chatOptions = chatOptions ?? ChatOptions(maxTokens: 160)
    }

    /// No draft or stream is running and nothing is left to deliver.
    public var isIdle: Bool { draftsInFlight == 0 && !streamTaskRunning && !eventTaskRunning }

    // MARK: events

    /// A message arrived: cancels the draft in flight and any stream, clears the chips, drafts
    /// replies to the conversation.
    public func receive(_ text: String) {
        messages.append(Message(fromMe: false, text: text))
        stopStreaming()
        draftTask?.cancel()
        draftGeneration += 1
        chips = []
        noSuggestionReason = nil
        errorMessage = nil
        drafting = true
        draftsInFlight += 1
        let generation = draftGeneration
        let conversation = messages.map { ConversationMessage(fromMe: $0.fromMe, text: $0.text) }
        let (engine, options, deliver) = (self.engine, draftOptions, self.deliver)
        let draft = Task { [self] in
            do {
                let drafts = try await engine.replyDrafter().draft(conversation, options: options)
                deliver { self.draftFinished(generation, .success(drafts)) }
            } catch {
                deliver { self.draftFinished(generation, .failure(error)) }
            }
        }
        draftTask = draft
        startExtraction(text, after: draft)
        onChange?()
    }

    /// "Add to calendar" tapped: returns the event for the app to open its calendar editor
    /// with (iOS: an `EKEventEditViewController`), and withdraws the action. Nil when none is
    /// offered.
    public func addToCalendar() -> CalendarEvent? {
        guard let event = calendarEvent else { return nil }
        calendarEvent = nil
        onChange?()
        return event
    }

    /// A chip tapped: its text fills the compose field, cursor at the end.
    public func tapChip(_ index: Int) {
        guard chips.indices.contains(index) else { return }
        setCompose(chips[index])
        onChange?()
    }

    /// The user edited the compose field.
    public func editCompose(_ text: String) {
        setCompose(text)
    }

    /// "Write a longer reply": streams a chat answer into the compose field (replacing it).
    /// Only when the last message is incoming.
    public func writeLongerReply() {
        guard !streaming, let last = messages.last, !last.fromMe else { return }
        streamGeneration += 1
        let generation = streamGeneration
        streaming = true
        streamTaskRunning = true
        lastStreamResult = nil
        setCompose("")
        let prompt = Self.longReplyPrompt(messages)
        let base = chatOptions
        let options = ChatOptions(systemPrompt: prompt.system, contextLength: base.contextLength,
                                  maxTokens: base.maxTokens, sampling: base.sampling, threads: base.threads)
        let (engine, deliver) = (self.engine, self.deliver)
        streamTask = Task { [self] in
            var failure: Error?
            var result: GenerationResult?
            do {
                let chat = try await engine.loadedModel().chat(options: options)
                do {
                    for try await piece in try chat.send(prompt.user) {
                        deliver { self.streamed(generation, piece) }
                    }
                } catch {
                    failure = error
                }
                result = try await chat.lastResult()
            } catch {
                failure = failure ?? error
            }
            let (end, error) = (result, failure)
            deliver { self.streamEnded(generation, end, error) }
        }
        onChange?()
    }

    /// Stop: cancels the stream (the generation stops within one token) and keeps the text.
    public func stop() {
        stopStreaming()
        onChange?()
    }

    /// Send: the compose text becomes my message; compose and chips are cleared.
    public func send() {
        let text = compose.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return }
        stopStreaming()
        draftTask?.cancel()
        draftGeneration += 1
        drafting = false
        messages.append(Message(fromMe: true, text: text))
        chips = []
        noSuggestionReason = nil
        setCompose("")
        onChange?()
    }

    /// The chat prompt of a longer reply: a fresh chat whose system prompt quotes the earlier
    /// messages (`Them:` / `Me:`), with the last incoming message as the user turn.
    public static func longReplyPrompt(_ messages: [Message]) -> (system: String, user: String) {
        var system = "You write the reply the phone's owner sends next in a text conversation. "
            + "Answer the last message in a few friendly sentences, as the owner, without greetings "
            + "to anyone else."
        let earlier = messages.dropLast()
        if !earlier.isEmpty {
            system += "\nEarlier messages:\n"
                + earlier.map { ($0.fromMe ? "Me: " : "Them: ") + $0.text }.joined(separator: "\n")
        }
        return (system, messages.last?.text ?? "")
    }

    // MARK: internals

    private func setCompose(_ text: String) {
        compose = text
        composeCursor = text.count
    }

    private func stopStreaming() {
        guard streaming else { return }
        streaming = false
        // Cancelling the task that iterates terminates the stream, which cancels the generation.
        streamTask?.cancel()
    }

    /// Reads `message` for an event once its draft has ended (the chips come first); a newer
    /// message cancels it. Replaces the calendar action.
    private func startExtraction(_ message: String, after draft: Task<Void, Never>) {
        eventTask?.cancel()
        eventGeneration += 1
        let generation = eventGeneration
        calendarEvent = nil
        extractingEvent = true
        eventTaskRunning = true
        let (engine, deliver) = (self.engine, self.deliver)
        eventTask = Task { [self] in
            await draft.value
            var event: CalendarEvent?
            if !Task.isCancelled {
                event = try? await engine.extractEvent(message)
            }
            let found = event
            deliver { self.extractionEnded(generation, found) }
        }
    }

    private func extractionEnded(_ generation: Int, _ event: CalendarEvent?) {
        guard generation == eventGeneration else { return }
        eventTaskRunning = false
        extractingEvent = false
        calendarEvent = event
        onChange?()
    }

    private func draftFinished(_ generation: Int, _ result: Result<ReplyDrafts, Error>) {
        draftsInFlight -= 1
        guard generation == draftGeneration, drafting else {
            if case .failure(let error) = result, error is CancellationError {
                draftOutcomes.append(.cancelled)
            } else {
                draftOutcomes.append(.discarded)
            }
            return
        }
        drafting = false
        switch result {
        case .success(let drafts):
            chips = Array(drafts.replies.prefix(3).map(\.text))
            noSuggestionReason = chips.isEmpty ? drafts.noDraftReason : nil
            draftOutcomes.append(.shown)
        case .failure(let error):
            errorMessage = shortMessage(error)
            draftOutcomes.append(.failed)
        }
        onChange?()
    }

    private func streamed(_ generation: Int, _ piece: String) {
        // After Stop the text stays as it was when Stop was pressed.
        guard generation == streamGeneration, streaming else { return }
        setCompose(compose + piece)
        onChange?()
    }

    private func streamEnded(_ generation: Int, _ result: GenerationResult?, _ error: Error?) {
        guard generation == streamGeneration else { return }
        streamTaskRunning = false
        streaming = false
        lastStreamResult = result
        if let error, !(error is CancellationError) { errorMessage = shortMessage(error) }
        onChange?()
    }
}
