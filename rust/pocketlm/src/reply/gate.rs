//! The trigger stage: whether a conversation gets suggestions at all (Smart Reply's
//! triggering model; ML Kit's no-suggestion for sensitive topics).

use super::catalog::Catalog;
use super::drafter::NoSuggestion;
use super::filter::padded_key;
use super::{Message, ReplyError};

/// `Err` for input that is not a conversation to reply to, `Ok(Some(reason))` when no
/// suggestion should be made, `Ok(None)` to go on.
pub fn gate(conversation: &[Message], cat: &Catalog) -> Result<Option<NoSuggestion>, ReplyError> {
    let last = conversation.last().ok_or(ReplyError::EmptyConversation)?;
    if last.text.trim().is_empty() {
        return Err(ReplyError::EmptyMessage);
    }
    if last.from_me {
        return Ok(Some(NoSuggestion::LastMessageIsMine));
    }
    if is_sensitive(&last.text, cat) {
        return Ok(Some(NoSuggestion::Sensitive));
    }
    Ok(None)
}

/// Whether a message touches a sensitive topic (the catalog's `sensitive` lexicon: grief,
/// self-harm, abuse, violence, serious illness, emergencies).
pub fn is_sensitive(message: &str, cat: &Catalog) -> bool {
    cat.has_any(&padded_key(message), "sensitive")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_topics_and_own_messages() {
        let c = Catalog::builtin().unwrap();
        assert!(is_sensitive("My grandmother passed away last night.", c));
        assert!(is_sensitive("I want to kill myself", c));
        // despair without a self-harm word (found by the issue-17 blind read)
        assert!(is_sensitive("I can't go on like this", c));
        assert!(is_sensitive(
            "Honestly everything feels pointless lately",
            c
        ));
        assert!(is_sensitive("they'd be better off without me", c));
        assert!(!is_sensitive("Keep going, you're almost there!", c));
        assert!(!is_sensitive("Can we meet tomorrow at 5?", c));
        assert!(!is_sensitive("That joke killed me lol", c));
        assert_eq!(
            gate(&[Message::outgoing("hi")], c).unwrap(),
            Some(NoSuggestion::LastMessageIsMine)
        );
        assert_eq!(gate(&[Message::incoming("hi")], c).unwrap(), None);
        assert!(matches!(gate(&[], c), Err(ReplyError::EmptyConversation)));
        assert!(matches!(
            gate(&[Message::incoming(" ")], c),
            Err(ReplyError::EmptyMessage)
        ));
    }
}
