//! Text checks for reply candidates: validity (no empty text, markup, assistant-speak,
//! repetition loops, blocked words), near-duplicate detection, polarity, and the
//! sensitive-topic trigger.

use super::intent::Intents;

/// Lowercase words (letters, digits and apostrophes), for comparisons.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('\'', ""))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words of `text` joined by single spaces: equal keys mean equal replies.
pub fn key(text: &str) -> String {
    words(text).join(" ")
}

/// The key of `text` between spaces (" a b "), for [`has_phrase`].
pub fn padded_key(text: &str) -> String {
    format!(" {} ", key(text))
}

/// Whether `phrase` (lowercase words joined by single spaces) occurs as whole words in
/// `padded` (see [`padded_key`]).
pub fn has_phrase(padded: &str, phrase: &str) -> bool {
    padded.contains(&format!(" {phrase} "))
}

/// Why a candidate was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    TooLong,
    Markup,
    AssistantSpeak,
    Repetition,
    Blocked,
    EchoesMessage,
    Unfinished,
    /// A reply that answers another kind of message ("You're welcome!" without thanks).
    OffContext,
}

/// Phrases that show the model answering as an AI assistant rather than as the person texting.
const ASSISTANT_SPEAK: &[&str] = &[
    "as an ai",
    "an ai ",
    "ai language model",
    "language model",
    "i am an ai",
    "im an ai",
    "i'm an ai",
    "as a helpful",
    "helpful assistant",
    "ai assistant",
    "im here to help",
    "i'm here to help",
    "i am here to help",
    "how can i help",
    "how can i assist",
    "how may i assist",
    "how may i help",
    "assist you",
    "smollm",
    "hugging face",
    "trained by",
    "i'm sorry for your loss",
    "im sorry for your loss",
];

/// Text of chat markup that must never reach a user.
const MARKUP: &[&str] = &[
    "<|",
    "|>",
    "<end_of_turn",
    "<start_of_turn",
    "<eos>",
    "<bos>",
    "</s>",
    "[INST]",
    "[/INST]",
    "user:",
    "assistant:",
    "system:",
    "im_start",
    "im_end",
];

/// Words that are never suggested (a small default list; callers add their own blocklist).
const DEFAULT_BLOCKED: &[&str] = &[
    "fuck", "fucking", "shit", "bitch", "cunt", "dick", "asshole", "bastard", "slut", "whore",
    "nigger", "faggot", "retard", "kill", "die",
];

/// Whether `text` is acceptable as a suggestion (see [`Rejection`]).
pub fn check(
    text: &str,
    message: &str,
    max_words: usize,
    blocklist: &[String],
) -> Result<(), Rejection> {
    let ws = words(text);
    if ws.is_empty() || !text.chars().any(|c| c.is_alphanumeric()) {
        return Err(Rejection::Empty);
    }
    if ws.len() > max_words {
        return Err(Rejection::TooLong);
    }
    let lower = text.to_lowercase();
    if MARKUP.iter().any(|m| lower.contains(&m.to_lowercase())) {
        return Err(Rejection::Markup);
    }
    let flat = format!(" {} ", lower.replace('’', "'"));
    if ASSISTANT_SPEAK.iter().any(|p| flat.contains(p)) {
        return Err(Rejection::AssistantSpeak);
    }
    if has_loop(&ws) {
        return Err(Rejection::Repetition);
    }
    let blocked = |w: &str| DEFAULT_BLOCKED.contains(&w) || blocklist.iter().any(|b| key(b) == w);
    if ws.iter().any(|w| blocked(w)) {
        return Err(Rejection::Blocked);
    }
    // Multi-word blocklist entries match as phrases.
    let k = format!(" {} ", ws.join(" "));
    if blocklist
        .iter()
        .map(|b| key(b))
        .any(|b| b.contains(' ') && k.contains(&format!(" {b} ")))
    {
        return Err(Rejection::Blocked);
    }
    let mk = words(message);
    // The same words, mostly the same words, or a phrase of the message said back ("how
    // about you?" to "I'm fine, how about you?").
    // "Nice to meet you too!" to "Nice to meet you." returns the words, it does not echo.
    let returned = ["too", "also"]
        .iter()
        .any(|w| ws.iter().any(|x| x == w) && !mk.iter().any(|x| x == w));
    if mk == ws
        || (ws.len() >= 3 && !returned && jaccard(&ws, &mk) >= 0.6)
        || (ws.len() >= 2 && mk.windows(ws.len()).any(|w| w == ws.as_slice()))
    {
        return Err(Rejection::EchoesMessage);
    }
    Ok(())
}

