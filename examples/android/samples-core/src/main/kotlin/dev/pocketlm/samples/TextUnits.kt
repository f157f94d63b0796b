package dev.pocketlm.samples

/**
 * Conversions between the three ways of counting text the samples meet: UTF-16 units (Android's
 * `InputConnection`, Kotlin `String` indices), Unicode scalars (the core's `TextEdit.deleteChars`,
 * the simulator's cursor) and user-perceived characters (what one backspace removes).
 */
object TextUnits {
    /** Unicode scalars in [text] (a lone surrogate counts as one). */
    fun scalarCount(text: String): Int = text.codePointCount(0, text.length)

    /**
     * UTF-16 units taken by the last [scalars] Unicode scalars of [text], walking code points back
     * from the end (all of [text] when it has fewer).
     */
    fun unitsOfLastScalars(text: String, scalars: Int): Int {
        var i = text.length
        var left = scalars
        while (left > 0 && i > 0) {
            i = text.offsetByCodePoints(i, -1)
            left--
        }
        return text.length - i
    }

    /** The UTF-16 index of scalar offset [scalars] in [text], clamped to the text. */
    fun unitIndexOfScalar(text: String, scalars: Int): Int {
        if (scalars <= 0) return 0
        return if (scalars >= scalarCount(text)) text.length else text.offsetByCodePoints(0, scalars)
    }

    /** UTF-16 units taken by the last [clusters] user-perceived characters of [text]. */
    fun unitsOfLastGraphemes(text: String, clusters: Int): Int {
        if (clusters <= 0 || text.isEmpty()) return 0
        val starts = Graphemes.starts(text)
        return if (clusters >= starts.size) text.length else text.length - starts[starts.size - clusters]
    }
}

/**
 * Grapheme clusters (user-perceived characters) after Unicode's extended-cluster rules, reduced to
 * what typed text contains: combining marks, variation selectors, emoji modifiers (skin tones),
 * tag characters and zero-width-joiner sequences join the character before them; regional
 * indicators pair into flags; CR LF is one cluster; nothing joins a control character. The same
 * on every Android version (the platform's `BreakIterator` differs between releases).
 */
object Graphemes {
    private const val CR = 0x0D
    private const val LF = 0x0A
    private const val ZWJ = 0x200D

    /** Code point ranges that always extend the cluster before them (besides the marks M*). */
    private val EXTENDERS = listOf(
        0x200C..0x200D, // zero-width non-joiner, joiner
        0xFE00..0xFE0F, // variation selectors (emoji / text presentation)
        0x1F3FB..0x1F3FF, // emoji modifiers (skin tones)
        0xE0020..0xE007F, // tag characters (subdivision flags)
        0xE0100..0xE01EF, // variation selectors supplement
    )
    private val REGIONAL_INDICATORS = 0x1F1E6..0x1F1FF

    private fun isMark(cp: Int): Boolean = when (Character.getType(cp).toByte()) {
        Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> true
        else -> false
    }

    private fun isExtender(cp: Int): Boolean = isMark(cp) || EXTENDERS.any { cp in it }

    private fun isControl(cp: Int): Boolean = cp == CR || cp == LF || Character.getType(cp).toByte() == Character.CONTROL

    /** The UTF-16 index where each cluster of [text] starts, in order. */
    fun starts(text: String): IntArray {
        val out = ArrayList<Int>()
        var prev = -1
        var riRun = 0 // regional indicators in a row so far
        var i = 0
        while (i < text.length) {
            val cp = text.codePointAt(i)
            val joins = when {
                prev < 0 -> false
                prev == CR && cp == LF -> true
                isControl(prev) || isControl(cp) -> false
                isExtender(cp) -> true
                prev == ZWJ -> true
                cp in REGIONAL_INDICATORS && prev in REGIONAL_INDICATORS -> riRun % 2 == 1
                else -> false
            }
            if (!joins) out.add(i)
            riRun = if (cp in REGIONAL_INDICATORS) riRun + 1 else 0
            prev = cp
            i += Character.charCount(cp)
        }
        return out.toIntArray()
    }

    /** User-perceived characters in [text]. */
    fun count(text: String): Int = starts(text).size
}
