// The keyboard's language setting: the ISO 639-1 codes the core's predictor takes
// (`KeyboardOptions.language`, docs/keyboard.md) with the names the settings screen shows.
// Languages other than English need a multilingual model (Gemma 3 270M).

import Foundation

public enum KeyboardLanguage: String, CaseIterable, Sendable {
    case en, es, de, fr, pt, it

    public static let `default` = KeyboardLanguage.en

    /// The code the predictor takes.
    public var code: String { rawValue }

    public var displayName: String {
        switch self {
        case .en: return "English"
        case .es: return "Español"
        case .de: return "Deutsch"
        case .fr: return "Français"
        case .pt: return "Português"
        case .it: return "Italiano"
        }
    }

    /// The language of `code` ("de", "DE", "pt-BR", "pt_BR": the region is ignored), or nil.
    public init?(code: String?) {
        guard let code else { return nil }
        let trimmed = code.trimmingCharacters(in: .whitespaces).lowercased()
        let base = trimmed.split(whereSeparator: { $0 == "-" || $0 == "_" }).first.map(String.init) ?? ""
        self.init(rawValue: base)
    }

    /// The UserDefaults key the containing app writes and the extension reads (App Group suite).
    public static let settingsKey = "keyboard.language"

    /// The stored choice in `defaults` (nil or unknown: the default).
    public static func stored(in defaults: UserDefaults?) -> KeyboardLanguage {
        KeyboardLanguage(code: defaults?.string(forKey: settingsKey)) ?? .default
    }
}
