// The keyboard extension's logic (docs/samples.md#keyboard-controller): keys edit the field at
// once, suggestions are computed on one background worker with conflated requests, and results
// that no longer match the field are dropped. The `UIInputViewController` only forwards events
// here and draws `strip`.

import Foundation
import PocketLM

/// Whether the model can be used yet.
public enum ModelState: Equatable, Sendable {
    case loading
    case ready
    case failed(String)
}

/// The keyboard's state machine. Confined to the thread that owns it (the UI thread): every
/// method is called there, and background work comes back through `deliver`, which runs on that
/// thread too; hence `@unchecked Sendable`.
public final class KeyboardController: @unchecked Sendable {
    /// Text before the cursor the controller asks for (the core bounds its window anyway).
    public static let contextChars = 400
    /// Typing one of these right after the space of a suggestion tap removes that space.
    public static let autoSpacePunctuation: Set<Character> = [".", ",", "!", "?", ";", ":"]

    /// What happened to suggestion results (tests check these; no text is kept).
    public struct Stats: Equatable, Sendable {
        public var modelCalls = 0
        public var applied = 0
        public var dropped = 0
        public var resets = 0
        public var memoryReleases = 0
    }

    /// The three slots, `[second, best, third]`.
    public private(set) var strip = Strip.empty
    public private(set) var modelState = ModelState.loading
    public private(set) var policy: FieldPolicy
    public private(set) var stats = Stats()
    /// Called after `strip` or `modelState` changed (the view redraws).
    public var onChange: (() -> Void)?

    /// The language the predictor is loaded for (the settings' choice, `setLanguage`).
    public private(set) var language: KeyboardLanguage

    public let document: TextDocument
    private let deliver: Deliver
    private var predictor: KeyboardPredictor?
    private let loadPredictor: @Sendable (KeyboardLanguage) async throws -> KeyboardPredictor
    /// Bumped by every load: the result of an older load (another language) is not used.
    private var loadGeneration = 0

    private var documentID: UUID
    /// Bumped on every new field: results of an older field are dropped.
    private var fieldGeneration = 0
    /// The space of the last suggestion tap is still right before the cursor.
    private var autoSpace = false
    /// The text before the cursor as the controller's own last edit left it (to tell the echo
    /// of its own edits from outside changes in `textDidChange`).
    private var ownContext = ""

    private struct Request {
        let text: String
        let field: Int
        let load: Int
    }
    private var running = false
    private var pending: Request?
    private var resetBeforeNext = false
    private var releaseBeforeNext = false

    /// Starts loading the predictor at once (off the calling thread), for English.
    public convenience init(document: TextDocument, deliver: @escaping Deliver,
                            loadPredictor: @escaping @Sendable () async throws -> KeyboardPredictor) {
        self.init(document: document, deliver: deliver, language: .default,
                  loadPredictorFor: { _ in try await loadPredictor() })
    }

    /// Starts loading the predictor for `language` at once (off the calling thread);
    /// `setLanguage` loads it again for another language.
    public init(document: TextDocument, deliver: @escaping Deliver, language: KeyboardLanguage,
                loadPredictorFor: @escaping @Sendable (KeyboardLanguage) async throws -> KeyboardPredictor) {
        self.document = document
        self.deliver = deliver
        self.language = language
        loadPredictor = loadPredictorFor
        documentID = document.documentIdentifier
        policy = FieldPolicy.of(document.traits)
        ownContext = context()
        load()
    }

    /// The user picked `next` in the settings: a different language loads a predictor for it
    /// (keys keep working, suggestions resume when it is ready; the old predictor is released,
    /// and a result it still computes is dropped). Returns whether the language changed.
    @discardableResult
    public func setLanguage(_ next: KeyboardLanguage) -> Bool {
        guard next != language else { return false }
        language = next
        predictor = nil
        pending = nil
        resetBeforeNext = false
        releaseBeforeNext = false
        modelState = .loading
        strip = Strip.empty
        onChange?()
        load()
        return true
    }

    private func load() {
        loadGeneration += 1
        let generation = loadGeneration
        let language = self.language
        let loadPredictor = self.loadPredictor
        let deliver = self.deliver
        Task { [self] in
            do {
                let p = try await loadPredictor(language)
                deliver { self.loaded(.success(p), generation: generation) }
            } catch {
                deliver { self.loaded(.failure(error), generation: generation) }
            }
        }
    }

    /// No load, request or result is outstanding: `strip` is final for the current text.
    public var isIdle: Bool {
        modelState != .loading && !running && pending == nil && !releaseBeforeNext
    }

    /// Shift should be on for the next key: a sentence starts in a field that auto-capitalizes.
    public var autoShift: Bool {
        guard policy.autoCapitalize else { return false }
        let text = context()
        guard text.isEmpty || text.last == " " else { return false }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty || [".", "!", "?"].contains(trimmed.last!)
    }

    // MARK: events

