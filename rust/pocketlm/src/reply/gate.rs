//! The trigger stage: whether a conversation gets suggestions at all (Smart Reply's
//! triggering model; ML Kit's no-suggestion for sensitive topics).

use super::catalog::Catalog;
use super::drafter::NoSuggestion;
use super::filter::{padded_key, words};
use super::spelling::spelled_out;
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
    if is_closing(&last.text, cat) {
        return Ok(Some(NoSuggestion::Closing));
    }
    Ok(None)
}

/// Whether a message is sent by a machine that reads no answer: a phrase of the catalog's
/// `automated` lexicon ("Your verification code is 482913", "Reply STOP to opt out").
pub fn is_automated(message: &str, cat: &Catalog) -> bool {
    cat.has_any(&padded_key(message), "automated")
        || asks_for_a_keyword(message, cat)
        || signed_notice(message, cat)
}

/// Longest sender name before a notice's colon, in words ("Royal Mail: Your parcel…").
const NOTICE_SENDER_MAX_WORDS: usize = 3;

/// Whether a message opens with a sender's name and a colon, then addresses the reader's
/// account ("Chase: Your balance is below $100.00", "Royal Mail: Your parcel from ASOS will be
/// delivered today"): a name of one to [`NOTICE_SENDER_MAX_WORDS`] capitalized words, then a
/// word of `notice_openings`. People do not sign their texts at the front; a label such as
/// "Reminder:" (`notice_labels`) names no sender.
fn signed_notice(message: &str, cat: &Catalog) -> bool {
    let Some((name, rest)) = message.split_once(':') else {
        return false;
    };
    let name: Vec<&str> = name.split_whitespace().collect();
    let first = rest.split_whitespace().next().map(|w| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    });
    (1..=NOTICE_SENDER_MAX_WORDS).contains(&name.len())
        && name
            .iter()
            .all(|w| w.starts_with(|c: char| c.is_uppercase()))
        && !cat.contains("notice_labels", &name.join(" ").to_lowercase())
        && first.is_some_and(|w| cat.contains("notice_openings", &w))
}

/// Whether a message asks for a keyword written in capitals ("Reply CANCEL to cancel",
/// "Reply NO or call 1-800…", "Text JOIN to 555"): a verb of `keyword_verbs`, a word in
/// capitals (not a pronoun shouted: "text ME"), then a word of `keyword_tails`. People
/// write "reply to confirm"; services name the word their machine reads.
fn asks_for_a_keyword(message: &str, cat: &Catalog) -> bool {
    let bare = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
    let ws: Vec<String> = message.split_whitespace().map(bare).collect();
    ws.windows(3).any(|w| {
        let keyword = &w[1];
        cat.contains("keyword_verbs", &w[0].to_lowercase())
            && keyword.chars().any(|c| c.is_ascii_uppercase())
            && keyword
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && !cat.contains("keyword_not", &keyword.to_lowercase())
            && cat.contains("keyword_tails", &w[2].to_lowercase())
    })
}

/// Whether a message only acknowledges or closes: all of it, spelled out ("k" is "ok", "👍"
/// is "ok"), is phrases of the catalog's `closing` lexicon one after another ("ok", "sounds
/// good", "ok cool 👍").
pub fn is_closing(message: &str, cat: &Catalog) -> bool {
    let said = words(&spelled_out(message, cat));
    // closes[i]: whether the words from i on are closing phrases one after another
    let mut closes = vec![false; said.len() + 1];
    closes[said.len()] = true;
    for i in (0..said.len()).rev() {
        closes[i] = cat
            .lexicon("closing")
            .iter()
            .any(|phrase| phrase_end(&said, i, phrase).is_some_and(|end| closes[end]));
    }
    !said.is_empty() && closes[0]
}

/// Where `phrase` (words joined by single spaces) ends if it is said from word `at` on.
fn phrase_end<S: AsRef<str>>(words: &[S], at: usize, phrase: &str) -> Option<usize> {
    let mut end = at;
    for w in phrase.split(' ') {
        if words.get(end).map(AsRef::as_ref) != Some(w) {
            return None;
        }
        end += 1;
    }
    Some(end)
}

/// The catalog's lexicons of sensitive topics, one per family, besides
/// `sensitive_emergency` (read apart: a birth on the way is no emergency).
const SENSITIVE_LEXICONS: [&str; 3] = ["sensitive_loss", "sensitive_despair", "sensitive_harm"];

