package dev.pocketlm.samples

/** What the keyboard does in a field: show suggestions, shift at sentence starts. */
data class FieldPolicy(val suggestions: Boolean, val autoCapitalize: Boolean) {
    companion object {
        val OFF = FieldPolicy(suggestions = false, autoCapitalize = false)
        val ON = FieldPolicy(suggestions = true, autoCapitalize = true)

        /** The policy of a field from its raw Android `inputType` (first matching row of [FIELD_POLICY_TABLE]). */
        fun forInputType(inputType: Int): FieldPolicy = FIELD_POLICY_TABLE.first { it.matches(inputType) }.policy
    }
}

/** The bits of Android's `android.text.InputType` the policy reads (same values; no `android.*` here). */
object InputTypeBits {
    const val CLASS_MASK = 0x0000000F
    const val VARIATION_MASK = 0x00000FF0
    const val FLAGS_MASK = 0x00FFF000

    const val CLASS_NULL = 0
    const val CLASS_TEXT = 1
    const val CLASS_NUMBER = 2
    const val CLASS_PHONE = 3
    const val CLASS_DATETIME = 4

    const val VARIATION_URI = 0x10
    const val VARIATION_EMAIL_ADDRESS = 0x20
    const val VARIATION_PASSWORD = 0x80
    const val VARIATION_VISIBLE_PASSWORD = 0x90
    const val VARIATION_WEB_EMAIL_ADDRESS = 0xD0
    const val VARIATION_WEB_PASSWORD = 0xE0

    const val FLAG_NO_SUGGESTIONS = 0x80000
}

/**
 * One row of the field policy: a field matches when its class is (or, with [textClass] false, is
 * not) TEXT, its variation is one of [variations] (empty: any) and it has all of [flags].
 */
data class FieldRule(
    val name: String,
    val textClass: Boolean,
    val variations: Set<Int> = emptySet(),
    val flags: Int = 0,
    val policy: FieldPolicy,
) {
    fun matches(inputType: Int): Boolean {
        val isText = inputType and InputTypeBits.CLASS_MASK == InputTypeBits.CLASS_TEXT
        if (isText != textClass) return false
        if (variations.isNotEmpty() && (inputType and InputTypeBits.VARIATION_MASK) !in variations) return false
        return inputType and InputTypeBits.FLAGS_MASK and flags == flags
    }
}

/** The field policy of docs/samples.md, first match wins; the last row matches any text field. */
val FIELD_POLICY_TABLE: List<FieldRule> = with(InputTypeBits) {
    listOf(
        FieldRule("not text: null, number, phone, date/time", textClass = false, policy = FieldPolicy.OFF),
        FieldRule(
            "password",
            textClass = true,
            variations = setOf(VARIATION_PASSWORD, VARIATION_VISIBLE_PASSWORD, VARIATION_WEB_PASSWORD),
            policy = FieldPolicy.OFF,
        ),
        FieldRule(
            "email address or URI",
            textClass = true,
            variations = setOf(VARIATION_EMAIL_ADDRESS, VARIATION_WEB_EMAIL_ADDRESS, VARIATION_URI),
            policy = FieldPolicy.OFF,
        ),
        FieldRule(
            "text flagged no-suggestions",
            textClass = true,
            flags = FLAG_NO_SUGGESTIONS,
            policy = FieldPolicy(suggestions = false, autoCapitalize = true),
        ),
        FieldRule("any other text", textClass = true, policy = FieldPolicy.ON),
    )
}
