package dev.pocketlm.samples

/**
 * The "Add to calendar" action of the reply screen: an event read out of an incoming message by
 * schema-constrained extraction ([CALENDAR_SCHEMA], the same as tests/fixtures/calendar-schema.json).
 * Fields are in the message's own words; null when the message does not say.
 */
data class CalendarEvent(val title: String?, val date: String?, val time: String?, val place: String?) {
    /** The action button's label: "Add to calendar: " and the title, date and time it has. */
    val actionLabel: String get() = "Add to calendar: " + listOfNotNull(title, date, time).joinToString(" · ")

    /**
     * Date and time as the message says them ("Friday, 7pm"; null when it names neither), for the
     * calendar editor's description: they are not parsed into a date.
     */
    val whenText: String? get() = listOfNotNull(date, time).takeIf { it.isNotEmpty() }?.joinToString(", ")

    companion object {
        /** The extraction's JSON Schema (tests/fixtures/calendar-schema.json; a test keeps them equal). */
        const val CALENDAR_SCHEMA = """{"type":"object","properties":{"title":{"type":["string","null"],"maxLength":40},"date":{"type":["string","null"],"maxLength":40},"time":{"type":["string","null"],"maxLength":40},"place":{"type":["string","null"],"maxLength":60}},"required":["title","date","time","place"],"additionalProperties":false}"""

        /** The extraction's instruction (the one `pocketlm eval-extract` measures); the message follows it. */
        const val EXTRACT_PROMPT =
            "Extract the event from this message as JSON with the keys title, date, time and place. " +
                "Copy date, time and place in the message's own words; use null for anything the message does not say."

        /** The prompt for [message]. */
        fun prompt(message: String): String = "$EXTRACT_PROMPT\n\nMessage: $message"

        /**
         * The action for [message] from the extraction's JSON output [json], or null when there is
         * none to offer. A small model invents dates and places a message never names, so a date,
         * time or place counts only when it is quoted from the message (case and spacing aside);
         * the action is offered when at least one of them is. The title is the model's (or the
         * place's, when it has none).
         */
        fun fromExtraction(message: String, json: String): CalendarEvent? {
            val parsed = try {
                Json.parse(json)
            } catch (e: JsonException) {
                return null
            }
            // What the schema allows: an object whose values are strings or null.
            val fields = parsed as? Map<*, *> ?: return null
            if (fields.values.any { it != null && it !is String }) return null
            fun quoted(key: String): String? =
                (fields[key] as String?)?.trim()?.takeIf { it.isNotEmpty() && contains(message, it) }
            val date = quoted("date")
            val time = quoted("time")
            val place = quoted("place")
            if (date == null && time == null && place == null) return null
            val title = (fields["title"] as String?)?.trim()?.takeIf { it.isNotEmpty() } ?: place
            return CalendarEvent(title, date, time, place)
        }

        private fun norm(s: String): String = s.lowercase().split(Regex("\\s+")).filter { it.isNotEmpty() }.joinToString(" ")

        private fun contains(message: String, value: String): Boolean = norm(message).contains(norm(value))
    }
}
