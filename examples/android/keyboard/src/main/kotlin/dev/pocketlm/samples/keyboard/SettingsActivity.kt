package dev.pocketlm.samples.keyboard

import android.app.Activity
import android.content.Context
import android.content.Intent
import android.os.Bundle
import android.provider.Settings
import android.util.TypedValue
import android.view.View
import android.view.inputmethod.InputMethodManager
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.RadioButton
import android.widget.RadioGroup
import android.widget.ScrollView
import android.widget.TextView
import dev.pocketlm.samples.KeyboardLanguage
import dev.pocketlm.samples.ModelInstaller
import dev.pocketlm.samples.SerialWorker
import java.io.InputStream

/**
 * The keyboard's settings: install the model file (picked from storage, or the one the APK ships
 * in `assets/models/`) into the app's files directory, and the steps to enable the keyboard.
 */
class SettingsActivity : Activity() {
    private companion object {
        const val PICK_MODEL = 1
        const val BUNDLED_DIR = "models"
        const val HOW_TO_ENABLE =
            "1. Install a model: pick a .gguf file (e.g. SmolLM2-135M-Instruct.Q4_1.gguf, ~90 MB), " +
                "or copy the one bundled with this app.\n" +
                "2. Enable the keyboard: Open keyboard settings, then turn on \"PocketLM Keyboard\" " +
                "(Settings › System › Languages & input › Virtual keyboard › Manage keyboards). " +
                "Android warns that a keyboard can collect what you type: PocketLM runs on the phone " +
                "and sends nothing anywhere.\n" +
                "3. Switch to it: tap Choose keyboard, or the keyboard icon while typing.\n" +
                "4. Pick the language you type (languages other than English need a multilingual " +
                "model such as gemma-3-270m-q4_k_m.gguf).\n" +
                "5. Try it in the box below."
    }

    private val worker = SerialWorker("pocketlm-install")
    private lateinit var status: TextView
    private lateinit var buttons: List<Button>

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val pad = dp(16f)
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(pad, pad, pad, pad)
        }
        column.addView(TextView(this).apply {
            text = "PocketLM Keyboard"
            setTextSize(TypedValue.COMPLEX_UNIT_SP, 22f)
        })
        column.addView(TextView(this).apply {
            text = HOW_TO_ENABLE
            setPadding(0, pad / 2, 0, pad / 2)
        })
        status = TextView(this)
        column.addView(status)

        val pick = button("Pick model file…") {
            val intent = Intent(Intent.ACTION_OPEN_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType("*/*")
            startActivityForResult(intent, PICK_MODEL)
        }
        val bundled = bundledModel()
        val copy = button("Copy the bundled model") {
            if (bundled != null) install { assets.open("$BUNDLED_DIR/$bundled") }
        }
        copy.isEnabled = bundled != null
        val settings = button("Open keyboard settings") { startActivity(Intent(Settings.ACTION_INPUT_METHOD_SETTINGS)) }
        val choose = button("Choose keyboard") { inputMethods().showInputMethodPicker() }
        buttons = listOf(pick, copy)
        for (b in listOf(pick, copy, settings, choose)) column.addView(b)
        column.addView(TextView(this).apply {
            text = "Language"
            setPadding(0, pad / 2, 0, 0)
        })
        column.addView(languagePicker())
        column.addView(EditText(this).apply { hint = "Type here to try the keyboard" })
        setContentView(ScrollView(this).apply { addView(column) })
    }

    override fun onResume() {
        super.onResume()
        showStatus(null)
    }

    override fun onDestroy() {
        worker.close()
        super.onDestroy()
    }

    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        val uri = data?.data
        if (requestCode == PICK_MODEL && resultCode == RESULT_OK && uri != null) {
            install { contentResolver.openInputStream(uri) ?: throw java.io.IOException("cannot open $uri") }
        }
    }

    /** Copies the model off the main thread (a model is ~100 MB), then shows the outcome. */
    private fun install(open: () -> InputStream) {
        buttons.forEach { it.isEnabled = false }
        status.text = "Copying the model…"
        worker.execute {
            val outcome = runCatching { open().use { ModelInstaller.install(it, filesDir) } }
            runOnUiThread {
                buttons.forEach { it.isEnabled = true }
                showStatus(outcome.exceptionOrNull()?.let { "Install failed: ${it.message}" })
            }
        }
    }

    private fun showStatus(error: String?) {
        val file = ModelInstaller.modelFile(filesDir)
        val model = if (file.isFile) "Model installed (%.1f MB).".format(file.length() / 1e6) else "No model installed yet."
        val enabled = inputMethods().enabledInputMethodList.any { it.packageName == packageName }
        val keyboard = if (enabled) "Keyboard enabled." else "Keyboard not enabled yet."
        status.text = listOfNotNull(error, model, keyboard).joinToString("\n")
    }

    /** One radio button per language; a pick is stored at once and the keyboard reopens its predictor for it. */
    private fun languagePicker(): RadioGroup {
        val current = KeyboardSettings.language(this)
        return RadioGroup(this).apply {
            for (language in KeyboardLanguage.entries) {
                addView(RadioButton(this@SettingsActivity).apply {
                    id = View.generateViewId()
                    text = language.displayName
                    tag = language
                    isChecked = language == current
                })
            }
            setOnCheckedChangeListener { group, checkedId ->
                val language = group.findViewById(checkedId)?.tag as? KeyboardLanguage
                if (language != null) KeyboardSettings.setLanguage(this@SettingsActivity, language)
            }
        }
    }

    private fun bundledModel(): String? = assets.list(BUNDLED_DIR)?.firstOrNull { it.endsWith(".gguf") }

    private fun inputMethods() = getSystemService(Context.INPUT_METHOD_SERVICE) as InputMethodManager

    private fun button(label: String, onTap: () -> Unit) = Button(this).apply {
        text = label
        setOnClickListener { onTap() }
    }

    private fun dp(v: Float): Int = TypedValue.applyDimension(TypedValue.COMPLEX_UNIT_DIP, v, resources.displayMetrics).toInt()
}
