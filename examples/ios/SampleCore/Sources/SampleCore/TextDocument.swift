// The text field as the keyboard sees it: the part of `UITextDocumentProxy` the controller uses,
// with UIKit's trait types mirrored as plain enums so the controller builds without UIKit.

import Foundation

/// Mirrors `UIKeyboardType` (the keyboard extension maps one onto the other, case by case).
public enum KeyboardType: Sendable, CaseIterable {
    case `default`, asciiCapable, numbersAndPunctuation, url, numberPad, phonePad, namePhonePad,
         emailAddress, decimalPad, twitter, webSearch, asciiCapableNumberPad
}

/// Mirrors `UITextAutocorrectionType`.
public enum AutocorrectionType: Sendable, CaseIterable {
    case `default`, no, yes
}

/// The text input traits of a field that decide its `FieldPolicy`.
public struct FieldTraits: Equatable, Sendable {
    public var isSecureTextEntry: Bool
    public var keyboardType: KeyboardType
    public var autocorrectionType: AutocorrectionType

    public init(isSecureTextEntry: Bool = false, keyboardType: KeyboardType = .default,
                autocorrectionType: AutocorrectionType = .default) {
        self.isSecureTextEntry = isSecureTextEntry
        self.keyboardType = keyboardType
        self.autocorrectionType = autocorrectionType
    }

    /// A plain text field.
    public static let plainText = FieldTraits()
}

/// What the keyboard controller needs from the field: a `UITextDocumentProxy`-like object.
/// Edits count `Character`s (grapheme clusters), like `deleteBackward()` on iOS.
public protocol TextDocument: AnyObject {
    /// The text before the cursor; the host may truncate it or return nil (treated as "").
    var documentContextBeforeInput: String? { get }
    /// Changes when the keyboard moves to another field.
    var documentIdentifier: UUID { get }
    var traits: FieldTraits { get }
    func insertText(_ text: String)
    /// Deletes one `Character` before the cursor (nothing at the start of the field).
    func deleteBackward()
}

/// An in-memory field with a cursor, for tests and the simulator. It behaves like a
/// `UITextDocumentProxy`: `deleteBackward()` removes one `Character`, and
/// `documentContextBeforeInput` can be made to truncate its answer or return nil.
public final class InMemoryTextDocument: TextDocument {
    /// Text before and after the cursor.
    public private(set) var before = ""
    public private(set) var after = ""
    public private(set) var documentIdentifier = UUID()
    public private(set) var traits: FieldTraits
    /// When set, `documentContextBeforeInput` returns at most this many `Character`s.
    public var contextLimit: Int?
    /// When true, `documentContextBeforeInput` returns nil (a host that gives no context).
    public var contextUnavailable = false
    /// Edits made through the proxy calls (tests count them).
    public private(set) var deleteBackwardCalls = 0

    public init(traits: FieldTraits = .plainText) {
        self.traits = traits
    }

    public var documentContextBeforeInput: String? {
        if contextUnavailable { return nil }
        if let limit = contextLimit { return String(before.suffix(limit)) }
        return before
    }

    public func insertText(_ text: String) {
        before += text
    }

    public func deleteBackward() {
        deleteBackwardCalls += 1
        if !before.isEmpty { before.removeLast() }
    }

    /// The whole text.
    public var text: String { before + after }

    /// The cursor as a count of Unicode scalars.
    public var cursor: Int { before.unicodeScalars.count }

    /// Moves the cursor to Unicode-scalar offset `offset`, clamped to the text.
    public func moveCursor(toScalarOffset offset: Int) {
        let scalars = Array(text.unicodeScalars)
        let k = max(0, min(offset, scalars.count))
        before = String(String.UnicodeScalarView(scalars[..<k]))
        after = String(String.UnicodeScalarView(scalars[k...]))
    }

    /// Replaces the field by a new, empty one with `traits` (a new `documentIdentifier`).
    public func newDocument(traits: FieldTraits) {
        before = ""
        after = ""
        self.traits = traits
        documentIdentifier = UUID()
    }
}