    /// A key typed: inserts `c`; punctuation right after a tap's space replaces that space.
    public func type(_ c: Character) {
        if autoSpace, Self.autoSpacePunctuation.contains(c), context().last == " " {
            document.deleteBackward()
        }
        autoSpace = false
        document.insertText(String(c))
        ownEditDone()
    }

    /// Types each `Character` of `text` as one key.
    public func type(_ text: String) {
        for c in text { type(c) }
    }

    /// Taps slot 0, 1 or 2: replaces the word being typed by the slot's word and one space.
    public func tap(slot: Int) {
        guard strip.indices.contains(slot), !strip[slot].isEmpty, let predictor else { return }
        let before = context()
        guard let edit = try? predictor.accept(before, word: strip[slot]) else { return }
        let deletes = ScalarEditing.deleteBackwardCount(scalars: Int(edit.deleteChars), before: before)
        for _ in 0..<deletes { document.deleteBackward() }
        document.insertText(edit.insert)
        autoSpace = edit.insert.hasSuffix(" ")
        ownEditDone()
    }

    /// Deletes `n` `Character`s before the cursor.
    public func backspace(_ n: Int = 1) {
        for _ in 0..<max(0, n) { document.deleteBackward() }
        autoSpace = false
        ownEditDone()
    }

    /// The host reported a change (iOS `textDidChange`): a new field when the document changed,
    /// an outside edit or cursor move when the text before the cursor is not what the
    /// controller's own last edit left, else the echo of that edit (ignored).
    public func textDidChange() {
        if document.documentIdentifier != documentID {
            startField()
        } else if context() != ownContext || FieldPolicy.of(document.traits) != policy {
            outsideChange()
        }
    }

    /// The cursor moved or the text changed outside the keyboard.
    public func outsideChange() {
        if document.documentIdentifier != documentID { return startField() }
        policy = FieldPolicy.of(document.traits)
        autoSpace = false
        ownContext = context()
        request()
    }

    /// Memory pressure (`didReceiveMemoryWarning`): the predictor drops its caches before its
    /// next call; suggestions keep working.
    public func memoryWarning() {
        guard predictor != nil else { return }
        releaseBeforeNext = true
        startNextIfIdle()
    }

    // MARK: internals

    /// The text before the cursor, at most `contextChars` `Character`s, nil as "".
    private func context() -> String {
        let text = document.documentContextBeforeInput ?? ""
        return text.count > Self.contextChars ? String(text.suffix(Self.contextChars)) : text
    }

    private func ownEditDone() {
        ownContext = context()
        request()
    }

    private func startField() {
        documentID = document.documentIdentifier
        fieldGeneration += 1
        policy = FieldPolicy.of(document.traits)
        autoSpace = false
        ownContext = context()
        pending = nil
        resetBeforeNext = true
        setStrip(Strip.empty)
        request()
    }

    private func loaded(_ result: Result<KeyboardPredictor, Error>, generation: Int) {
        // A newer load (another language) started meanwhile: this predictor is not used.
        guard generation == loadGeneration else { return }
        switch result {
        case .success(let p):
            predictor = p
            modelState = .ready
            onChange?()
            request()
        case .failure(let error):
            modelState = .failed(shortMessage(error))
            onChange?()
        }
    }

    /// Asks for suggestions for the current text; a newer request replaces a waiting one.
    private func request() {
        guard policy.suggestions else {
            pending = nil
            setStrip(Strip.empty)
            return
        }
        guard modelState == .ready else { return }
        pending = Request(text: context(), field: fieldGeneration, load: loadGeneration)
        startNextIfIdle()
    }

    private func startNextIfIdle() {
        guard !running, let predictor, pending != nil || releaseBeforeNext else { return }
        let request = pending
        let reset = resetBeforeNext && request != nil
        let release = releaseBeforeNext
        pending = nil
        if reset { resetBeforeNext = false }
        releaseBeforeNext = false
        running = true
        if request != nil { stats.modelCalls += 1 }
        if reset { stats.resets += 1 }
        if release { stats.memoryReleases += 1 }
        let deliver = self.deliver
        Task { [self] in
            var outcome: Result<[String], Error>?
            do {
                // reset() forgets the previous document's context; releaseMemory() also frees the
                // predictor's caches (the next call rebuilds what it needs).
                if reset { try await predictor.reset() }
                if release { try await predictor.releaseMemory() }
                if let request {
                    outcome = .success(try await predictor.suggest(request.text).map(\.word))
                }
            } catch {
                outcome = .failure(error)
            }
            let result = outcome
            deliver { self.finished(request, result) }
        }
    }

    private func finished(_ request: Request?, _ outcome: Result<[String], Error>?) {
        running = false
        if let request, let outcome {
            if request.field == fieldGeneration, request.load == loadGeneration, request.text == context(),
               policy.suggestions {
                stats.applied += 1
                switch outcome {
                case .success(let words): setStrip(Strip.slots(words))
                case .failure: setStrip(Strip.empty)
                }
            } else {
                stats.dropped += 1
            }
        }
        startNextIfIdle()
    }

    private func setStrip(_ slots: [String]) {
        guard slots != strip else { return }
        strip = slots
        onChange?()
    }
}
