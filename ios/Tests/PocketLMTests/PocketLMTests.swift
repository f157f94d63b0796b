// The Swift layer (PocketLM) against the host-built native library and the real SmolLM2-135M
// model. Run by scripts/test-swift.sh (`make test-swift`) with `swift test`.

import Foundation
import PocketLM
import XCTest

/// $POCKETLM_MODEL, else models/SmolLM2-135M-Instruct.Q4_1.gguf under the repo root (found from
/// this file's path). Missing is a failure, not a skip.
func modelPath() -> String {
    if let p = ProcessInfo.processInfo.environment["POCKETLM_MODEL"] { return p }
    let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
}

let greedySampling = SamplingOptions(temperature: 0)
func greedy(_ maxTokens: Int32) -> GenerationOptions {
    GenerationOptions(maxTokens: maxTokens, sampling: greedySampling)
}

let prompt = "The capital of France is"

/// One model for the whole suite, loaded once.
actor Shared {
    static let shared = Shared()
    private var model: Model?
    func get() async throws -> Model {
        if let model { return model }
        let path = modelPath()
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestError(message: "model file \(path) is missing: run scripts/fetch-models.sh")
        }
        let m = try await Model.load(path: path)
        model = m
        return m
    }
}

struct TestError: Error { let message: String }

/// A thread-safe counter for listener callbacks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

func collect(_ stream: AsyncThrowingStream<String, Error>) async throws -> [String] {
    var out: [String] = []
    for try await piece in stream { out.append(piece) }
    return out
}

/// Waits (polling, at most `seconds`) until `condition` holds.
func waitUntil(_ seconds: Double = 60, _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline { throw TestError(message: "timed out after \(seconds) s") }
        try await Task.sleep(nanoseconds: 2_000_000)
    }
}

final class PocketLMTests: XCTestCase {
    func model() async throws -> Model { try await Shared.shared.get() }

    /// Greedy text of `maxTokens` tokens after `text` on a fresh session.
    func reference(_ text: String, _ maxTokens: Int32) async throws -> String {
        let s = try await model().textSession(options: SessionOptions(contextLength: 512))
        defer { s.close() }
        return try await s.complete(text, options: greedy(maxTokens)).text
    }

    func testARestoredChatAnswersAsTheSavedOneWould() async throws {
        let m = try await model()
        let opts = ChatOptions(systemPrompt: "Answer briefly.", contextLength: 512, maxTokens: 12,
                               sampling: greedySampling)
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("pocketlm-chat-\(UUID().uuidString).plmchat").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let a = try await m.chat(options: opts)
        defer { a.close() }
        let first = try await a.reply("What is the capital of France?")
        XCTAssertGreaterThan(first.generatedTokens, 0)
        let written = try await a.saveState(path: file)
        XCTAssertGreaterThan(written, 0)
        let b = try await m.restoreChat(path: file, options: opts)
        defer { b.close() }
        XCTAssertEqual(try b.history, try a.history)
        XCTAssertEqual(try b.history.count, 3)
        let expected = try await a.reply("And of Italy?")
        let restored = try await b.reply("And of Italy?")
        XCTAssertEqual(restored.generatedTokens, expected.generatedTokens)
        XCTAssertEqual(try b.history, try a.history)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(64).write(to: URL(fileURLWithPath: file))
        do {
            _ = try await m.restoreChat(path: file, options: opts)
            XCTFail("a truncated chat restored")
        } catch PocketLmError.InvalidSnapshot {
        }
    }