/// Words a reply may add to a message's words and still only parrot it.
const FILLER: &[&str] = &[
    "yes", "no", "oh", "ah", "wow", "ok", "okay", "the", "a", "an", "so", "very", "really", "too",
    "just", "yeah", "hmm", "well", "and", "of", "to",
];

/// A short reply made only of the message's own words ("Up!" to "What's up?", "Steam
/// engine, yes!" to "who invented the steam engine"): a word copied from the message is far
/// likelier after it, which alone does not make a reply. A choice question ("tea or
/// coffee?") may be answered with one of its words.
pub fn parrots(reply: &str, message: &str) -> bool {
    let ws = words(reply);
    let mk = words(message);
    if ws.is_empty() || ws.len() > 3 || mk.iter().any(|w| w == "or") {
        return false;
    }
    let content: Vec<&String> = ws
        .iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .collect();
    !content.is_empty() && content.iter().all(|w| mk.contains(w))
}

/// A word repeated three times in a row, or a repeated word pair/triple.
fn has_loop(ws: &[String]) -> bool {
    if ws.windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return true;
    }
    // A content word said twice in a short reply ("Sorry, I'm sorry.").
    if ws.len() <= 8 {
        for (i, w) in ws.iter().enumerate() {
            if w.len() >= 4 && ws[i + 1..].contains(w) {
                return true;
            }
        }
    }
    for n in [2usize, 3] {
        let grams: Vec<&[String]> = ws.windows(n).collect();
        for (i, g) in grams.iter().enumerate() {
            if grams[i + 1..].contains(g) {
                return true;
            }
        }
    }
    false
}

fn jaccard(a: &[String], b: &[String]) -> f32 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = a.iter().filter(|w| b.contains(w)).count() as f32;
    let mut union: Vec<&String> = a.iter().chain(b).collect();
    union.sort();
    union.dedup();
    let a_set = {
        let mut v: Vec<&String> = a.iter().collect();
        v.sort();
        v.dedup();
        v.len()
    };
    let inter = inter.min(a_set as f32);
    inter / union.len() as f32
}

/// Whether two replies say nearly the same thing: equal words, one a prefix of the other's
/// words, or mostly the same words.
pub fn near_duplicate(a: &str, b: &str) -> bool {
    let (wa, wb) = (words(a), words(b));
    if wa == wb {
        return true;
    }
    let (short, long) = if wa.len() <= wb.len() {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    if !short.is_empty() && long.starts_with(short) {
        return true;
    }
    jaccard(&wa, &wb) >= 0.6
}

/// The stance of a reply: agreeing, declining, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Polarity {
    Positive,
    Negative,
    Neutral,
}

const POSITIVE_OPENERS: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "absolutely",
    "definitely",
    "of",
    "sounds",
    "great",
    "awesome",
    "perfect",
    "cool",
    "certainly",
    "gladly",
    "love",
    "thanks",
    "thank",
    "congrats",
    "congratulations",
    "nice",
    "good",
    "glad",
    "agreed",
    "totally",
];
const NEGATIVE_OPENERS: &[&str] = &[
    "no",
    "nope",
    "nah",
    "sorry",
    "not",
    "unfortunately",
    "cant",
    "cannot",
    "wont",
    "dont",
    "never",
    "afraid",
    "i'm",
    "im",
];

