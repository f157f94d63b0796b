package dev.pocketlm.samples

import kotlin.test.assertEquals
import org.junit.jupiter.api.Test

class TextUnitsTest {
    @Test
    fun `scalar offsets convert to UTF-16 indices`() {
        // 👍 is one scalar of two units; e + combining acute is two scalars of one unit each.
        assertEquals(3, TextUnits.scalarCount("a\uD83D\uDC4D\uD83C\uDFFD"))
        assertEquals(5, TextUnits.scalarCount("cafe\u0301"))
        assertEquals(3, TextUnits.unitIndexOfScalar("a\uD83D\uDC4Db", 2))
        assertEquals(4, TextUnits.unitIndexOfScalar("a\uD83D\uDC4Db", 7))
        assertEquals(0, TextUnits.unitIndexOfScalar("a\uD83D\uDC4Db", -1))
        assertEquals(1, TextUnits.unitIndexOfScalar("a\uD83D\uDC4Db", 1))
    }
}
