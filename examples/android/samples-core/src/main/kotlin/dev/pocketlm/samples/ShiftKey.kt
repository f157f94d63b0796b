package dev.pocketlm.samples

/**
 * The shift key of the sample keyboard: a tap shifts the next letter, a second tap locks caps, a
 * third releases. At a sentence start (the controller's `autoShift`) the next letter is shifted
 * too, unless caps are locked anyway.
 */
class ShiftKey {
    enum class Mode { OFF, ONCE, LOCKED }

    var mode: Mode = Mode.OFF
        private set

    fun tap() {
        mode = when (mode) {
            Mode.OFF -> Mode.ONCE
            Mode.ONCE -> Mode.LOCKED
            Mode.LOCKED -> Mode.OFF
        }
    }

    /** Letters are upper-case now. */
    fun isUpper(autoShift: Boolean): Boolean = mode != Mode.OFF || autoShift

    /** [letter] as the key types it now; a one-shot shift is used up. */
    fun type(letter: String, autoShift: Boolean): String {
        val out = if (isUpper(autoShift)) letter.uppercase() else letter
        if (mode == Mode.ONCE) mode = Mode.OFF
        return out
    }
}