/// A rough stance from the first words, used to offer both a positive and a negative reply.
pub fn polarity(text: &str) -> Polarity {
    let ws = words(text);
    let Some(first) = ws.first() else {
        return Polarity::Neutral;
    };
    let neg_word = |w: &str| {
        matches!(
            w,
            "no" | "nope"
                | "nah"
                | "sorry"
                | "not"
                | "unfortunately"
                | "cant"
                | "cannot"
                | "wont"
                | "dont"
                | "never"
                | "nothing"
                | "isnt"
                | "arent"
                | "didnt"
                | "havent"
        )
    };
    let k = ws.join(" ");
    if ["not sure", "dont know", "no idea", "not certain"]
        .iter()
        .any(|p| k.contains(p))
    {
        return Polarity::Neutral;
    }
    if ws.iter().take(4).any(|w| neg_word(w)) {
        return Polarity::Negative;
    }
    if POSITIVE_OPENERS.contains(&first.as_str()) {
        return Polarity::Positive;
    }
    if NEGATIVE_OPENERS.contains(&first.as_str()) && ws.iter().take(3).any(|w| neg_word(w)) {
        return Polarity::Negative;
    }
    Polarity::Neutral
}

/// Whether a message asks something (a question, request or invitation): only then does a
/// declining reply fit.
pub fn is_question(message: &str) -> bool {
    if message.trim_end().ends_with('?') {
        return true;
    }
    let ws = words(message);
    matches!(
        ws.first().map(String::as_str),
        Some(
            "can"
                | "could"
                | "would"
                | "will"
                | "do"
                | "does"
                | "did"
                | "are"
                | "is"
                | "want"
                | "wanna"
                | "shall"
                | "should"
                | "may"
                | "lets"
                | "have"
                | "how"
                | "what"
                | "when"
                | "where"
                | "who"
                | "why"
                | "please"
                | "tell"
        )
    )
}

