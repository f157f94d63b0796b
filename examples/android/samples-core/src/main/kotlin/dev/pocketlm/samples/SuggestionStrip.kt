package dev.pocketlm.samples

/** The three-slot suggestion strip, in LatinIME's order: the best word in the middle. */
object SuggestionStrip {
    const val SLOTS = 3

    /** Three empty slots. */
    val EMPTY: List<String> = listOf("", "", "")

    /** Slots `[second, best, third]` from words best first; missing words are "". */
    fun arrange(bestFirst: List<String>): List<String> =
        listOf(bestFirst.getOrElse(1) { "" }, bestFirst.getOrElse(0) { "" }, bestFirst.getOrElse(2) { "" })
}
