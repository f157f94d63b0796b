// The iOS glue of the shared keyboard controller (`KeyboardCore` in rust/pocketlm-ffi,
// docs/samples.md#the-shared-controller-keyboardcore-and-its-glue): forwards the extension's
// events with the field's text before the cursor, applies the edits the controller reports to the
// `TextDocument` (a `UITextDocumentProxy` in the extension), and hops its states to the UI thread
// through `Deliver`, drawing only newer ones. The behaviour lives (and is tested) in Rust.

import Foundation
import PocketLM

/// Whether the model can be used yet.
public enum ModelState: Equatable, Sendable {
    case loading
    case ready
    /// `message` fits the strip; `detail` is the library's error (a path, never user text).
    case failed(message: String, detail: String)
}

/// What the keyboard shows: the three strip slots, the model's state, the shift key.
public struct KeyboardState: Equatable, Sendable {
    /// Exactly three slots, `[second, best, third]`; "" for an empty slot.
    public var strip: [String]
    public var modelState: ModelState
    /// Shift should be on: the field capitalizes and the cursor is at a sentence start.
    public var autoShift: Bool

    public static let initial = KeyboardState(strip: ["", "", ""], modelState: .loading, autoShift: true)
}

/// Offsets cross the FFI in UTF-16 code units, the unit of `NSString` ranges and `String.utf16`.
public enum TextOffsets {
    /// The UTF-16 length of `text`, as the controller's unit.
    public static func utf16(_ text: String) -> UInt32 { UInt32(clamping: text.utf16.count) }

    /// How many `deleteBackward()` calls (one `Character` each) remove at least `units` UTF-16
    /// units from the end of `before`: walks `Character`s back from the cursor ("👍🏽" is four
    /// units, "e\u{301}" two, each one call). Units beyond the known text (a truncated or missing
    /// context) count one call each.
    public static func deleteBackwardCount(utf16 units: Int, before: String) -> Int {
        var covered = 0
        var calls = 0
        var index = before.endIndex
        while covered < units, index > before.startIndex {
            let previous = before.index(before: index)
            covered += before.utf16.distance(from: previous, to: index)
            calls += 1
            index = previous
        }
        return calls + max(0, units - covered)
    }
}

extension FieldTraits {
    /// The Android `inputType` value the shared policy table reads for these traits
    /// (docs/samples.md#field-policy-suggestions-on-or-off), in the order of its rows.
    public var inputType: UInt32 {
        let text: UInt32 = 1, number: UInt32 = 2, phone: UInt32 = 3
        if isSecureTextEntry { return text | 0x80 }                       // TEXT_VARIATION_PASSWORD
        switch keyboardType {
        case .phonePad: return phone
        case .numberPad, .decimalPad, .numbersAndPunctuation, .asciiCapableNumberPad: return number
        case .emailAddress: return text | 0x20                             // TEXT_VARIATION_EMAIL_ADDRESS
        case .url: return text | 0x10                                      // TEXT_VARIATION_URI
        default: break
        }
        return autocorrectionType == .no ? text | 0x80000 : text          // TEXT_FLAG_NO_SUGGESTIONS
    }
}

/// The controller's reports, handed to the glue (weakly: the controller holds its observer).
private final class GlueObserver: KeyboardCoreObserver, @unchecked Sendable {
    weak var glue: KeyboardGlue?
    func onEdit(edit: FieldEdit) { glue?.apply(edit) }
    func onState(state: KeyboardCoreState) { glue?.post(state) }
}

/// Confined to the UI thread: every method is called there, and states come back through
/// `deliver`, which runs there too; hence `@unchecked Sendable`.
public final class KeyboardGlue: @unchecked Sendable {
    /// UTF-16 units of context the controller keeps.
    public static let contextUnits = Int(keyboardContextUnits())

    public let document: TextDocument
    private let deliver: Deliver
    private let core: KeyboardCore
    private var shownVersion: UInt64 = 0
    /// The field the controller was last told about (a new identifier or traits: a new field).
    private var field: (id: UUID, inputType: UInt32)?