    func testASavedSessionContinuesInANewOneAsTheOriginalWould() async throws {
        let m = try await model()
        let opts = SessionOptions(contextLength: 512)
        let a = try await m.textSession(options: opts)
        _ = try await a.complete(prompt, options: greedy(4))
        let bytes = try await a.saveStateBytes()
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("pocketlm-state-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let written = try await a.saveState(path: file)
        XCTAssertEqual(written, Int64(bytes.count))
        let expected = try await a.complete(" and", options: greedy(8)).text
        let b = try await m.textSession(options: opts)
        try await b.loadStateBytes(bytes)
        let fromBytes = try await b.complete(" and", options: greedy(8)).text
        XCTAssertEqual(fromBytes, expected)
        let c = try await m.textSession(options: opts)
        try await c.loadState(path: file)
        let fromFile = try await c.complete(" and", options: greedy(8)).text
        XCTAssertEqual(fromFile, expected)
        do {
            try await c.loadStateBytes(bytes.prefix(bytes.count / 2))
            XCTFail("half a snapshot loaded")
        } catch PocketLmError.InvalidSnapshot {
        }
    }

    func testADrafterWithAStateDirectoryWarmStartsTheSecondTime() async throws {
        let m = try await model()
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pocketlm-warm-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await m.replyDrafter(stateDir: dir)
        let r1 = try await first.draft(replyingTo: "Can we meet tomorrow at 5?")
        XCTAssertEqual(try first.warmStarted(), false)
        first.close()
        let second = try await m.replyDrafter(stateDir: dir)
        let r2 = try await second.draft(replyingTo: "Can we meet tomorrow at 5?")
        XCTAssertEqual(r2.replies.map { $0.text }, r1.replies.map { $0.text })
        XCTAssertEqual(try second.warmStarted(), true)
        second.close()
    }

    func testAKeyboardPredictorWithAStateDirectoryWarmStartsTheSecondTime() async throws {
        let m = try await model()
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pocketlm-kbwarm-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let texts = ["", "Are you com", "See you at the "]
        let first = try await m.keyboardPredictor(stateDir: dir)
        XCTAssertNil(try first.warmStarted())
        var s1: [[Suggestion]] = []
        for t in texts { s1.append(try await first.suggest(t)) }
        XCTAssertEqual(try first.warmStarted(), false)
        first.close()
        let second = try await m.keyboardPredictor(stateDir: dir)
        var s2: [[Suggestion]] = []
        for t in texts { s2.append(try await second.suggest(t)) }
        XCTAssertEqual(s2, s1)
        XCTAssertEqual(try second.warmStarted(), true)
        second.close()
        let plain = try await m.keyboardPredictor()
        var s3: [[Suggestion]] = []
        for t in texts { s3.append(try await plain.suggest(t)) }
        XCTAssertEqual(s3, s1)
        plain.close()
    }

    func testLoadAndInfo() async throws {
        let m = try await model()
        let info = try m.info
        XCTAssertEqual(info.architecture, "llama")
        XCTAssertEqual(info.quantization, "Q4_1")
        XCTAssertTrue((100_000_000...200_000_000).contains(info.parameterCount), "\(info.parameterCount)")
        XCTAssertEqual(info.contextLength, 8192)
        XCTAssertEqual(info.vocabSize, 49152)
        XCTAssertEqual(info.layerCount, 30)
        XCTAssertTrue(info.hasChatTemplate)
        let size = try FileManager.default.attributesOfItem(atPath: modelPath())[.size] as? NSNumber
        XCTAssertEqual(info.fileBytes, size?.int64Value)
        XCTAssertEqual(try m.path, modelPath())
        XCTAssertFalse(PocketLM.version.isEmpty)
        let n = try await m.countTokens(prompt)
        XCTAssertTrue((4...12).contains(n), "\(n)")
    }

    func testLowMemoryKeyboardProfileAndReleaseMemoryKeepTheSuggestions() async throws {
        let m = try await model()
        let texts = ["See you tomor", "How are ", "I will be there in ten min"]
        let full = try await m.keyboardPredictor()
        defer { full.close() }
        var want: [[String]] = []
        for t in texts { want.append(try await full.suggest(t).map(\.word)) }
        let kb = try await m.keyboardPredictor(options: KeyboardOptions(profile: .lowMemory))
        defer { kb.close() }
        for (t, words) in zip(texts, want) {
            XCTAssertFalse(words.isEmpty, "suggestions for '\(t)'")
            let got = try await kb.suggest(t).map(\.word)
            XCTAssertEqual(got, words, "low-memory strip for '\(t)'")
        }
        // Memory pressure: the caches go, the predictor keeps working with the same answers.
        try await kb.releaseMemory()
        let again = try await kb.suggest(texts[0]).map(\.word)
        XCTAssertEqual(again, want[0])
        try await kb.releaseMemory()
        try await kb.releaseMemory()
        let next = try await kb.suggest(texts[1]).map(\.word)
        XCTAssertEqual(next, want[1])
    }

    func testTheKeyboardLanguageSettingReachesThePredictor() async throws {
        // Gemma 3 270M, the multilingual model, beside the test model (scripts/fetch-models.sh).
        let gemma = URL(fileURLWithPath: modelPath()).deletingLastPathComponent()
            .appendingPathComponent("gemma-3-270m-q4_k_m.gguf").path
        guard FileManager.default.fileExists(atPath: gemma) else {
            throw TestError(message: "model file \(gemma) is missing: run scripts/fetch-models.sh")
        }
        let m = try await Model.load(path: gemma)
        defer { m.close() }
        // English (the default) offers no "Dank" here (docs/keyboard.md); German does.
        let kb = try await m.keyboardPredictor(options: KeyboardOptions(threads: 1, language: "de"))
        defer { kb.close() }
        let words = try await kb.suggest("Vielen Da").map(\.word)
        XCTAssertTrue(words.contains("Dank"), "\(words)")
        do {
            let bad = try await m.keyboardPredictor(options: KeyboardOptions(threads: 1, language: "nl"))
            bad.close()
            XCTFail("an unknown language code is accepted")
        } catch PocketLmError.InvalidArgument {
        }
    }

    func testKeyboardSuggestionsWhileTyping() async throws {
        let kb = try await model().keyboardPredictor()
        defer { kb.close() }
        let sentence = "I will see you tomorrow at the station"
        var text = ""
        var completedTomorrow = false
        var nextWords = 0
        for ch in sentence {
            text.append(ch)
            let strip = try await kb.suggest(text)
            XCTAssertLessThanOrEqual(strip.count, 3)
            XCTAssertEqual(Set(strip.map(\.word)).count, strip.count, "distinct: \(strip)")
            let typed = text.split(separator: " ", omittingEmptySubsequences: false).last.map(String.init) ?? ""
            for s in strip {
                XCTAssertFalse(s.word.isEmpty)
                XCTAssertTrue(s.probability > 0 && s.probability <= 1, "\(s)")
                if s.kind == .completion {
                    XCTAssertTrue(s.word.lowercased().hasPrefix(typed.lowercased()), "'\(s.word)' completes '\(typed)'")
                }
            }
            if typed.isEmpty {
                XCTAssertFalse(strip.isEmpty, "next words after '\(text)'")
                XCTAssertTrue(strip.allSatisfy { $0.kind == .nextWord }, "\(strip)")
                nextWords += 1
            }
            if text.hasSuffix("tomor") && strip.contains(where: { $0.word == "tomorrow" }) { completedTomorrow = true }
        }
        XCTAssertGreaterThanOrEqual(nextWords, 7)
        XCTAssertTrue(completedTomorrow, "'tomor' completes to 'tomorrow'")
        let edit = try kb.accept("I will see you tomor", word: "tomorrow")
        XCTAssertEqual(edit.deleteChars, 5)
        XCTAssertEqual(edit.insert, "tomorrow ")
        try await kb.reset()
    }

    func testThreeReplyDrafts() async throws {
        let drafter = try await model().replyDrafter()
        defer { drafter.close() }
        let drafts = try await drafter.draft(replyingTo: "Are you coming to the party tonight?")
        XCTAssertNil(drafts.noDraftReason)
        XCTAssertEqual(drafts.replies.count, 3, "\(drafts.replies)")
        XCTAssertEqual(Set(drafts.replies.map { $0.text.lowercased() }).count, 3)
        for r in drafts.replies {
            XCTAssertFalse(r.text.isEmpty)
            XCTAssertLessThanOrEqual(r.text.split(separator: " ").count, 10)
            XCTAssertTrue(r.score > 0 && r.score <= 1)
        }
        let mine = try await drafter.draft([ConversationMessage(fromMe: true, text: "See you soon")])
        XCTAssertEqual(mine.noDraftReason, .lastMessageIsMine)
        XCTAssertTrue(mine.replies.isEmpty)
        do {
            _ = try await drafter.draft([])
            XCTFail("an empty conversation is an error")
        } catch PocketLmError.InvalidArgument(let message) {
            XCTAssertTrue(message.contains("conversation"), message)
        }
    }

    func testDraftingIsCancellable() async throws {
        let message = "Are you coming to the party tonight?"
        // The Swift layer: a task cancelled by the time it drafts ends with CancellationError
        // (the sleep returns early once the task is cancelled); the drafter then gives the same
        // drafts as before, three times.
        let drafter = try await model().replyDrafter()
        defer { drafter.close() }
        let expected = try await drafter.draft(replyingTo: message)
        XCTAssertEqual(expected.replies.count, 3)
        let t = Task {
            try? await Task.sleep(nanoseconds: 60_000_000_000)
            return try await drafter.draft(replyingTo: message)
        }
        t.cancel()
        do {
            _ = try await t.value
            XCTFail("a cancelled task's draft throws CancellationError")
        } catch is CancellationError {
        }
        for _ in 0..<3 {
            let again = try await drafter.draft(replyingTo: message)
            XCTAssertEqual(again, expected)
        }
    }

    func testStreamingThroughAsyncThrowingStream() async throws {
        let expected = try await reference(prompt, 12)
        XCTAssertFalse(expected.isEmpty)
        let session = try await model().textSession(options: SessionOptions(contextLength: 512))
        defer { session.close() }
        let pieces = try await collect(try session.generate(prompt, options: greedy(12)))
        XCTAssertGreaterThanOrEqual(pieces.count, 2)
        XCTAssertEqual(pieces.joined(), expected)
        let last = try await session.lastResult()
        XCTAssertEqual(last?.text, expected)
        XCTAssertEqual(last?.stopReason, .maxTokens)
        XCTAssertEqual(last?.generatedTokens, 12)

        let chat = try await model().chat(options: ChatOptions(contextLength: 1024, maxTokens: 24, sampling: greedySampling))
        defer { chat.close() }
        let answer = try await collect(try chat.send("What is the capital of France?")).joined()
        XCTAssertFalse(answer.isEmpty)
        let h = try chat.history
        XCTAssertEqual(h.map(\.role), [.user, .assistant])
        XCTAssertEqual(h.last?.content, answer.trimmingCharacters(in: .whitespacesAndNewlines))
        try chat.clear()
        XCTAssertTrue(try chat.history.isEmpty)
    }

    func testCancellationMidStream() async throws {
        let expected = try await reference(prompt, 10)
        let m = try await model()
        let session = try await m.textSession(options: SessionOptions(contextLength: 512))
        defer { session.close() }

        // 1. Breaking out of the loop terminates the stream, which cancels the generation.
        var got: [String] = []
        for try await piece in try session.generate(prompt, options: greedy(200)) {
            got.append(piece)
            if got.count == 3 { break }
        }
        XCTAssertEqual(got.count, 3)
        let r1 = try await session.lastResult()
        XCTAssertEqual(r1?.stopReason, .cancelled)
        XCTAssertLessThanOrEqual(r1?.tokensAfterCancel ?? 99, 1)
        XCTAssertLessThan(r1?.generatedTokens ?? 999, 200)

        // 2. Cancelling the consuming task cancels the generation.
        let count = Counter()
        let consumer = Task {
            for try await _ in try session.generate(prompt, options: greedy(200)) { _ = count.increment() }
        }
        try await waitUntil { count.value >= 3 }
        consumer.cancel()
        _ = await consumer.result
        let r2 = try await session.lastResult()
        XCTAssertEqual(r2?.stopReason, .cancelled)
        XCTAssertLessThanOrEqual(r2?.tokensAfterCancel ?? 99, 1)

        // 3. The handle: cancel() from this task while the listener counts pieces.
        let seen = Counter()
        let task = try session.start(prompt, options: greedy(200)) { _ in _ = seen.increment(); return true }
        try await waitUntil { seen.value >= 3 }
        task.cancel()
        let atCancel = seen.value
        let r3 = try await task.result()
        XCTAssertEqual(r3.stopReason, .cancelled)
        XCTAssertLessThanOrEqual(r3.tokensAfterCancel, 1)
        XCTAssertLessThanOrEqual(Int(r3.generatedTokens), atCancel + 1)
        XCTAssertTrue(task.isCancelled() && task.isFinished())

        // 4. Releasing the handle cancels.
        let started = Counter()
        var t4: GenerationTask? = try session.start(prompt, options: greedy(200)) { _ in _ = started.increment(); return true }
        try await waitUntil { started.value >= 1 }
        XCTAssertNotNil(t4)
        t4 = nil
        let r4 = try await session.lastResult()
        XCTAssertEqual(r4?.stopReason, .cancelled)

        // 5. Cancelling `complete` through its task.
        let long = Task { try await session.complete(prompt, options: greedy(2000)) }
        try await Task.sleep(nanoseconds: 50_000_000)
        long.cancel()
        let r5 = try await long.value
        XCTAssertEqual(r5.stopReason, .cancelled)

        // 6. The session and the model stay usable and give the same text.
        let again = try await session.complete(prompt, options: greedy(10))
        XCTAssertEqual(again.text, expected)
        let fresh = try await reference(prompt, 10)
        XCTAssertEqual(fresh, expected)
    }

    func testErrorsForMissingAndCorruptModelFiles() async throws {
        let missing = "/nonexistent/dir/missing-model.gguf"
        do {
            _ = try await Model.load(path: missing)
            XCTFail("loading a missing file must fail")
        } catch PocketLmError.ModelNotFound(let message) {
            XCTAssertTrue(message.contains(missing) && message.contains("check the path"), message)
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pocketlm-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = dir.appendingPathComponent("garbage.gguf")
        try Data(String(repeating: "this is not a model, just text ", count: 100).utf8).write(to: garbage)
        do {
            _ = try await Model.load(path: garbage.path)
            XCTFail("loading a garbage file must fail")
        } catch PocketLmError.InvalidModel(let message) {
            XCTAssertTrue(message.contains("GGUF"), message)
        }
        let truncated = dir.appendingPathComponent("truncated.gguf")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: modelPath()))
        try handle.readData(ofLength: 1 << 20).write(to: truncated)
        try handle.close()
        do {
            _ = try await Model.load(path: truncated.path)
            XCTFail("loading a truncated file must fail")
        } catch PocketLmError.InvalidModel(let message) {
            XCTAssertTrue(message.contains("download it again"), message)
        }
        do {
            _ = try await Model.load(path: dir.path)
            XCTFail("loading a directory must fail")
        } catch PocketLmError.ModelNotFound(let message) {
            XCTAssertTrue(message.contains("directory"), message)
        }
        // The error's description is its actionable message.
        do {
            _ = try await Model.load(path: missing)
        } catch {
            XCTAssertTrue(error.localizedDescription.contains(missing), error.localizedDescription)
        }

        let s = try await model().textSession()
        defer { s.close() }
        do {
            _ = try await s.complete("", options: greedy(4))
            XCTFail("an empty prompt is an error")
        } catch PocketLmError.InvalidArgument {}
        do {
            _ = try await s.complete(prompt, options: GenerationOptions(sampling: SamplingOptions(topP: 2)))
            XCTFail("top_p = 2 is an error")
        } catch PocketLmError.InvalidArgument(let message) {
            XCTAssertTrue(message.contains("top_p"), message)
        }
        do {
            let small = try await model().textSession(options: SessionOptions(contextLength: 16))
            _ = try await small.complete(String(repeating: "word ", count: 40), options: greedy(4))
            XCTFail("a prompt longer than the context is an error")
        } catch PocketLmError.ContextFull(let message) {
            XCTAssertTrue(message.contains("context"), message)
        }
    }

