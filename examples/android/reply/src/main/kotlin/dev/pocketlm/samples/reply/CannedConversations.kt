package dev.pocketlm.samples.reply

import dev.pocketlm.ConversationMessage

/** A few conversations to start from (the last message is incoming, so chips are drafted at once). */
object CannedConversations {
    class Conversation(val title: String, val messages: List<ConversationMessage>) {
        override fun toString() = title
    }

    private fun them(text: String) = ConversationMessage(fromMe = false, text = text)
    private fun me(text: String) = ConversationMessage(fromMe = true, text = text)

    val ALL = listOf(
        Conversation("Meeting", listOf(them("Can we meet tomorrow at 5?"))),
        Conversation("Dinner", listOf(them("Hey!"), me("Hi, what's up?"), them("Are you coming to dinner tonight?"))),
        Conversation("Thanks", listOf(me("I left the keys with your neighbour."), them("Thanks so much for the help!"))),
        Conversation("Running late", listOf(them("Where are you? The movie starts in 10 minutes."))),
        Conversation("Empty", emptyList()),
    )
}
