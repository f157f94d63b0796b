package dev.pocketlm.samples

import kotlin.test.assertEquals
import org.junit.jupiter.api.Test

class TextUnitsTest {
    @Test
    fun `scalars convert to UTF-16 units walking code points back`() {
        assertEquals(0, TextUnits.unitsOfLastScalars("abc", 0))
        assertEquals(2, TextUnits.unitsOfLastScalars("abc", 2))
        // 👍🏽 is two scalars of two units each.
        assertEquals(4, TextUnits.unitsOfLastScalars("a\uD83D\uDC4D\uD83C\uDFFD", 2))
        assertEquals(2, TextUnits.unitsOfLastScalars("a\uD83D\uDC4D\uD83C\uDFFD", 1))
        assertEquals(5, TextUnits.unitsOfLastScalars("a\uD83D\uDC4D\uD83C\uDFFD", 9))
        // e + combining acute: two scalars, two units.
        assertEquals(2, TextUnits.unitsOfLastScalars("cafe\u0301", 2))
        assertEquals(3, TextUnits.scalarCount("a\uD83D\uDC4D\uD83C\uDFFD"))
        assertEquals(3, TextUnits.unitIndexOfScalar("a\uD83D\uDC4Db", 2))
        assertEquals(4, TextUnits.unitIndexOfScalar("a\uD83D\uDC4Db", 7))
        assertEquals(0, TextUnits.unitIndexOfScalar("a\uD83D\uDC4Db", -1))
    }

    @Test
    fun `backspace units cover whole user-perceived characters`() {
        val cases = listOf(
            Triple("cafe\u0301", 1, 2), // é as e + U+0301
            Triple("ok \uD83D\uDC4D\uD83C\uDFFD", 1, 4), // 👍🏽 thumbs up, medium skin tone
            Triple("\uD83C\uDDEB\uD83C\uDDF7\uD83C\uDDE9\uD83C\uDDEA", 1, 4), // 🇫🇷🇩🇪: one flag
            Triple("\uD83C\uDDEB\uD83C\uDDF7\uD83C\uDDE9\uD83C\uDDEA", 2, 8),
            Triple("a\uD83D\uDC69\u200D\uD83D\uDCBB", 1, 5), // 👩‍💻 (ZWJ sequence)
            Triple("\u2764\uFE0F", 1, 2), // ❤️ with a variation selector
            Triple("line\r\n", 1, 2),
            Triple("ab", 5, 2),
            Triple("", 1, 0),
        )
        for ((text, n, units) in cases) {
            assertEquals(units, TextUnits.unitsOfLastGraphemes(text, n), "last $n of ${text.map { it.code }}")
        }
        assertEquals(4, Graphemes.count("cafe\u0301"))
        assertEquals(2, Graphemes.count("\n\u0301")) // nothing joins a control character
    }
}
