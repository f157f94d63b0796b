// The idiomatic Swift layer over the generated module (PocketLMFFI): `async throws` functions
// that run the blocking native calls off the caller's thread, `AsyncThrowingStream` streaming
// whose termination cancels the generation, `Sendable` types.

import Foundation
import PocketLMFFI
#if canImport(os)
import os
#endif

// Records, enums and the error type come straight from the generated module.
public typealias ModelInfo = PocketLMFFI.ModelInfo
public typealias LayoutCacheStatus = PocketLMFFI.LayoutCacheStatus
public typealias AdapterPrecision = PocketLMFFI.AdapterPrecision
public typealias PocketLmError = PocketLMFFI.PocketLmError
public typealias SamplingOptions = PocketLMFFI.SamplingOptions
public typealias GenerationOptions = PocketLMFFI.GenerationOptions
public typealias GenerationResult = PocketLMFFI.GenerationResult
public typealias GenerationTask = PocketLMFFI.GenerationTask
public typealias CancelToken = PocketLMFFI.CancelToken
public typealias StopReason = PocketLMFFI.StopReason
public typealias SessionOptions = PocketLMFFI.SessionOptions
public typealias ChatOptions = PocketLMFFI.ChatOptions
public typealias ChatMessage = PocketLMFFI.ChatMessage
public typealias ChatRole = PocketLMFFI.ChatRole
public typealias KeyboardOptions = PocketLMFFI.KeyboardOptions
public typealias KeyboardProfile = PocketLMFFI.KeyboardProfile
public typealias Suggestion = PocketLMFFI.Suggestion
public typealias SuggestionKind = PocketLMFFI.SuggestionKind
public typealias TextEdit = PocketLMFFI.TextEdit
public typealias FieldKind = PocketLMFFI.FieldKind
public typealias LearnOutcome = PocketLMFFI.LearnOutcome
public typealias UserWord = PocketLMFFI.UserWord
public typealias UserWordSource = PocketLMFFI.UserWordSource
public typealias DrafterOptions = PocketLMFFI.DrafterOptions
public typealias DraftOptions = PocketLMFFI.DraftOptions
public typealias ConversationMessage = PocketLMFFI.ConversationMessage
public typealias ReplyDraft = PocketLMFFI.ReplyDraft
public typealias ReplyDrafts = PocketLMFFI.ReplyDrafts
public typealias NoDraftReason = PocketLMFFI.NoDraftReason
public typealias Tone = PocketLMFFI.Tone
public typealias LogLevel = PocketLMFFI.LogLevel

// The keyboard samples' shared controller (rust/pocketlm-ffi/src/keyboard_core, docs/samples.md):
// the generated object and its records as they are; the glue lives in the samples.
public typealias KeyboardCore = PocketLMFFI.KeyboardCore
public typealias KeyboardCoreObserver = PocketLMFFI.KeyboardCoreObserver
public typealias KeyboardCoreState = PocketLMFFI.KeyboardCoreState
public typealias KeyboardModelStatus = PocketLMFFI.KeyboardModelStatus
public typealias KeyboardFieldPolicy = PocketLMFFI.KeyboardFieldPolicy
public typealias FieldEdit = PocketLMFFI.FieldEdit

// The reply sample's shared controller (rust/pocketlm-ffi/src/reply_core, docs/samples.md), the
// same way.
public typealias ReplyCore = PocketLMFFI.ReplyCore
public typealias ReplyCoreObserver = PocketLMFFI.ReplyCoreObserver
public typealias ReplyCoreState = PocketLMFFI.ReplyCoreState
public typealias ReplyModelStatus = PocketLMFFI.ReplyModelStatus
public typealias CalendarEvent = PocketLMFFI.CalendarEvent

/// UTF-16 units of text before the cursor `KeyboardCore` keeps (pass no more).
public func keyboardContextUnits() -> UInt32 { PocketLMFFI.keyboardContextUnits() }

