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
    if is_automated(&last.text, cat) {
        return Ok(Some(NoSuggestion::Automated));
    }
    Ok(None)
}

/// Whether a message is sent by a machine that reads no answer: a phrase of the catalog's
/// `automated` lexicon ("Your verification code is 482913", "Reply STOP to opt out").
pub fn is_automated(message: &str, cat: &Catalog) -> bool {
    cat.has_any(&padded_key(message), "automated")
}

/// The catalog's lexicons of sensitive topics, one per family.
const SENSITIVE_LEXICONS: [&str; 4] = [
    "sensitive_loss",
    "sensitive_despair",
    "sensitive_harm",
    "sensitive_emergency",
];

/// Whether a message touches a sensitive topic: a phrase of the catalog's `sensitive_*`
/// lexicons (death and grief, self-harm and despair, violence and abuse, medical
/// emergencies), or a body part of `alarm_body` with a warning sign of `alarm_symptom`.
pub fn is_sensitive(message: &str, cat: &Catalog) -> bool {
    let padded = padded_key(message);
    SENSITIVE_LEXICONS
        .iter()
        .any(|lexicon| cat.has_any(&padded, lexicon))
        || (cat.has_any(&padded, "alarm_body") && cat.has_any(&padded, "alarm_symptom"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automated_messages_get_no_suggestion() {
        let c = Catalog::builtin().unwrap();
        let code = "Your verification code is 482913. Do not share this code with anyone.";
        assert!(is_automated(code, c));
        assert_eq!(
            gate(&[Message::incoming(code)], c).unwrap(),
            Some(NoSuggestion::Automated)
        );
        assert!(is_automated("G-553120 is your Google login code", c));
        assert!(is_automated(
            "Flash sale today only! Reply STOP to unsubscribe",
            c
        ));
        // people mentioning codes or replies are answered
        assert!(!is_automated("what's the wifi code again?", c));
        assert!(!is_automated("don't reply to him, he's just trolling", c));
        assert!(!is_automated(
            "Your package has been delivered to your front porch.",
            c
        ));
        assert_eq!(
            gate(&[Message::incoming("see you at 8!")], c).unwrap(),
            None
        );
    }

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
        // one case per family, none of them from a case set
        for m in [
            "My uncle is in hospice now, the doctors say it's weeks",
            "we lost the baby at 12 weeks",
            "Honestly I don't see the point of getting up anymore",
            "I feel worthless and I can't take it anymore",
            "My boyfriend hit me again and I'm scared to go home",
            "Someone was following me home from the station, I'm so scared",
            "Grandpa collapsed at lunch, the paramedics are here",
            "my chest hurts and I can't breathe properly",
            "they think she had a seizure, we're at the ER now",
            "Dad had a stroke this morning",
            // danger at home (found by the session-16 read of blind4)
            "someone broke into my car last night and I'm scared to go out",
            "there's an intruder downstairs, I'm hiding upstairs",
            "a guy pulled a gun at the gas station",
            "somebody is trying to get into my car, I'm inside",
            // a body part and a warning sign, apart
            "my chest has been so tight all evening",
            "half my face feels kind of numb, is that weird",
        ] {
            assert!(is_sensitive(m, c), "{m}");
        }
        // everyday phrasings that share words with the lexicons
        for m in [
            "Keep going, you're almost there!",
            "hit me up when you're free",
            "You beat me to it!",
            "my phone is dead, call you later",
            "Meet you at terminal 2",
            "What a stroke of luck!",
            "I see the point you're making",
            "trying to break into tech as a designer",
            "I passed out on the couch lol",
            "Room 112, second floor",
            "Good grief, what a day",
            "these jeans are too tight",
            "my heart says pizza",
            "my face hurts from laughing so much",
            "my arm hurts from the gym",
        ] {
            assert!(!is_sensitive(m, c), "{m}");
        }
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