/// Whether a message touches a sensitive topic: a phrase of the catalog's `sensitive_*`
/// lexicons (death and grief, self-harm and despair, violence and abuse, medical
/// emergencies), a body part of `alarm_body` with a warning sign of `alarm_symptom`, a means
/// of self-harm with an amount (`means`, `means_amounts`), a death told in the last words
/// (`loss_endings`), or a person doing violence to the sender (`violence_by_a_person`).
/// Hyperbole (`hyperbole`: "the death of me", "my phone died"), a ward named as a
/// workplace (`workplace_mentions`: "she's from ICU") and a hospice as a charity
/// (`charity_mentions`) are read as saying nothing,
/// and a hospital on the way to a birth (`birth_news`) or a test come back clear
/// (`medical_relief`) is no emergency. Beside the lexicons,
/// the catalog's trained word scorer (`SensitiveWords`) flags indirect phrasings; it reads
/// the message with the hyperbole and workplace phrases taken out too ("my van died on the
/// A1, can you come get me?" is a breakdown: "died" would count as a crisis word).
pub fn is_sensitive(message: &str, cat: &Catalog) -> bool {
    said_sensitive(message, cat)
        || cat
            .sensitive_words
            .as_ref()
            .is_some_and(|words| words.flags(&without_hyperbole(&padded_key(message), cat)))
}

/// Whether a phrase of the lexicons (or one of their rules) says something sensitive.
pub fn said_sensitive(message: &str, cat: &Catalog) -> bool {
    // "funeral's saturday" is read as "funeral saturday" too
    let plain = message.replace("'s ", " ").replace("\u{2019}s ", " ");
    [padded_key(message), padded_key(&plain)]
        .iter()
        .any(|padded| {
            let padded = &without_hyperbole(padded, cat);
            let emergency = cat.has_any(padded, "sensitive_emergency")
                || (cat.has_any(padded, "alarm_body") && cat.has_any(padded, "alarm_symptom"));
            let other = SENSITIVE_LEXICONS
                .iter()
                .any(|lexicon| cat.has_any(padded, lexicon))
                || (cat.has_any(padded, "means") && cat.has_any(padded, "means_amounts"))
                || cat
                    .lexicon("loss_endings")
                    .iter()
                    .any(|p| padded.ends_with(&format!(" {p} ")))
                || violence_by_a_person(padded, cat);
            let relief =
                cat.has_any(padded, "medical_relief") && !cat.has_any(padded, "relief_undone");
            let joyful = cat.has_any(padded, "birth_news") || relief;
            other || (emergency && !joyful)
        })
}

/// `padded` (words between spaces) with every phrase of `hyperbole`, `workplace_mentions`
/// and `charity_mentions` taken out.
fn without_hyperbole(padded: &str, cat: &Catalog) -> String {
    let mut out = padded.to_owned();
    let phrases = ["hyperbole", "workplace_mentions", "charity_mentions"]
        .iter()
        .flat_map(|lex| cat.lexicon(lex));
    for phrase in phrases {
        let p = format!(" {phrase} ");
        while out.contains(&p) {
            out = out.replacen(&p, " ", 1);
        }
    }
    out
}

