package dev.pocketlm.samples

/**
 * A [TextField] held in memory, counting in UTF-16 units like `InputConnection`: the field of the
 * tests and the simulator. [cursor] is a UTF-16 index.
 */
class InMemoryTextField(text: String = "", cursor: Int = text.length) : TextField {
    var text: String = text
        private set
    var cursor: Int = cursor.coerceIn(0, text.length)
        private set

    /** Edit batches run so far (a suggestion tap must be one). */
    var batches: Int = 0
        private set

    override fun textBeforeCursor(maxUnits: Int): String = text.substring(maxOf(0, cursor - maxUnits), cursor)

    override fun deleteBeforeCursor(units: Int) {
        val n = units.coerceIn(0, cursor)
        text = text.removeRange(cursor - n, cursor)
        cursor -= n
    }

    override fun insertAtCursor(text: String) {
        this.text = this.text.substring(0, cursor) + text + this.text.substring(cursor)
        cursor += text.length
    }

    override fun batch(edits: () -> Unit) {
        batches++
        edits()
    }

    /** The cursor in Unicode scalars. */
    val scalarCursor: Int
        get() = TextUnits.scalarCount(text.substring(0, cursor))

    /** Moves the cursor to scalar offset [scalars] (clamped to the text), as a tap in the app would. */
    fun moveToScalar(scalars: Int) {
        cursor = TextUnits.unitIndexOfScalar(text, scalars)
    }

    /** Replaces the whole content (a new field, a paste by the app); the cursor goes to the end. */
    fun setText(text: String) {
        this.text = text
        cursor = text.length
    }
}
