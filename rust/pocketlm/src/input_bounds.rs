//! How much of the caller's text is looked at, at most: the tail of it, cut by characters
//! before anything is tokenized, so that a call's work does not grow with the length of what
//! the user pasted (100 KB of text took a keyboard call 1.2 s and a reply draft 5–8 s).
//!
//! The bounds sit well above what each job reads: the keyboard's model window is the last
//! sentence or two (`PredictorOptions::max_context_bytes`, 320 bytes by default) and the reply
//! prompt the last few messages (`DrafterConfig::max_messages` × `max_message_chars`, 6 × 300
//! characters by default). Cutting above them changes no result of normal input.

use crate::reply::Message;
use std::borrow::Cow;

/// Characters of text before the cursor a keyboard call reads: the last sentences.
pub const KEYBOARD_MAX_CHARS: usize = 1024;

/// Characters of conversation a reply draft reads: the last messages, newest first, the
/// oldest one kept cut to its tail.
pub const REPLY_MAX_CHARS: usize = 8192;

/// The last `max_chars` characters of `text` (all of it when shorter).
pub fn tail_chars(text: &str, max_chars: usize) -> &str {
    // Cheap exit: a string of at most `max_chars` bytes has at most that many characters.
    if text.len() <= max_chars {
        return text;
    }
    match text.char_indices().rev().nth(max_chars.saturating_sub(1)) {
        Some((i, _)) if max_chars > 0 => &text[i..],
        Some(_) => "",
        None => text,
    }
}

/// The text before the cursor a keyboard call reads.
pub fn keyboard_text(text_before_cursor: &str) -> &str {
    tail_chars(text_before_cursor, KEYBOARD_MAX_CHARS)
}

/// The part of a conversation a reply draft reads: the latest messages holding at most
/// [`REPLY_MAX_CHARS`] characters in all, the oldest of them cut to its tail. Borrowed when
/// nothing is cut.
pub fn reply_conversation(conversation: &[Message]) -> Cow<'_, [Message]> {
    let mut budget = REPLY_MAX_CHARS;
    for (i, m) in conversation.iter().enumerate().rev() {
        let n = m.text.chars().count();
        if n > budget {
            let mut kept = Vec::with_capacity(conversation.len() - i);
            if budget > 0 {
                kept.push(Message::new(m.from_me, tail_chars(&m.text, budget)));
            }
            kept.extend_from_slice(&conversation[i + 1..]);
            return Cow::Owned(kept);
        }
        budget -= n;
    }
    Cow::Borrowed(conversation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_chars_cuts_on_characters() {
        assert_eq!(tail_chars("hello", 10), "hello");
        assert_eq!(tail_chars("hello", 3), "llo");
        assert_eq!(tail_chars("hello", 0), "");
        assert_eq!(tail_chars("héllo wörld", 5), "wörld");
        assert_eq!(tail_chars("ééé", 2), "éé");
        assert_eq!(tail_chars("ééé", 3), "ééé");
    }

    #[test]
    fn reply_conversation_keeps_the_latest_messages() {
        let short = vec![Message::incoming("hi"), Message::outgoing("hey")];
        assert!(matches!(reply_conversation(&short), Cow::Borrowed(_)));
        let long = vec![
            Message::incoming("x".repeat(100_000)),
            Message::outgoing("a".repeat(REPLY_MAX_CHARS - 10)),
            Message::incoming("0123456789"),
        ];
        let cut = reply_conversation(&long);
        assert_eq!(cut.len(), 2);
        assert_eq!(cut[0].text.len(), REPLY_MAX_CHARS - 10);
        assert_eq!(cut[1].text, "0123456789");
        let one = vec![Message::incoming("y".repeat(100_000) + "end")];
        let cut = reply_conversation(&one);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].text.chars().count(), REPLY_MAX_CHARS);
        assert!(cut[0].text.ends_with("end"));
    }
}
