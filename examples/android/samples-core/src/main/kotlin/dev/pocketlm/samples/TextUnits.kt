package dev.pocketlm.samples

/**
 * The simulator's edge conversions: its protocol counts the cursor in Unicode scalars, the field
 * and the shared keyboard controller in UTF-16 units (Android's `InputConnection`, Kotlin `String`
 * indices). Scalars ↔ grapheme clusters and the core's scalar counts are converted inside the
 * controller (rust/pocketlm-ffi/src/keyboard_core/units.rs).
 */
object TextUnits {
    /** Unicode scalars in [text] (a lone surrogate counts as one). */
    fun scalarCount(text: String): Int = text.codePointCount(0, text.length)

    /** The UTF-16 index of scalar offset [scalars] in [text], clamped to the text. */
    fun unitIndexOfScalar(text: String, scalars: Int): Int {
        if (scalars <= 0) return 0
        return if (scalars >= scalarCount(text)) text.length else text.offsetByCodePoints(0, scalars)
    }
}
