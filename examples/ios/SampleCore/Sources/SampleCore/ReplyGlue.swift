// The iOS glue of the shared reply controller (`ReplyCore` in rust/pocketlm-ffi,
// docs/samples.md#reply-controller): forwards the screen's events and hops the controller's states
// to the UI thread through `Deliver`, drawing only newer ones. The compose cursor crosses the FFI in
// UTF-16 units (`TextOffsets.utf16`). The behaviour lives (and is tested) in Rust.

import Foundation
import PocketLM

extension ReplyCoreState {
    /// The model's state, as the samples show it.
    public var modelState: ModelState {
        switch model {
        case .loading: return .loading
        case .ready: return .ready
        case .failed(let message, let detail): return .failed(message: message, detail: detail)
        }
    }
}

/// The controller's reports, handed to the glue (weakly: the controller holds its observer).
private final class ReplyGlueObserver: ReplyCoreObserver, @unchecked Sendable {
    weak var glue: ReplyGlue?
    func onState(state: ReplyCoreState) { glue?.post(state) }
}

/// Confined to the UI thread: every method is called there, and states come back through
/// `deliver`, which runs there too; hence `@unchecked Sendable`.
public final class ReplyGlue: @unchecked Sendable {
    private let deliver: Deliver
    private let core: ReplyCore
    private var shownVersion: UInt64 = 0

    /// The last state drawn (updated on the UI thread).
    public private(set) var state: ReplyCoreState
    /// Called on the UI thread after `state` changed (the view redraws).
    public var onChange: ((ReplyCoreState) -> Void)?

    /// A controller with its own worker thread, no model yet (`loadModel`) and no messages.
    public init(deliver: @escaping Deliver) throws {
        self.deliver = deliver
        let observer = ReplyGlueObserver()
        let core = try ReplyCore(observer: observer)
        self.core = core
        state = core.state()
        observer.glue = self
    }

    fileprivate func post(_ s: ReplyCoreState) {
        deliver { [weak self] in self?.show(s) }
    }

    private func show(_ s: ReplyCoreState) {
        guard s.version > shownVersion else { return } // reported from the worker before a newer event's state
        shownVersion = s.version
        state = s
        onChange?(s)
    }

    /// Loads the model at `path` on the controller's worker; drafts start once it is ready.
    /// With `stateDir` (Application Support), the drafter keeps its warm-up there: a restarted
    /// app shows its first chips sooner (docs/state.md).
    /// With `layoutCacheDir` (the Caches directory), the model runs from its interleaved copy
    /// there, written on the first load (faster decode, the same results; docs/performance.md).
    public func loadModel(path: String, stateDir: String? = nil, layoutCacheDir: String? = nil) {
        if let layoutCacheDir {
            core.loadModelWithDirs(path: path, stateDir: stateDir, layoutCacheDir: layoutCacheDir)
        } else if let stateDir {
            core.loadModelWithStateDir(path: path, stateDir: stateDir)
        } else {
            core.loadModel(path: path)
        }
    }

    /// Replaces the conversation (a canned one is picked) and drafts replies to it.
    public func showConversation(_ messages: [ConversationMessage]) { core.showConversation(messages: messages) }

    /// A message from the other person arrives.
    public func receive(_ text: String) { core.receive(text: text) }

    /// The register of the drafts (a different one drafts again).
    public func setTone(_ tone: Tone) { core.setTone(tone: tone) }

    /// Chip `index` tapped.
    public func tapChip(_ index: Int) {
        guard index >= 0 else { return }
        core.tapChip(index: UInt32(clamping: index))
    }

    /// The user edited the compose field; the cursor at the end unless `cursorUtf16` says where.
    public func editCompose(_ text: String, cursorUtf16: Int? = nil) {
        let cursor = cursorUtf16.map { UInt32(clamping: max(0, $0)) } ?? TextOffsets.utf16(text)
        core.editCompose(text: text, cursorUtf16: cursor)
    }

    /// The "Write a longer reply" / Stop button.
    public func writeLongerOrStop() {
        if state.streaming { core.stop() } else { core.writeLonger() }
    }

    public func send() { core.send() }

    /// "Add to calendar" tapped: the event for the calendar editor (the action is withdrawn), or
    /// nil when none is offered.
    public func addToCalendar() -> CalendarEvent? { core.addToCalendar() }

    /// Blocks until the controller's worker is idle (tests; never on the UI thread); whether it is.
    @discardableResult
    public func waitIdle(timeout seconds: Double = 300) -> Bool {
        core.waitIdle(timeoutMs: UInt32(clamping: Int(seconds * 1000)))
    }
}