/// The shared field-policy table's row for a raw Android `inputType` (iOS: the value its text
/// traits map to, docs/samples.md).
public func keyboardFieldPolicy(inputType: UInt32) -> KeyboardFieldPolicy {
    PocketLMFFI.keyboardFieldPolicy(inputType: inputType)
}

/// Library-wide information.
public enum PocketLM {
    /// The native library's version.
    public static var version: String { pocketlmVersion() }

    /// Sends PocketLM's diagnostics to the unified log (`os.Logger`, subsystem `dev.pocketlm`,
    /// one category per PocketLM module; Console.app or `log stream --predicate
    /// 'subsystem == "dev.pocketlm"'`) at `level` and above: the kernel tier, each model load
    /// (time, mapped and anonymous bytes), a chat template falling back, a model file changed on
    /// disk, a keystroke over its time budget. Never any text the user typed or received, so the
    /// messages are logged as public. Where there is no unified log (Linux), standard error.
    /// Nothing is logged until this is called; calling again changes the level. Returns false
    /// when another Rust library in the process installed its logger first.
    @discardableResult
    public static func enableLogging(level: LogLevel = .warn) -> Bool {
        initLoggingTo(level: level, sink: UnifiedLogSink())
    }
}

/// Writes PocketLM's records to the unified log (stderr where there is none).
final class UnifiedLogSink: LogSink, @unchecked Sendable {
    func log(level: LogLevel, target: String, message: String) {
        #if canImport(os)
        let type: OSLogType
        switch level {
        case .off: return
        case .error: type = .error
        case .warn: type = .default
        case .info: type = .info
        case .debug, .trace: type = .debug
        }
        Logger(subsystem: "dev.pocketlm", category: target).log(level: type, "\(message, privacy: .public)")
        #else
        if level == .off { return }
        FileHandle.standardError.write(Data("[PocketLM \(level) \(target)] \(message)\n".utf8))
        #endif
    }
}

/// Thrown when an object is used after `close()`.
public struct ClosedError: Error, LocalizedError, Sendable {
    public let object: String
    public var errorDescription: String? { "\(object) is closed" }
}

/// Runs blocking native work on a global queue and resumes the caller with its result, so
/// neither the main actor nor the cooperative thread pool is blocked while the model computes.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try work() })
        }
    }
}

/// A reference to a native object that can be closed any number of times.
final class NativeRef<T: AnyObject & Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var object: T?
    private let name: String

    init(_ object: T, name: String) {
        self.object = object
        self.name = name
    }

    /// The object; throws `ClosedError` once closed.
    func get() throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let object else { throw ClosedError(object: name) }
        return object
    }

    var isClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return object == nil
    }

    func close() {
        lock.lock()
        object = nil
        lock.unlock()
    }
}

/// Forwards generated text into a stream's continuation; stops the generation once the stream
/// has terminated.
final class StreamListener: TextListener {
    let continuation: AsyncThrowingStream<String, Error>.Continuation

    init(_ continuation: AsyncThrowingStream<String, Error>.Continuation) {
        self.continuation = continuation
    }

    func onText(delta: String) -> Bool {
        if case .terminated = continuation.yield(delta) { return false }
        return true
    }
}

final class IgnoreText: TextListener {
    func onText(delta: String) -> Bool { true }
}