    /// The last state drawn (updated on the UI thread).
    public private(set) var state = KeyboardState.initial
    /// Called on the UI thread after `state` changed (the view redraws).
    public var onChange: ((KeyboardState) -> Void)?

    /// A controller with its own worker thread and no model yet (`loadModel`); call `startField`.
    public init(document: TextDocument, deliver: @escaping Deliver) throws {
        self.document = document
        self.deliver = deliver
        let observer = GlueObserver()
        core = try KeyboardCore(observer: observer)
        observer.glue = self
    }

    fileprivate func apply(_ edit: FieldEdit) {
        let before = document.documentContextBeforeInput ?? ""
        let deletes = TextOffsets.deleteBackwardCount(utf16: Int(edit.deleteUtf16), before: before)
        for _ in 0..<deletes { document.deleteBackward() }
        if !edit.insert.isEmpty { document.insertText(edit.insert) }
    }

    fileprivate func post(_ s: KeyboardCoreState) {
        deliver { [weak self] in self?.show(s) }
    }

    private func show(_ s: KeyboardCoreState) {
        guard s.version > shownVersion else { return } // reported from the worker before a newer event's state
        shownVersion = s.version
        let model: ModelState
        switch s.model {
        case .loading: model = .loading
        case .ready: model = .ready
        case .failed(let message, let detail): model = .failed(message: message, detail: detail)
        }
        state = KeyboardState(strip: s.strip, modelState: model, autoShift: s.autoShift)
        onChange?(state)
    }

    private var before: String { document.documentContextBeforeInput ?? "" }

    /// The language predictors are opened for (the settings' choice).
    public var language: KeyboardLanguage { KeyboardLanguage(code: core.language()) ?? .default }

    /// Reopens the predictor for `next` when it differs; whether the language changed.
    @discardableResult
    public func setLanguage(_ next: KeyboardLanguage) -> Bool {
        (try? core.setLanguage(code: next.code)) ?? false
    }

    /// Loads the model at `path` on the controller's worker; keys work meanwhile. With
    /// `stateDir` (the extension's App Group container), the predictor keeps its warm-up
    /// there: a keyboard started again shows its first suggestions sooner (docs/state.md).
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

    /// The keyboard is on the document's current field (its identifier and traits).
    public func startField() {
        let inputType = document.traits.inputType
        field = (document.documentIdentifier, inputType)
        let text = before
        core.startField(inputType: inputType, text: text, cursorUtf16: TextOffsets.utf16(text))
    }

    /// A key press that types `text` (a letter, a space, punctuation, a newline).
    public func type(_ text: String) { core.typeText(text: text) }

    /// A tap on strip slot `slot` (0 left, 1 middle, 2 right).
    public func tap(slot: Int) { core.tap(slot: UInt32(clamping: slot)) }

    /// `n` backspaces (user-perceived characters).
    public func backspace(_ n: Int = 1) { core.backspace(count: UInt32(clamping: n)) }

    /// The host reported a change (`textDidChange`): a new field when the document's identifier
    /// or traits changed, else the text before the cursor (the controller ignores its own echo).
    public func textDidChange() {
        let inputType = document.traits.inputType
        guard let field, field.id == document.documentIdentifier, field.inputType == inputType else {
            return startField()
        }
        let text = before
        core.textChanged(text: text, cursorUtf16: TextOffsets.utf16(text))
    }

    /// Memory pressure (`didReceiveMemoryWarning`).
    public func memoryWarning() { core.releaseMemory() }

    /// Blocks until the controller's worker is idle (the simulator and tests; never on the UI
    /// thread); whether it is.
    @discardableResult
    public func waitIdle(timeout seconds: Double = 120) -> Bool {
        core.waitIdle(timeoutMs: UInt32(clamping: Int(seconds * 1000)))
    }
}
