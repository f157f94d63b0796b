package dev.pocketlm.samples.keyboard

import android.content.ComponentCallbacks2
import android.inputmethodservice.InputMethodService
import android.os.Handler
import android.os.Looper
import android.text.InputType
import android.view.View
import android.view.inputmethod.EditorInfo
import dev.pocketlm.samples.KeyboardGlue
import dev.pocketlm.samples.ModelInstaller
import dev.pocketlm.samples.ModelState
import dev.pocketlm.samples.ShiftKey
import java.util.concurrent.Executor

/**
 * The PocketLM keyboard: forwards the system's input method callbacks and the key view's touches to
 * the shared keyboard controller through [KeyboardGlue] (examples/android/samples-core; the
 * controller is Rust's `KeyboardCore`, docs/samples.md) and draws its state. The controller loads
 * the model and runs it on its own worker thread.
 */
class PocketKeyboardService : InputMethodService(), KeyboardView.Keys {
    private val main = Handler(Looper.getMainLooper())
    private val shift = ShiftKey()
    private lateinit var controller: KeyboardGlue
    private var keyboardView: KeyboardView? = null

    override fun onCreate() {
        super.onCreate()
        controller = KeyboardGlue(InputConnectionField(this), Executor { main.post(it) }) { render() }
        loadModel()
    }

    private fun loadModel() {
        val path = ModelInstaller.modelFile(filesDir).path
        controller.setLanguage(KeyboardSettings.language(this))
        // The framing prefix's warm-up is kept in the files dir: the next start skips it. The
        // model's interleaved copy (faster decode) is written once to the no-backup dir.
        controller.loadModel(
            path,
            java.io.File(filesDir, "keyboard-state").path,
            java.io.File(noBackupFilesDir, "layout-cache").path,
        )
    }

    override fun onCreateInputView(): View = KeyboardView(this, this).also {
        keyboardView = it
        render()
    }

    override fun onStartInput(attribute: EditorInfo, restarting: Boolean) {
        super.onStartInput(attribute, restarting)
        controller.startField(attribute.inputType)
    }

    override fun onStartInputView(info: EditorInfo, restarting: Boolean) {
        super.onStartInputView(info, restarting)
        // The language picked in the settings screen since (reopens the predictor if it changed).
        controller.setLanguage(KeyboardSettings.language(this))
        // A model installed from the settings screen since the last failure.
        if (controller.state.modelState is ModelState.Failed && ModelInstaller.modelFile(filesDir).isFile) loadModel()
        render()
    }

    override fun onUpdateSelection(
        oldSelStart: Int,
        oldSelEnd: Int,
        newSelStart: Int,
        newSelEnd: Int,
        candidatesStart: Int,
        candidatesEnd: Int,
    ) {
        super.onUpdateSelection(oldSelStart, oldSelEnd, newSelStart, newSelEnd, candidatesStart, candidatesEnd)
        controller.onSelectionChanged()
    }

    /** The keyboard runs beside the foreground app: give memory back as soon as the system asks. */
    override fun onTrimMemory(level: Int) {
        super.onTrimMemory(level)
        if (level >= ComponentCallbacks2.TRIM_MEMORY_RUNNING_LOW) controller.onTrimMemory()
    }

    override fun onLowMemory() {
        super.onLowMemory()
        controller.onTrimMemory()
    }

    override fun onDestroy() {
        controller.close()
        keyboardView = null
        super.onDestroy()
    }

    override fun onLetter(letter: String) {
        controller.type(shift.type(letter, controller.state.autoShift))
        render()
    }

    override fun onText(text: String) = controller.type(text)

    override fun onBackspace() {
        val ic = currentInputConnection ?: return
        val selected = ic.getSelectedText(0)
        if (selected != null && selected.isNotEmpty()) {
            ic.commitText("", 1)
            controller.onSelectionChanged()
        } else {
            controller.backspace(1)
        }
    }

    override fun onShift() {
        shift.tap()
        render()
    }

    override fun onEnter() {
        val info = currentInputEditorInfo
        val action = info.imeOptions and EditorInfo.IME_MASK_ACTION
        val multiLine = info.inputType and InputType.TYPE_TEXT_FLAG_MULTI_LINE != 0
        val noAction = info.imeOptions and EditorInfo.IME_FLAG_NO_ENTER_ACTION != 0
        if (!multiLine && !noAction && action != EditorInfo.IME_ACTION_NONE && action != EditorInfo.IME_ACTION_UNSPECIFIED) {
            currentInputConnection?.performEditorAction(action)
        } else {
            controller.type("\n")
        }
    }

    override fun onSuggestion(slot: Int) = controller.tap(slot)

    private fun render() {
        keyboardView?.render(controller.state, shift)
    }
}