/// "my husband hits me", "he always shoves me": a person of `harm_actors`, then at most one
/// word of `harm_adverbs`, then an act of `harm_acts` not going on with `harm_games` ("he hit
/// me up", "she always beats me at chess").
fn violence_by_a_person(padded: &str, cat: &Catalog) -> bool {
    let ws: Vec<&str> = padded.split_whitespace().collect();
    let act_from = |at: usize| {
        cat.lexicon("harm_acts").iter().any(|act| {
            phrase_end(&ws, at, act).is_some_and(|end| {
                !cat.lexicon("harm_games")
                    .iter()
                    .any(|g| phrase_end(&ws, end, g).is_some())
            })
        })
    };
    (0..ws.len())
        .filter(|&i| cat.contains("harm_actors", ws[i]))
        .any(|i| {
            act_from(i + 1)
                || (ws
                    .get(i + 1)
                    .is_some_and(|w| cat.contains("harm_adverbs", w))
                    && act_from(i + 2))
        })
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
        // spam, appointment reminders read by a machine and ride notices (found by the
        // session-19 read of blind9)
        for m in [
            "FREE entry! You've been selected to win a $500 gift card. Click here to claim: bit.ly/xyz",
            "Reminder: your appointment is on Thu at 10:30 AM. Reply C to confirm or call 555-0142.",
            "Your Uber is arriving now. Look for a grey Toyota Camry.",
            "Your driver is 2 minutes away",
            "Alert: a $95.10 purchase on card ending 1234. Reply YES if this was you.",
            "FedEx: your parcel could not be delivered, incomplete address",
            // session 21 (blind15): payouts and dispatches
            "Your Stripe payout of $88.20 has been processed.",
            "Good news! Your order #4471 has been dispatched.",
        ] {
            assert!(is_automated(m, c), "{m}");
        }
        assert!(!is_automated(
            "Your package has been delivered to your front porch.",
            c
        ));
        assert!(!is_automated("can you reply to the landlord for me?", c));
        assert!(!is_automated(
            "Hi, this is Dr. Lee's office confirming your visit Monday at 9. Please reply to confirm or call us.",
            c
        ));
        assert!(!is_automated("I'll be your driver tonight lol", c));
        // session 23 (blind20): a keyword in capitals to reply with, not only STOP; a
        // sender's name and a colon before "Your…"
        for (m, machine) in [
            (
                "Evri: Your parcel from Boots is out for delivery today",
                true,
            ),
            ("Monzo: Your card was declined at Tesco Express", true),
            ("Mum: ur dinner is in the oven", false),
            ("NOTE to self: buy milk", false),
            (
                "Reminder: Your appointment with Dr. Patel is Tue at 2:30 PM. Please arrive early.",
                false,
            ),
        ] {
            assert_eq!(is_automated(m, c), machine, "{m}");
        }
        for m in [
            "NHS: Your flu jab is confirmed for 14 Nov at 10:20. Reply CANCEL to cancel.",
            "Bank alert: was this you? Reply NO or call the number on your card.",
            "Text JOIN to 80088 for weekly offers",
        ] {
            assert!(is_automated(m, c), "{m}");
        }
        for m in [
            "Reply to confirm or call us",
            "text ME if you need anything",
            "Can you reply to Mum? She's waiting",
            "Reply when you can",
        ] {
            assert!(!is_automated(m, c), "{m}");
        }
        assert_eq!(
            gate(&[Message::incoming("see you at 8!")], c).unwrap(),
            None
        );
    }

    #[test]
    fn closing_messages_get_no_suggestion() {
        let c = Catalog::builtin().unwrap();
        // found by the session-19 read of blind9 ("k" got "What do you mean?")
        for m in [
            "k",
            "kk",
            "Ok!",
            "okay 👍",
            "👍",
            "Sounds good!",
            "got it",
            "cool cool",
        ] {
            assert_eq!(
                gate(&[Message::incoming(m)], c).unwrap(),
                Some(NoSuggestion::Closing),
                "{m}"
            );
        }
        // an acknowledgement with more in it is answered
        for m in [
            "ok see you at 8",
            "sounds good, what time?",
            "ok thanks!",
            "got it, I'll bring the cake",
            "is that ok?",
            "cool, want to come too?",
            "See you there 👍",
            // accepting a favour asked is thanked for
            "No problem",
            "sure!",
        ] {
            assert!(!is_closing(m, c), "{m}");
        }
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
            // found by the session-19 read of blind9: despair said as "ending it", and
            // violence by a named person
            "I don't really want to be here anymore. I've been thinking about ending it.",
            "My husband hits me when he drinks and I don't know what to do",
            "my bf always grabs me when he's angry",
            "she threw things at me again last night",
            // found by the session-19 read of blind11
            "she smashed my phone again, I'm scared to go home",
            // families of the session-19 safety probe sets, on messages of their own
            "been saving all my sleeping pills, pretty sure it's enough now",
            "i keep thinking everyone would be better off if i wasnt here",
            "he put something in my drink and i woke up somewhere else",
            "my stepmom controls all the money and wont let me leave",
            "the guy from the bar knows where i live now",
            "she's barely breathing and her lips are blue, calling 911",
            "the biopsy came back malignant",
            "the baby didn't make it",
            "tomorrow would have been his 40th, first one without him",
            // hyperbole says nothing, the rest is still read; a birth hides no loss
            "sorry my phone died last night, grandpa passed away",
            "this week has been the death of me and now dad had a stroke",
            "she was in labour for hours and we lost the baby",
            // session 21: a relief undone
            "mum's scan came back clear but the cancer has spread to her liver",
            // session 22: a ward as a workplace says nothing; a patient in it still does
            "dad's in ICU after the crash",
            "my sister works in ICU and she says grandad is in intensive care now",
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
            "he hit me up about the party",
            "this week is going to be the death of me lol",
            "the new manager starts Monday, apparently she's from ICU",
            "my cousin is an ICU nurse, she'll know which hospital is best",
            "almost had a heart attack when I saw the bill 😂",
            "we didn't make it to the gym today",
            "can you jump me? my battery's dead",
            "grabbing pills from the pharmacy, need anything?",
            "this song just hits me right in the feels",
            "the ball hit me in the face lol",
            "my dad always beats me at chess",
            // session 20: hyperbole and births beside an emergency word
            "can I borrow your charger? mine just died",
            "the funeral scene in that movie wrecked me",
            "my cousin's on the way to the hospital, she's in labour!!",
            // session 21: a test come back clear
            "dad's biopsy came back benign!! what a week",
            "it's Jo on Tom's phone, mine's died. can you call me back?",
            "my van died on the A1, can you come get me?",
            // session 23: a hospice named as a charity
            "the choir raised £300 for the hospice at the bake sale!!",
        ] {
            assert!(!is_sensitive(m, c), "{m}");
        }
        assert!(is_sensitive("Dad has been moved to the hospice", c));
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
