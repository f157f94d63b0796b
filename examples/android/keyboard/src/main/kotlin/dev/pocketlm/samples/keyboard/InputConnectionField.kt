package dev.pocketlm.samples.keyboard

import android.inputmethodservice.InputMethodService
import dev.pocketlm.samples.TextField

/** The focused app's field, through the service's current `InputConnection` (UTF-16 units). */
class InputConnectionField(private val service: InputMethodService) : TextField {
    override fun textBeforeCursor(maxUnits: Int): String =
        service.currentInputConnection?.getTextBeforeCursor(maxUnits, 0)?.toString().orEmpty()

    override fun deleteBeforeCursor(units: Int) {
        service.currentInputConnection?.deleteSurroundingText(units, 0)
    }

    override fun insertAtCursor(text: String) {
        service.currentInputConnection?.commitText(text, 1)
    }

    override fun batch(edits: () -> Unit) {
        val ic = service.currentInputConnection
        ic?.beginBatchEdit()
        try {
            edits()
        } finally {
            ic?.endBatchEdit()
        }
    }
}