/// Replies that only answer one kind of message, and the words or phrases (any one of
/// which) the message must contain for them to fit: a reply to thanks needs thanks, an
/// answer "Yes, I do." needs a "do you" question, a farewell needs a farewell or a plan.
/// Replies are matched by their words (see [`key`]), in every tone.
const CONTEXTUAL: &[(&[&str], &[&str])] = &[
    (
        &[
            "youre welcome",
            "you are welcome",
            "anytime",
            "my pleasure",
            "welcome",
        ],
        THANKS,
    ),
    (
        &[
            "no problem",
            "no worries",
            "np",
            "no problem at all",
            "dont worry about it",
        ],
        &[
            "thank",
            "thanks",
            "thx",
            "ty",
            "appreciate",
            "grateful",
            "sorry",
            "apologize",
            "apologies",
            "my bad",
            "forgive",
            "late",
            "mistake",
            "forgot",
        ],
    ),
    (
        &[
            "thanks",
            "thank you",
            "thx",
            "thank you very much",
            "thanks so much",
        ],
        &[
            "you look",
            "nice",
            "great job",
            "good job",
            "well done",
            "congrats",
            "congratulations",
            "proud",
            "beautiful",
            "awesome",
            "amazing",
            "love your",
            "like your",
            "gift",
            "present",
            "for you",
            "i made",
            "i got you",
            "help",
            "here you go",
            "here is",
            "heres",
            "sent",
            "happy birthday",
            "good luck",
            "have a",
            "enjoy",
            "cute",
            "smart",
            "best",
            "please",
            "sure",
            "of course",
            "go ahead",
            "correct",
            "no problem",
            "anytime",
            "this way",
            "ready",
            "see you now",
            "your table",
            "your order",
            "here you are",
            "here it is",
        ],
    ),
    (
        &["thanks you too", "you too", "same to you"],
        &[
            "have a",
            "enjoy",
            "good luck",
            "you too",
            "happy",
            "merry",
            "nice day",
            "great day",
            "good day",
            "weekend",
            "take care",
            "good night",
            "night",
        ],
    ),
    (
        &["good night", "night", "sleep well"],
        &["night", "bed", "sleep", "sleeping", "goodnight", "tired"],
    ),
    (&["good morning"], &["morning"]),
    (&["good evening"], &["evening"]),
    (
        &[
            "bye",
            "see you soon",
            "see you",
            "talk to you later",
            "take care",
            "have a great day",
            "have a good day",
            "see ya",
            "ttyl",
            "later",
        ],
        &[
            "bye",
            "goodbye",
            "later",
            "gotta go",
            "have to go",
            "got to go",
            "leave",
            "leaving",
            "night",
            "soon",
            "tomorrow",
            "weekend",
            "see you",
            "cya",
            "take care",
            "talk later",
            "next week",
            "go now",
        ],
    ),
    (
        &[
            "hi",
            "hello",
            "hey",
            "hey how are you",
            "hey whats up",
            "whats up",
            "hello there",
        ],
        &[
            "hi",
            "hello",
            "hey",
            "hiya",
            "yo",
            "sup",
            "whats up",
            "howdy",
            "greetings",
        ],
    ),
    (
        &[
            "im good thanks",
            "im good how about you",
            "doing well thanks",
            "not bad you",
            "pretty good",
            "pretty good you",
            "all good",
            "i am well thank you",
            "im doing great",
            "im fine thanks",
            "not bad",
        ],
        &[
            "how are",
            "hows",
            "how is",
            "how have",
            "how you",
            "how was",
            "how r",
            "how do you do",
            "whats up",
            "how about you",
            "and you",
            "you doing",
        ],
    ),
    (
        &["nice to meet you too", "nice to meet you"],
        &["meet", "pleased"],
    ),
    (
        &["i hope you feel better", "feel better", "get well soon"],
        &[
            "sick", "flu", "cold", "fever", "headache", "hurt", "hurts", "pain", "feel", "feeling",
            "unwell", "sore", "cough", "throw up", "injured", "broke my",
        ],
    ),
    (
        &[
            "congratulations",
            "congrats",
            "well done",
            "congratulations well deserved",
        ],
        &[
            "got",
            "passed",
            "won",
            "win",
            "finished",
            "promoted",
            "promotion",
            "engaged",
            "married",
            "graduated",
            "accepted",
            "made it",
            "job",
            "did it",
            "pregnant",
            "new",
            "first",
            "award",
            "raise",
            "done",
            "hired",
            "baby",
        ],
    ),
    (
        &[
            "sorry im busy",
            "not today sorry",
            "maybe another time",
            "count me in",
            "id love to",
            "sure what time",
            "what time",
            "ill be there",
            "cant sorry",
            "i am afraid i am not available",
            "lets do it",
            "see you then",
            "where",
            "where shall we meet",
            "what time works for you",
            "im on my way",
            "on my way",
            "omw",
            "deal",
            "ill call you later",
            "call me when you can",
            "sounds like a plan",
            "when",
        ],
        INVITATIONS,
    ),
    (
        &[
            "sorry i cant",
            "unfortunately i cannot",
            "yes of course",
            "of course",
            "sure",
            "sure thing",
            "certainly",
            "sure sounds good",
            "no sorry",
            "will do",
            "on it",
            "no thanks",
            "id rather not",
            "let me check",
            "yep will do",
            "of course i will",
            "sure no problem",
            "yes that works for me",
            "ill let you know",
        ],
        &[
            "?",
            "please",
            "can you",
            "could you",
            "would you",
            "will you",
            "can i",
            "could i",
            "may i",
            "help",
            "borrow",
            "lend",
            "need",
            "remember",
            "dont forget",
            "pick",
        ],
    ),
    (
        &["good luck", "best of luck"],
        &[
            "test",
            "exam",
            "interview",
            "tomorrow",
            "try",
            "trying",
            "game",
            "match",
            "race",
            "audition",
            "first day",
            "date",
            "going to",
            "start",
            "starting",
            "hope",
            "nervous",
            "presentation",
            "competition",
            "apply",
            "applied",
        ],
    ),
    (
        &[
            "sorry to hear that",
            "oh no",
            "that sucks",
            "thats too bad",
            "aw no",
            "i am sorry to hear that",
            "sorry about that",
        ],
        &[
            "sad",
            "bad",
            "sick",
            "lost",
            "lose",
            "broke",
            "broken",
            "hate",
            "cant",
            "failed",
            "fail",
            "missed",
            "miss",
            "tired",
            "angry",
            "upset",
            "hurt",
            "worst",
            "terrible",
            "awful",
            "not",
            "no",
            "never",
            "wrong",
            "problem",
            "complicated",
            "hard",
            "difficult",
            "unfortunately",
            "stressed",
            "lonely",
            "bored",
            "boring",
            "rain",
            "late",
            "cancelled",
            "canceled",
            "lie",
            "mad",
            "scared",
            "afraid",
            "worried",
            "crashed",
            "stolen",
            "fired",
            "dumped",
            "ugly",
            "annoying",
            "isnt",
            "didnt",
            "wasnt",
            "dont",
            "doesnt",
            "wont",
            "cannot",
            "nothing",
            "alone",
            "pain",
            "better",
            "so so",
        ],
    ),
    (
        &["i love it", "love it", "i like it", "i dont like it"],
        &[
            "new",
            "look",
            "looks",
            "made",
            "got",
            "bought",
            "photo",
            "picture",
            "pic",
            "song",
            "idea",
            "plan",
            "design",
            "logo",
            "gift",
            "present",
            "think",
            "check",
            "this",
            "haircut",
            "dress",
            "shirt",
            "shoes",
            "car",
            "house",
            "video",
            "book",
            "recipe",
            "cake",
            "painting",
            "drawing",
            "wrote",
            "cooked",
            "baked",
            "beautiful",
            "how do you like",
            "what about",
            "finished",
            "built",
        ],
    ),
    (
        &[
            "im not sure",
            "i dont know",
            "no idea",
            "idk",
            "hard to say",
            "i am not certain",
            "no idea lol",
            "maybe lol",
        ],
        &[
            "?", "think", "believe", "should", "maybe", "wonder", "guess", "know", "opinion",
        ],
    ),
    (
        &["how about you", "what about you", "wbu", "and you", "you"],
        &[
            "how are",
            "hows",
            "how is",
            "how have",
            "you doing",
            "whats up",
            "how was",
            "do you",
            "favorite",
            "how about you",
            "what about you",
            "and you",
        ],
    ),
    (
        &["sure go ahead", "go ahead", "what is it"],
        &[
            "ask",
            "question",
            "can i",
            "could i",
            "may i",
            "tell you",
            "something",
            "guess",
            "know what",
            "news",
        ],
    ),
    (
        &["yes please"],
        &[
            "can i",
            "could i",
            "do you want",
            "would you like",
            "need",
            "want some",
            "help you",
            "get you",
            "anything",
            "some more",
            "shall i",
            "should i",
        ],
    ),
    (
        &["not much you"],
        &[
            "whats up",
            "sup",
            "what are you doing",
            "what are you up to",
            "whats new",
            "wassup",
        ],
    ),
    (
        &["how was it"],
        &[
            "was",
            "went",
            "did",
            "yesterday",
            "last",
            "back",
            "finished",
            "tried",
            "saw",
            "watched",
            "trip",
            "weekend",
            "date",
            "had",
        ],
    ),
    (
        &["how much"],
        &[
            "sell", "selling", "sale", "price", "cost", "costs", "buy", "charge", "pay", "rent",
            "offer", "ticket", "tickets",
        ],
    ),
    (
        &["be careful"],
        &[
            "going",
            "drive",
            "driving",
            "trip",
            "travel",
            "hike",
            "climb",
            "alone",
            "dark",
            "storm",
            "ice",
            "snow",
            "dangerous",
            "risky",
            "ride",
            "fly",
            "flying",
        ],
    ),
    (
        &["yes i do", "no i dont"],
        &["do you", "dont you", "do u", "you like", "you want"],
    ),
    (
        &["yes i am", "no im not"],
        &["are you", "arent you", "you are", "youre", "are u", "r u"],
    ),
    (
        &["yes i have", "no i havent"],
        &[
            "have you",
            "havent you",
            "ever",
            "you seen",
            "you heard",
            "you tried",
        ],
    ),
    (
        &["me too", "same", "same here"],
        // ... or a status with no subject ("Not much.", "Nothing much.": the same here).
        &[
            "i",
            "im",
            "ive",
            "id",
            "ill",
            "my",
            "me",
            "we",
            "were",
            "not much",
            "nothing much",
            "not too much",
            "nothing special",
            "same old",
        ],
    ),
    (
        &["me neither"],
        &[
            "dont", "cant", "not", "never", "havent", "didnt", "wont", "isnt", "no",
        ],
    ),
];