    func testTwoTasksUsingOneModelConcurrently() async throws {
        let m = try await model()
        let prompts = [prompt, "Once upon a time"]
        var expected: [String] = []
        for p in prompts { expected.append(try await reference(p, 16)) }

        // Two sessions of one model, in parallel.
        async let a = { () async throws -> String in
            let s = try await m.textSession(options: SessionOptions(contextLength: 512))
            return try await collect(try s.generate(prompts[0], options: greedy(16))).joined()
        }()
        async let b = { () async throws -> String in
            let s = try await m.textSession(options: SessionOptions(contextLength: 512))
            return try await collect(try s.generate(prompts[1], options: greedy(16))).joined()
        }()
        let got = try await [a, b]
        XCTAssertEqual(got, expected)

        // A keyboard and a drafter at the same time.
        async let strip = { try await m.keyboardPredictor().suggest("How are you do") }()
        async let drafts = { try await m.replyDrafter().draft(replyingTo: "Thanks for the help!") }()
        let (s1, d1) = try await (strip, drafts)
        XCTAssertFalse(s1.isEmpty)
        XCTAssertFalse(d1.replies.isEmpty)

        // One session used by two tasks at once: serialized, both correct.
        let shared = try await m.textSession(options: SessionOptions(contextLength: 512))
        async let x = shared.complete(prompts[0], options: greedy(16))
        async let y = shared.complete(prompts[1], options: greedy(16))
        let (rx, ry) = try await (x, y)
        XCTAssertEqual([rx.text, ry.text], expected)

        // One keyboard predictor used by two tasks at once.
        let kb = try await m.keyboardPredictor()
        defer { kb.close() }
        async let k1 = kb.suggest("See you tomor")
        async let k2 = kb.suggest("Good morn")
        let (s2, s3) = try await (k1, k2)
        XCTAssertTrue(s2.contains { $0.word == "tomorrow" }, "\(s2)")
        XCTAssertFalse(s3.isEmpty)
    }

