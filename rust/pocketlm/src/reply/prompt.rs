//! The reply prompt: a fixed instruction and few-shot examples (evaluated once per tone and
//! reused from the KV cache), then the conversation window.
//!
//! The examples are generic texting situations written for this purpose (none comes from the
//! evaluation cases). They show the model the length and register of a good reply, including
//! declining and not-knowing replies, which a small instruction-tuned model otherwise never
//! produces.

use super::{Message, Tone};
use crate::chat_template::ChatMessage;

const SYSTEM: &str = "You are texting with a friend. Reply to their last message with one short, natural text message of a few words. Never mention being an AI.";
const SYSTEM_CASUAL: &str = "You are texting with a close friend. Reply to their last message with one very short, casual text message. Never mention being an AI.";
const SYSTEM_FORMAL: &str = "You are replying to a colleague's message. Reply with one short, polite, professional message. Never mention being an AI.";

/// (incoming message, neutral reply, casual reply, formal reply)
const EXAMPLES: &[(&str, &str, &str, &str)] = &[
    (
        "Are you free for lunch tomorrow?",
        "Sure, what time?",
        "yeah! when?",
        "Yes, I am available. What time suits you?",
    ),
    (
        "Did you finish the report?",
        "Not yet, almost done.",
        "nope, almost there",
        "Not yet, I will send it shortly.",
    ),
    (
        "Thanks so much for your help today!",
        "You're welcome!",
        "anytime!",
        "You are very welcome.",
    ),
    (
        "I got the job!!",
        "Congratulations!",
        "omg congrats!!",
        "Congratulations, well deserved.",
    ),
    (
        "Want to watch a movie tonight?",
        "Sorry, I can't tonight.",
        "can't tonight :(",
        "Unfortunately I am not available tonight.",
    ),
    (
        "How was your weekend?",
        "It was great, thanks!",
        "pretty chill, you?",
        "It was lovely, thank you.",
    ),
    (
        "Is it going to rain today?",
        "I'm not sure.",
        "no idea lol",
        "I am not certain.",
    ),
    (
        "Can you pick up some milk on the way home?",
        "Sure, no problem.",
        "yep will do",
        "Of course, I will.",
    ),
    (
        "Sorry, I'm running 10 minutes late.",
        "No worries, see you soon.",
        "np!",
        "No problem, thank you for letting me know.",
    ),
    (
        "What do you think of the new logo?",
        "I like it a lot!",
        "looks awesome",
        "I think it looks very good.",
    ),
    (
        "I'm so tired today.",
        "Get some rest!",
        "aw take it easy",
        "I hope you can rest soon.",
    ),
    ("Good night!", "Good night!", "night!", "Good night."),
];

/// The fixed part of the prompt for a tone: system instruction and the few-shot turns.
pub fn prefix(tone: Tone) -> Vec<ChatMessage> {
    let system = match tone {
        Tone::Neutral => SYSTEM,
        Tone::Casual => SYSTEM_CASUAL,
        Tone::Formal => SYSTEM_FORMAL,
    };
    let mut out = vec![ChatMessage::system(system)];
    for &(msg, neutral, casual, formal) in EXAMPLES.iter() {
        out.push(ChatMessage::user(msg));
        out.push(ChatMessage::assistant(match tone {
            Tone::Neutral => neutral,
            Tone::Casual => casual,
            Tone::Formal => formal,
        }));
    }
    out
}

/// Shortens a message longer than `max_chars` characters to its first and last parts joined
/// by " … " (the opening usually says what it is about, the end what is asked).
pub fn clip(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let n = text.chars().count();
    if n <= max_chars {
        return text.to_owned();
    }
    let head = max_chars * 2 / 3;
    let tail = max_chars - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{} … {}", start.trim_end(), end.trim_start())
}

/// The conversation as chat turns: the other person is `user`, the device owner `assistant`;
/// consecutive messages from one side are joined by newlines. Keeps at most `max_messages`
/// of the latest messages, each clipped to `max_chars`. Empty messages are skipped.
pub fn window(conversation: &[Message], max_messages: usize, max_chars: usize) -> Vec<ChatMessage> {
    let start = conversation.len().saturating_sub(max_messages.max(1));
    let mut out: Vec<ChatMessage> = Vec::new();
    let mut last_from_me = None;
    for m in &conversation[start..] {
        let text = clip(&m.text, max_chars);
        if text.is_empty() {
            continue;
        }
        if last_from_me == Some(m.from_me) {
            let last = out.last_mut().expect("a previous message exists");
            last.content.push('\n');
            last.content.push_str(&text);
        } else {
            out.push(if m.from_me {
                ChatMessage::assistant(text)
            } else {
                ChatMessage::user(text)
            });
            last_from_me = Some(m.from_me);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_head_and_tail() {
        let long = "a".repeat(100) + &"b".repeat(100);
        let c = clip(&long, 30);
        assert!(c.starts_with("aaaaaaaaaaaaaaaaaaaa"));
        assert!(c.ends_with("bbbbbbbbbb"));
        assert_eq!(c.chars().count(), 30 + 3);
        assert_eq!(clip("  hi  ", 30), "hi");
    }

    #[test]
    fn window_merges_and_limits() {
        let conv = vec![
            Message::new(false, "old"),
            Message::new(true, "mine"),
            Message::new(false, "one"),
            Message::new(false, "two"),
        ];
        let w = window(&conv, 3, 100);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].role, crate::chat_template::Role::Assistant);
        assert_eq!(w[0].content, "mine");
        assert_eq!(w[1].content, "one\ntwo");
        let w = window(&conv, 2, 100);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].content, "one\ntwo");
    }
}
