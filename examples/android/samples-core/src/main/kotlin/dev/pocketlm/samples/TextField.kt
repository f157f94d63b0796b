package dev.pocketlm.samples

/**
 * The text field a keyboard edits, seen the way Android's `InputConnection` sees it: offsets and
 * counts are UTF-16 code units and the cursor is a caret. The keyboard sample adapts the current
 * `InputConnection` to it; the tests and the simulator use an in-memory field.
 */
interface TextField {
    /** Up to [maxUnits] UTF-16 units before the cursor ("" when there are none or the field does not say). */
    fun textBeforeCursor(maxUnits: Int): String

    /** Deletes [units] UTF-16 units before the cursor. */
    fun deleteBeforeCursor(units: Int)

    /** Inserts [text] at the cursor and leaves the cursor after it. */
    fun insertAtCursor(text: String)

    /** Runs the edits of [edits] as one batch: the app sees a single change. */
    fun batch(edits: () -> Unit)
}
