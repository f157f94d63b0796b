package dev.pocketlm.samples

/**
 * The keyboard's language setting: the ISO 639-1 codes the core's predictor takes
 * (`KeyboardOptions.language`, docs/keyboard.md) with the names the settings screen shows.
 * Languages other than English need a multilingual model (Gemma 3 270M).
 */
enum class KeyboardLanguage(val code: String, val displayName: String) {
    EN("en", "English"),
    ES("es", "Español"),
    DE("de", "Deutsch"),
    FR("fr", "Français"),
    PT("pt", "Português"),
    IT("it", "Italiano"),
    ;

    companion object {
        val DEFAULT = EN

        /** The language of [code] ("de", "DE", "pt-BR", "pt_BR": the region is ignored), or null. */
        fun of(code: String?): KeyboardLanguage? {
            val base = code?.trim()?.substringBefore('-')?.substringBefore('_')?.lowercase() ?: return null
            return entries.firstOrNull { it.code == base }
        }
    }
}
