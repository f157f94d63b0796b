// Whether a field gets suggestions and auto-capitalization: a first-match table over the field's
// traits (docs/samples.md#field-policy), and the mapping of Android `inputType` values onto iOS
// traits that lets the Swift simulator replay the Android event scripts.

/// What the keyboard does in a field.
public struct FieldPolicy: Equatable, Sendable {
    public var suggestions: Bool
    public var autoCapitalize: Bool

    public init(suggestions: Bool, autoCapitalize: Bool) {
        self.suggestions = suggestions
        self.autoCapitalize = autoCapitalize
    }

    /// One row of the policy table.
    public struct Rule: Sendable {
        public let name: String
        public let matches: @Sendable (FieldTraits) -> Bool
        public let policy: FieldPolicy
    }

    static let off = FieldPolicy(suggestions: false, autoCapitalize: false)

    /// Keyboards for digits (Android classes NUMBER, PHONE, DATETIME).
    public static let numericKeyboards: Set<KeyboardType> = [
        .numberPad, .decimalPad, .phonePad, .numbersAndPunctuation, .asciiCapableNumberPad,
    ]
    /// Keyboards for addresses (Android variations EMAIL_ADDRESS, WEB_EMAIL_ADDRESS, URI).
    public static let addressKeyboards: Set<KeyboardType> = [.emailAddress, .url]

    /// The policy table, first match wins; the same rows as the Android table.
    public static let rules: [Rule] = [
        Rule(name: "password", matches: { $0.isSecureTextEntry }, policy: .off),
        Rule(name: "number or phone", matches: { numericKeyboards.contains($0.keyboardType) }, policy: .off),
        Rule(name: "email or URL", matches: { addressKeyboards.contains($0.keyboardType) }, policy: .off),
        Rule(name: "no suggestions", matches: { $0.autocorrectionType == .no },
             policy: FieldPolicy(suggestions: false, autoCapitalize: true)),
        Rule(name: "text", matches: { _ in true }, policy: FieldPolicy(suggestions: true, autoCapitalize: true)),
    ]

    /// The policy of a field with `traits`.
    public static func of(_ traits: FieldTraits) -> FieldPolicy {
        rules.first { $0.matches(traits) }!.policy
    }
}

/// Android `InputType` values, for the simulator's `field` events.
public enum AndroidInputType {
    static let classMask = 0xF, variationMask = 0xFF0, flagsMask = 0xFFF000
    static let classText = 1, classNumber = 2, classPhone = 3
    static let passwordVariations: Set<Int> = [0x80, 0x90, 0xE0]
    static let emailVariations: Set<Int> = [0x20, 0xD0]
    static let uriVariation = 0x10
    static let flagNoSuggestions = 0x80000

    /// The iOS traits of a field with Android `inputType` (docs/samples.md#field-policy).
    public static func traits(_ inputType: Int) -> FieldTraits {
        var traits = FieldTraits()
        switch inputType & classMask {
        case classText:
            let variation = inputType & variationMask
            if passwordVariations.contains(variation) {
                traits.isSecureTextEntry = true
            } else if emailVariations.contains(variation) {
                traits.keyboardType = .emailAddress
            } else if variation == uriVariation {
                traits.keyboardType = .url
            }
            if inputType & flagsMask & flagNoSuggestions != 0 {
                traits.autocorrectionType = .no
            }
        case classNumber:
            traits.keyboardType = .numberPad
        case classPhone:
            traits.keyboardType = .phonePad
        default:
            // DATETIME, NULL and undefined classes: no text keyboard on iOS either.
            traits.keyboardType = .numbersAndPunctuation
        }
        return traits
    }
}
