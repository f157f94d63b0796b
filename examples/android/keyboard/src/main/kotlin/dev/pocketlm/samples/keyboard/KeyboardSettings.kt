package dev.pocketlm.samples.keyboard

import android.content.Context
import dev.pocketlm.samples.KeyboardLanguage

/** The keyboard's stored settings (one SharedPreferences file shared by the settings screen and the service). */
object KeyboardSettings {
    private const val FILE = "keyboard"
    private const val LANGUAGE = "language"

    fun language(context: Context): KeyboardLanguage =
        KeyboardLanguage.of(context.getSharedPreferences(FILE, Context.MODE_PRIVATE).getString(LANGUAGE, null))
            ?: KeyboardLanguage.DEFAULT

    fun setLanguage(context: Context, language: KeyboardLanguage) {
        context.getSharedPreferences(FILE, Context.MODE_PRIVATE).edit().putString(LANGUAGE, language.code).apply()
    }
}