const THANKS: &[&str] = &[
    "thank",
    "thanks",
    "thx",
    "ty",
    "appreciate",
    "appreciated",
    "grateful",
    "thankful",
];

/// Invitations and plans: what a reply accepting, declining or asking for a time answers.
const INVITATIONS: &[&str] = &[
    "want to",
    "wanna",
    "would you like",
    "can we",
    "could we",
    "shall we",
    "lets",
    "let us",
    "join",
    "come",
    "coming",
    "free",
    "tonight",
    "tomorrow",
    "meet",
    "lunch",
    "dinner",
    "breakfast",
    "coffee",
    "drink",
    "drinks",
    "party",
    "plans",
    "available",
    "up for",
    "how about we",
    "call",
    "hang out",
    "go out",
    "visit",
    "where are you",
    "ready",
    "weekend",
    "are we still",
    "waiting",
    "later",
    "see you",
];

/// Whether `reply` fits the kind of `message` (see [`CONTEXTUAL`]): always, unless it is one
/// of the replies that answer only one kind of message.
pub fn fits_context(reply: &str, message: &str) -> bool {
    fits_context_with(reply, message, &Intents::of(message))
}

/// [`fits_context`] with the message's acts computed once: the reply must fit both its cue
/// words and its acts (see [`super::intent`]).
pub fn fits_context_with(reply: &str, message: &str, intents: &Intents) -> bool {
    if !super::intent::fits(reply, intents) {
        return false;
    }
    let r = key(reply);
    let Some((_, cues)) = CONTEXTUAL.iter().find(|(rs, _)| rs.contains(&r.as_str())) else {
        return true;
    };
    let m = padded_key(message);
    cues.iter().any(|&c| {
        if c == "?" {
            is_question(message)
        } else {
            has_phrase(&m, c)
        }
    })
}

