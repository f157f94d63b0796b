// SampleCore's `TextDocument` over the extension's `UITextDocumentProxy`: proxy calls and a
// trait mapping, nothing else.

import SampleCore
import UIKit

final class ProxyDocument: TextDocument {
    private let proxy: UITextDocumentProxy

    init(_ proxy: UITextDocumentProxy) {
        self.proxy = proxy
    }

    var documentContextBeforeInput: String? { proxy.documentContextBeforeInput }

    /// A stable identifier per field (iOS 11+); a fixed one if the host gives none.
    var documentIdentifier: UUID { proxy.documentIdentifier }

    var traits: FieldTraits {
        FieldTraits(isSecureTextEntry: proxy.isSecureTextEntry ?? false,
                    keyboardType: Self.keyboardType(proxy.keyboardType ?? .default),
                    autocorrectionType: Self.autocorrection(proxy.autocorrectionType ?? .default))
    }

    func insertText(_ text: String) { proxy.insertText(text) }

    func deleteBackward() { proxy.deleteBackward() }

    static func keyboardType(_ type: UIKeyboardType) -> KeyboardType {
        switch type {
        case .asciiCapable: return .asciiCapable
        case .numbersAndPunctuation: return .numbersAndPunctuation
        case .URL: return .url
        case .numberPad: return .numberPad
        case .phonePad: return .phonePad
        case .namePhonePad: return .namePhonePad
        case .emailAddress: return .emailAddress
        case .decimalPad: return .decimalPad
        case .twitter: return .twitter
        case .webSearch: return .webSearch
        case .asciiCapableNumberPad: return .asciiCapableNumberPad
        default: return .default
        }
    }

    static func autocorrection(_ type: UITextAutocorrectionType) -> AutocorrectionType {
        switch type {
        case .no: return .no
        case .yes: return .yes
        default: return .default
        }
    }
}