/// A stream of generated text: iterating starts nothing extra (the generation is already
/// running), breaking out of the loop or cancelling the consuming task cancels it.
func textStream(_ start: @Sendable (TextListener) throws -> GenerationTask) -> AsyncThrowingStream<String, Error> {
    AsyncThrowingStream { continuation in
        let task: GenerationTask
        do {
            task = try start(StreamListener(continuation))
        } catch {
            continuation.finish(throwing: error)
            return
        }
        continuation.onTermination = { _ in task.cancel() }
        Task {
            do {
                _ = try await task.result()
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }
}

/// Runs a generation to its end; cancelling the calling task cancels it.
func runToEnd(_ start: @escaping @Sendable (TextListener) throws -> GenerationTask) async throws -> GenerationResult {
    let task = try await offload { try start(IgnoreText()) }
    return try await withTaskCancellationHandler {
        try await task.result()
    } onCancel: {
        task.cancel()
    }
}

/// A GGUF model, memory-mapped read-only. Cheap to share across tasks and threads: every
/// predictor, drafter and session made from it keeps it alive, so closing (or releasing) the
/// `Model` while they are in use is safe.
///
/// ```swift
/// let model = try await Model.load(path: url.path)
/// print(try model.info.parameterCount)
/// ```
public final class Model: Sendable {
    private let ref: NativeRef<PocketLMFFI.Model>

    private init(_ ffi: PocketLMFFI.Model) {
        ref = NativeRef(ffi, name: "Model")
    }

    /// Maps the model file at `path` off the calling thread.
    /// - Throws: `PocketLmError.ModelNotFound` (missing or unreadable file),
    ///   `PocketLmError.InvalidModel` (corrupt or unsupported).
    public static func load(path: String) async throws -> Model {
        try await offload { Model(try PocketLMFFI.Model.load(path: path)) }
    }

    /// `load(path:)` through a layout cache in `layoutCache` (the app's Caches directory): the
    /// first load writes a copy of the model with its weights interleaved for the decode
    /// kernels (as much disk as the model, about as long as reading it once), later loads map
    /// that copy (faster decode, the same outputs). A cache that cannot be used never fails the
    /// load: `layoutCacheStatus` says why the original file runs.
    /// - Throws: `PocketLmError.ModelNotFound` (missing or unreadable file),
    ///   `PocketLmError.InvalidModel` (corrupt or unsupported).
    public static func load(path: String, layoutCache: URL) async throws -> Model {
        try await offload {
            Model(try PocketLMFFI.Model.loadWithLayoutCache(path: path, cacheDir: layoutCache.path))
        }
    }

    /// What the layout cache did at load (`.notRequested` for `load(path:)`).
    public var layoutCacheStatus: LayoutCacheStatus {
        get throws { try ref.get().layoutCache() }
    }

    /// Architecture, parameter count, quantization, context length, ...
    public var info: ModelInfo {
        get throws { try ref.get().info() }
    }

    public var path: String {
        get throws { try ref.get().path() }
    }

    /// Tokens `text` takes as a prompt.
    public func countTokens(_ text: String) async throws -> Int {
        let m = try ref.get()
        return Int(try await offload { try m.countTokens(text: text) })
    }

    /// A keyboard suggestion engine on this model.
    public func keyboardPredictor(options: KeyboardOptions = KeyboardOptions()) async throws -> KeyboardPredictor {
        let m = try ref.get()
        return KeyboardPredictor(try await offload { try PocketLMFFI.KeyboardPredictor(model: m, options: options) })
    }

    /// A keyboard suggestion engine that keeps its framing prefix's warm-up in `stateDir` (a
    /// keyboard extension's App Group container): the first predictor evaluates it and saves it
    /// there, later ones (the extension starts afresh) load it. The suggestions are the same
    /// either way; a bad or stale file is rewritten (docs/state.md).
    public func keyboardPredictor(options: KeyboardOptions = KeyboardOptions(), stateDir: String) async throws -> KeyboardPredictor {
        let m = try ref.get()
        return KeyboardPredictor(try await offload {
            try PocketLMFFI.KeyboardPredictor.withStateDir(model: m, options: options, stateDir: stateDir)
        })
    }

    /// A reply drafter on this model.
    public func replyDrafter(options: DrafterOptions = DrafterOptions()) async throws -> ReplyDrafter {
        let m = try ref.get()
        return ReplyDrafter(try await offload { try PocketLMFFI.ReplyDrafter(model: m, options: options) })
    }

    /// A reply drafter that keeps each tone's warm-up in `stateDir` (e.g. the App Group
    /// container): the first drafter evaluates it and saves it there, later ones (after a
    /// restart) load it in tens of milliseconds instead of seconds. A bad or stale file is
    /// rewritten (docs/state.md).
    public func replyDrafter(options: DrafterOptions = DrafterOptions(), stateDir: String) async throws -> ReplyDrafter {
        let m = try ref.get()
        return ReplyDrafter(try await offload {
            try PocketLMFFI.ReplyDrafter.withStateDir(model: m, options: options, stateDir: stateDir)
        })
    }

    /// A plain text generation session on this model.
    public func textSession(options: SessionOptions = SessionOptions()) async throws -> TextSession {
        let m = try ref.get()
        return TextSession(try await offload { try PocketLMFFI.TextSession(model: m, options: options) })
    }

    /// A chat on this model, using its chat template.
    public func chat(options: ChatOptions = ChatOptions()) async throws -> Chat {
        let m = try ref.get()
        return Chat(try await offload { try PocketLMFFI.ChatSession(model: m, options: options) })
    }

    /// A chat restored from the file `Chat.saveState(path:)` wrote with this model file: its
    /// history and its KV cache, so it answers exactly as the saved chat would have
    /// (docs/state.md). Throws `PocketLmError.InvalidSnapshot` (missing, damaged, another model)
    /// or `.ContextFull`.
    public func restoreChat(path: String, options: ChatOptions = ChatOptions()) async throws -> Chat {
        let m = try ref.get()
        return Chat(try await offload {
            try PocketLMFFI.ChatSession.restore(model: m, options: options, path: path)
        })
    }

    /// Loads the LoRA adapter file at `path` (llama.cpp's GGUF format, docs/adapters.md) for
    /// this model, off the calling thread: it is checked against the model and copied into
    /// memory (about the file's size). Attach it to sessions with `TextSession.attachAdapter`.
    /// `precision: .f16` holds an F32 adapter's matrices as F16: half the memory and faster
    /// decode, the products of the adapter converted to F16.
    /// - Throws: `PocketLmError.ModelNotFound` (missing or unreadable file),
    ///   `PocketLmError.InvalidModel` (not a LoRA adapter for this model; the message names the
    ///   tensor that does not fit).
    public func loadAdapter(
        path: String, precision: AdapterPrecision = .asFile
    ) async throws -> LoraAdapter {
        let m = try ref.get()
        return LoraAdapter(try await offload {
            try PocketLMFFI.LoraAdapter.loadWithPrecision(model: m, path: path, precision: precision)
        })
    }

    public var isClosed: Bool { ref.isClosed }

    /// Releases this reference now instead of at deinit (objects made from the model keep
    /// working). Idempotent.
    public func close() { ref.close() }
}

/// A LoRA adapter loaded for one `Model` (`Model.loadAdapter(path:)`): attach it to any number
/// of that model's sessions, each with its own scale; sessions without it run the plain model.
///
/// ```swift
/// let adapter = try await model.loadAdapter(path: url.path)
/// try await session.attachAdapter(adapter, scale: 1)
/// ```
public final class LoraAdapter: Sendable {
    private let ref: NativeRef<PocketLMFFI.LoraAdapter>

    /// `general.name` of the adapter file, or its file name.
    public let name: String
    /// The largest rank of its matrices.
    public let rank: Int
    /// How many of the model's matrices it updates.
    public let matrixCount: Int
    /// Bytes of memory its matrices hold.
    public let sizeBytes: Int64

    init(_ ffi: PocketLMFFI.LoraAdapter) {
        ref = NativeRef(ffi, name: "LoraAdapter")
        name = ffi.name()
        rank = Int(ffi.rank())
        matrixCount = Int(ffi.matrixCount())
        sizeBytes = ffi.sizeBytes()
    }

    func ffiAdapter() throws -> PocketLMFFI.LoraAdapter { try ref.get() }

    public var isClosed: Bool { ref.isClosed }

    /// Releases this reference now instead of at deinit (sessions it is attached to keep
    /// applying it). Idempotent.
    public func close() { ref.close() }
}

/// Suggestions for a keyboard's three-slot strip: next words, completions and corrections.
///
/// ```swift
/// let strip = try await predictor.suggest("See you tomor")   // ["tomorrow", ...]
/// ```
public final class KeyboardPredictor: Sendable {
    private let ref: NativeRef<PocketLMFFI.KeyboardPredictor>

    init(_ ffi: PocketLMFFI.KeyboardPredictor) {
        ref = NativeRef(ffi, name: "KeyboardPredictor")
    }

    /// Up to `maxSuggestions` distinct words for the text before the cursor, best first.
    public func suggest(_ textBeforeCursor: String) async throws -> [Suggestion] {
        let k = try ref.get()
        return try await offload { try k.suggest(textBeforeCursor: textBeforeCursor) }
    }

    /// How to apply `word`: delete `deleteChars` characters before the cursor, insert `insert`.
    public func accept(_ textBeforeCursor: String, word: String) throws -> TextEdit {
        try ref.get().accept(textBeforeCursor: textBeforeCursor, word: word)
    }

    /// Forgets the cached text (call when the keyboard moves to another field).
    public func reset() async throws {
        let k = try ref.get()
        try await offload { try k.reset() }
    }

    /// Whether the framing's first warm-up was loaded from the state directory (nil: no call
    /// yet, or none).
    public func warmStarted() throws -> Bool? {
        try ref.get().warmStarted()
    }

    /// Frees the predictor's caches on memory pressure (call it from
    /// `didReceiveMemoryWarning`); it keeps working, the next suggestion re-evaluates what it
    /// needs. Waits for a call in progress.
    public func releaseMemory() async throws {
        let k = try ref.get()
        try await offload { try k.releaseMemory() }
    }

    // The user dictionary: words offered beside the model's (names, slang), added by the app or
    // learned from typing. The app stores it: `exportUserWords()` gives the bytes,
    // `importUserWords(_:)` reads them back on the next start (the SDK writes no files).

    /// Adds `word` (offered from now on, never decays). Throws `InvalidArgument` for a word
    /// that is not one (spaces, no letters, too long), `UserDictionaryFull` when only added
    /// words are left and there is no room.
    public func addUserWord(_ word: String) throws {
        try ref.get().addUserWord(word: word)
    }

    /// Removes `word` (any case); whether it was there.
    @discardableResult
    public func removeUserWord(_ word: String) throws -> Bool {
        try ref.get().removeUserWord(word: word)
    }

    /// The words the dictionary offers now, sorted.
    public func userWords() throws -> [UserWord] {
        try ref.get().userWords()
    }

    /// Forgets every user word and every count.
    public func clearUserWords() throws {
        try ref.get().clearUserWords()
    }

    /// The dictionary as bytes for the app to store.
    public func exportUserWords() throws -> Data {
        try ref.get().exportUserWords()
    }

    /// Replaces the dictionary with bytes from `exportUserWords()`; the number of words read.
    /// Throws `InvalidUserDictionary` for bytes that are not a dictionary (nothing changes).
    @discardableResult
    public func importUserWords(_ bytes: Data) throws -> Int {
        Int(try ref.get().importUserWords(bytes: bytes))
    }

    /// Learns from `word`, typed in full (not picked from the strip) after `textBeforeWord` in
    /// a field of kind `field`: a word the model would not have offered, typed twice, becomes a
    /// user word. Password and no-suggestion fields are never learned from. Costs about one
    /// `suggest`.
    @discardableResult
    public func learnTypedWord(_ word: String, after textBeforeWord: String,
                               field: FieldKind = .text) async throws -> LearnOutcome {
        let k = try ref.get()
        return try await offload { try k.learnTypedWord(textBeforeWord: textBeforeWord, word: word, field: field) }
    }

    public func close() { ref.close() }
}

/// Short reply suggestions for a message just received (or none, with a reason, when nothing
/// fits or the topic is sensitive).
///
/// ```swift
/// let drafts = try await drafter.draft(replyingTo: "Are you coming to dinner tonight?")
/// ```
public final class ReplyDrafter: Sendable {
    private let ref: NativeRef<PocketLMFFI.ReplyDrafter>

    init(_ ffi: PocketLMFFI.ReplyDrafter) {
        ref = NativeRef(ffi, name: "ReplyDrafter")
    }

    /// Drafts replies to the last message of `conversation` (oldest first). Cancelling the
    /// calling task cancels the native draft (it stops within one decode step and the drafter
    /// stays usable) and throws `CancellationError`.
    public func draft(_ conversation: [ConversationMessage], options: DraftOptions = DraftOptions()) async throws -> ReplyDrafts {
        let d = try ref.get()
        let token = CancelToken()
        do {
            return try await withTaskCancellationHandler {
                try await offload { try d.draft(conversation: conversation, options: options, cancel: token) }
            } onCancel: {
                token.cancel()
            }
        } catch PocketLmError.Cancelled {
            throw CancellationError()
        }
    }

    /// Drafts replies to one incoming message.
    public func draft(replyingTo message: String, options: DraftOptions = DraftOptions()) async throws -> ReplyDrafts {
        try await draft([ConversationMessage(fromMe: false, text: message)], options: options)
    }

    /// Prepares the prompt of `tone` so the first draft is fast.
    public func warmUp(tone: Tone = .neutral) async throws {
        let d = try ref.get()
        try await offload { try d.warmUp(tone: tone) }
    }

    /// Whether `tone`'s warm-up was loaded from the state directory (nil: not warmed up yet).
    public func warmStarted(tone: Tone = .neutral) throws -> Bool? {
        try ref.get().warmStarted(tone: tone)
    }

    public func close() { ref.close() }
}

/// Text generation with a KV cache. Generations on one session run one at a time (a second one
/// waits for the first); use one session per concurrent generation.
///
/// ```swift
/// for try await piece in try session.generate("Once upon a time") { print(piece, terminator: "") }
/// ```
public final class TextSession: Sendable {
    private let ref: NativeRef<PocketLMFFI.TextSession>

    init(_ ffi: PocketLMFFI.TextSession) {
        ref = NativeRef(ffi, name: "TextSession")
    }

    /// Streams the text generated after `prompt`. Breaking out of the loop, or cancelling the
    /// task that iterates, cancels the generation; errors are thrown by the iteration.
    public func generate(_ prompt: String, options: GenerationOptions = GenerationOptions()) throws -> AsyncThrowingStream<String, Error> {
        let s = try ref.get()
        return textStream { try s.generate(prompt: prompt, options: options, listener: $0) }
    }

    /// Generates after `prompt` and returns the whole result.
    public func complete(_ prompt: String, options: GenerationOptions = GenerationOptions()) async throws -> GenerationResult {
        let s = try ref.get()
        return try await runToEnd { try s.generate(prompt: prompt, options: options, listener: $0) }
    }

    /// Low level: starts a generation and returns its handle (`cancel()`, `join()`,
    /// `result()`; releasing it cancels). `onText` runs on the generation thread and returns
    /// `false` to stop.
    public func start(_ prompt: String, options: GenerationOptions = GenerationOptions(),
                      onText: @escaping @Sendable (String) -> Bool) throws -> GenerationTask {
        try ref.get().generate(prompt: prompt, options: options, listener: ClosureListener(onText))
    }

    /// The result of the latest generation once it has ended, or nil if none ran.
    public func lastResult() async throws -> GenerationResult? {
        await (try ref.get()).lastResult()
    }

    /// Saves this session's state (its tokens and KV cache) to the file at `path`, written
    /// atomically; returns its size in bytes. Load it into a session of the same model with
    /// `loadState(path:)` to continue exactly where this one is (docs/state.md).
    @discardableResult
    public func saveState(path: String) async throws -> Int64 {
        let s = try ref.get()
        return try await offload { try s.saveState(path: path) }
    }

    /// This session's state as bytes (see `saveState(path:)`).
    public func saveStateBytes() async throws -> Data {
        let s = try ref.get()
        return try await offload { try s.saveStateBytes() }
    }

    /// Replaces this session's state with a saved one; throws `PocketLmError.InvalidSnapshot`
    /// (another model, a truncated or corrupted file, ...) and leaves the session as it was.
    public func loadState(path: String) async throws {
        let s = try ref.get()
        try await offload { try s.loadState(path: path) }
    }

    /// Like `loadState(path:)`, from bytes.
    public func loadStateBytes(_ bytes: Data) async throws {
        let s = try ref.get()
        try await offload { try s.loadStateBytes(bytes: bytes) }
    }

    /// Applies `adapter` (loaded for this session's model) to every generation from now on,
    /// its update multiplied by `scale` (1 = as trained); attaching it again sets a new scale.
    /// Several adapters add up. Waits for a running generation to finish; the session forgets
    /// its cached tokens when its adapters change (docs/adapters.md).
    /// - Throws: `PocketLmError.InvalidArgument` for a scale that is NaN or infinite, or an
    ///   adapter loaded for another `Model` (the session is unchanged).
    public func attachAdapter(_ adapter: LoraAdapter, scale: Float = 1) async throws {
        let s = try ref.get()
        let a = try adapter.ffiAdapter()
        try await offload { try s.attachAdapter(adapter: a, scale: scale) }
    }

    /// Stops applying `adapter` (nothing happens if it is not attached). Waits like
    /// `attachAdapter`.
    public func detachAdapter(_ adapter: LoraAdapter) async throws {
        let s = try ref.get()
        let a = try adapter.ffiAdapter()
        try await offload { try s.detachAdapter(adapter: a) }
    }

    /// How many adapters this session applies. Waits (off the calling thread) while a
    /// generation runs on this session: the count is read under the session's lock.
    public func adapterCount() async throws -> Int {
        let s = try ref.get()
        return try await offload { Int(s.adapterCount()) }
    }

    /// Tokens in the KV cache after the latest generation.
    public var contextTokens: Int {
        get throws { Int(try ref.get().contextTokens()) }
    }

    /// Forgets the cached tokens (never blocks).
    public func reset() throws { try ref.get().reset() }

    func ffiSession() throws -> PocketLMFFI.TextSession { try ref.get() }

    public func close() { ref.close() }
}

final class ClosureListener: TextListener {
    let onText: @Sendable (String) -> Bool
    init(_ onText: @escaping @Sendable (String) -> Bool) { self.onText = onText }
    func onText(delta: String) -> Bool { onText(delta) }
}

/// A chat with the model: keeps the history and KV cache between answers.
///
/// ```swift
/// for try await piece in try chat.send("What is a haiku?") { print(piece, terminator: "") }
/// ```
public final class Chat: Sendable {
    private let ref: NativeRef<PocketLMFFI.ChatSession>

    init(_ ffi: PocketLMFFI.ChatSession) {
        ref = NativeRef(ffi, name: "Chat")
    }

    /// Sends a user message and streams the answer; terminating the stream cancels it.
    public func send(_ message: String) throws -> AsyncThrowingStream<String, Error> {
        let c = try ref.get()
        return textStream { try c.send(message: message, listener: $0) }
    }

    /// Sends a user message and returns the whole answer.
    public func reply(_ message: String) async throws -> GenerationResult {
        let c = try ref.get()
        return try await runToEnd { try c.send(message: message, listener: $0) }
    }

    /// The conversation so far (as of the latest finished answer).
    public var history: [ChatMessage] {
        get throws { try ref.get().history() }
    }

    /// The result of the latest answer once it has ended, or nil.
    public func lastResult() async throws -> GenerationResult? {
        await (try ref.get()).lastResult()
    }

    /// Forgets the conversation, keeping the system prompt (never blocks).
    public func clear() throws { try ref.get().clear() }

    /// Saves the chat (history and KV cache) to `path`, replaced atomically; returns its size in
    /// bytes. Waits for an answer in progress. Restore it with `Model.restoreChat(path:options:)`.
    public func saveState(path: String) async throws -> Int64 {
        let c = try ref.get()
        return try await offload { try c.saveState(path: path) }
    }

    public func close() { ref.close() }
}