/// Topics on which no reply is suggested (Smart Reply's practice): death and grief,
/// self-harm, abuse and violence, serious illness and emergencies. Matched as whole words or
/// phrases in the incoming message.
const SENSITIVE: &[&str] = &[
    "passed away",
    "pass away",
    "died",
    "death",
    "funeral",
    "condolences",
    "rest in peace",
    "suicide",
    "suicidal",
    "kill myself",
    "killing myself",
    "end my life",
    "want to die",
    "self harm",
    "selfharm",
    "hurt myself",
    "cutting myself",
    "overdose",
    "abused",
    "abuse",
    "abusing",
    "raped",
    "rape",
    "assaulted",
    "assault",
    "beat me",
    "hits me",
    "cancer",
    "tumor",
    "diagnosed with",
    "miscarriage",
    "had a stroke",
    "heart attack",
    "intensive care",
    "icu",
    "emergency room",
    "in the hospital",
    "ambulance",
    "911",
];

/// Whether the message touches a sensitive topic (see [`SENSITIVE`]).
pub fn is_sensitive(message: &str) -> bool {
    let k = padded_key(message);
    SENSITIVE.iter().any(|p| has_phrase(&k, &key(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_candidates() {
        let m = "Can we meet tomorrow at 5?";
        assert_eq!(check("", m, 12, &[]), Err(Rejection::Empty));
        assert_eq!(check("!!", m, 12, &[]), Err(Rejection::Empty));
        assert_eq!(check("Sure <|im_end|>", m, 12, &[]), Err(Rejection::Markup));
        assert_eq!(
            check("As an AI, I can't meet.", m, 12, &[]),
            Err(Rejection::AssistantSpeak)
        );
        assert_eq!(
            check("I'm here to help with anything.", m, 12, &[]),
            Err(Rejection::AssistantSpeak)
        );
        assert_eq!(check("yes yes yes", m, 12, &[]), Err(Rejection::Repetition));
        assert_eq!(
            check("see you see you", m, 12, &[]),
            Err(Rejection::Repetition)
        );
        assert_eq!(
            check("Can we meet tomorrow at 5?", m, 12, &[]),
            Err(Rejection::EchoesMessage)
        );
        assert_eq!(
            check("Sure, see you at the pub", m, 12, &["pub".into()]),
            Err(Rejection::Blocked)
        );
        assert_eq!(
            check("one two three four five", m, 4, &[]),
            Err(Rejection::TooLong)
        );
        assert_eq!(check("Sure, see you then!", m, 12, &[]), Ok(()));
        assert_eq!(
            check("How about you?", "I'm fine, how about you?", 12, &[]),
            Err(Rejection::EchoesMessage)
        );
        assert_eq!(
            check("Me too!", "I'm fine, how about you?", 12, &[]),
            Ok(())
        );
        assert_eq!(
            check("Nice to meet you too!", "Nice to meet you.", 12, &[]),
            Ok(())
        );
    }

    #[test]
    fn contextual_reply_groups_do_not_overlap() {
        let mut seen: Vec<&str> = Vec::new();
        for (replies, cues) in CONTEXTUAL {
            assert!(!cues.is_empty());
            for &r in *replies {
                assert_eq!(key(r), r, "reply keys are lowercase words: {r:?}");
                assert!(!seen.contains(&r), "{r:?} is in two groups");
                seen.push(r);
            }
        }
    }

    #[test]
    fn contextual_replies_need_their_kind_of_message() {
        assert!(fits_context("You're welcome!", "Thanks a lot!"));
        assert!(!fits_context("You're welcome!", "I am doing well."));
        assert!(fits_context("Yes, I do.", "Do you like pizza?"));
        assert!(!fits_context("Yes, I do.", "Have you heard the news?"));
        assert!(fits_context(
            "Sorry, I can't.",
            "Want to grab lunch tomorrow?"
        ));
        assert!(fits_context("I'd love to!", "Want to grab lunch tomorrow?"));
        assert!(!fits_context("I'd love to!", "Could I borrow a pen?"));
        assert!(fits_context("Of course!", "Could I borrow a pen?"));
        assert!(!fits_context("Of course!", "The cake is a lie."));
        assert!(!fits_context(
            "Sorry, I'm busy.",
            "Have you heard the news?"
        ));
        assert!(fits_context("That's great!", "I got the job!"));
        assert!(!fits_context("That's great!", "anything at all"));
        assert!(fits_context("Sure, go ahead!", "Can I ask you something?"));
        assert!(!fits_context("Go ahead!", "I like trains."));
        assert!(fits_context("Not much, you?", "Hey, what's up?"));
        assert!(!fits_context("How was it?", "I like trains."));
    }

    #[test]
    fn parroting_is_recognized() {
        assert!(parrots("Up!", "What's up?"));
        assert!(parrots("Soccer!", "Do you like soccer"));
        assert!(parrots(
            "Steam engine, yes!",
            "who invented the steam engine"
        ));
        assert!(!parrots("Tea, please.", "Tea or coffee?"));
        assert!(!parrots("I'm not bragging", "You are bragging"));
        assert!(!parrots("Sure!", "Can you help?"));
        assert!(!parrots("Yes!", "yes it is"));
    }

    #[test]
    fn near_duplicates() {
        assert!(near_duplicate("Sure!", "sure."));
        assert!(near_duplicate("Sure", "Sure, see you then"));
        assert!(near_duplicate("See you then!", "Ok see you then!"));
        assert!(!near_duplicate("Sure, see you then!", "Sorry, I can't."));
    }

    #[test]
    fn polarity_from_openers() {
        assert_eq!(polarity("Sure, see you then!"), Polarity::Positive);
        assert_eq!(polarity("Sorry, I can't make it."), Polarity::Negative);
        assert_eq!(polarity("I don't think so."), Polarity::Negative);
        assert_eq!(polarity("What time?"), Polarity::Neutral);
        assert_eq!(polarity("I'm not sure."), Polarity::Neutral);
    }

    #[test]
    fn questions() {
        assert!(is_question("Can we meet tomorrow at 5?"));
        assert!(is_question("do you play soccer"));
        assert!(is_question("Tell me about your day"));
        assert!(!is_question("you are mean"));
        assert!(!is_question("I got the job!"));
    }

    #[test]
    fn sensitive_topics() {
        assert!(is_sensitive("My grandmother passed away last night."));
        assert!(is_sensitive("I want to kill myself"));
        assert!(!is_sensitive("Can we meet tomorrow at 5?"));
        assert!(!is_sensitive("That joke killed me lol"));
    }
}