    func testClosingObjectsTwice() async throws {
        let m = try await Model.load(path: modelPath())
        let kb = try await m.keyboardPredictor()
        let session = try await m.textSession(options: SessionOptions(contextLength: 256))
        let chat = try await m.chat(options: ChatOptions(maxTokens: 4, sampling: greedySampling))
        let drafter = try await m.replyDrafter()
        m.close()
        m.close()
        XCTAssertTrue(m.isClosed)
        XCTAssertThrowsError(try m.info) { XCTAssertTrue($0 is ClosedError) }
        do {
            _ = try await m.keyboardPredictor()
            XCTFail("a closed model cannot make objects")
        } catch is ClosedError {}
        // Objects made from the model keep it alive.
        let strip = try await kb.suggest("Hello my fri")
        XCTAssertFalse(strip.isEmpty)
        let r = try await session.complete(prompt, options: greedy(4))
        XCTAssertEqual(r.generatedTokens, 4)
        kb.close(); kb.close()
        session.close(); session.close()
        chat.close(); chat.close()
        drafter.close(); drafter.close()
        do {
            _ = try await kb.suggest("Hello")
            XCTFail("a closed predictor throws")
        } catch let e as ClosedError {
            XCTAssertEqual(e.localizedDescription, "KeyboardPredictor is closed")
        }
        XCTAssertThrowsError(try session.generate(prompt)) { XCTAssertTrue($0 is ClosedError) }
        XCTAssertThrowsError(try chat.history) { XCTAssertTrue($0 is ClosedError) }
        do {
            _ = try await drafter.draft(replyingTo: "Hi")
            XCTFail("a closed drafter throws")
        } catch is ClosedError {}
    }
}
