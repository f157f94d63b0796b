//! Dialogue acts of an incoming message (yes/no question, wh-question, offer, permission,
//! request, invitation, greeting, how-are-you, thanks, apology, farewell, good news, bad news,
//! a claim about the reader, a statement), computed from its words alone, and which families
//! of short replies each act admits or prefers (Smart Reply's intent → response clusters).
//!
//! The rules are general English cues (question words, auxiliaries, modal requests,
//! sentiment words with negation), not keyed to any evaluation message.

use super::filter::{has_phrase, key, words};

/// The acts a message performs (several may hold at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Intents {
    /// A question answerable with yes or no ("Do you like pizza?", "You're coming?").
    pub yes_no: bool,
    /// A question asking what/who/where/when/why/how/which.
    pub wh: bool,
    /// Offering something to the reader ("Can I help you?", "Would you like some tea?").
    pub offer: bool,
    /// Asking the reader's permission ("Can I ask you something?", "May I come in?").
    pub permission: bool,
    /// Asking the reader to do something ("Could you send it?", "Please call me", "Tell me a
    /// joke").
    pub request: bool,
    /// Proposing to do something together ("Want to grab lunch?", "Let's go!").
    pub invitation: bool,
    /// Announcing something to come ("I have a question.", "Guess what!").
    pub announcement: bool,
    pub greeting: bool,
    /// Asking how the reader is ("How are you?", "What's up?").
    pub how_are_you: bool,
    pub thanks: bool,
    pub apology: bool,
    pub farewell: bool,
    pub good_news: bool,
    pub bad_news: bool,
    /// A statement about the reader ("You are mean.", "you need to work harder").
    pub about_you: bool,
    /// Something funny ("haha", "lol", a joke).
    pub humor: bool,
    /// A statement about oneself ("I play chess.", "My car broke down."): news or a report,
    /// not an opinion to agree with.
    pub about_me: bool,
    /// Something kind or cute ("I made this for you", "I miss you").
    pub kind: bool,
    /// Suggesting an idea or a plan ("We should paint it blue.", "What if we left early?").
    pub suggestion: bool,
    /// Asking the same back ("How about you?", "and you?").
    pub reciprocal: bool,
    /// A question of opinion, taste or reasons ("What do you think of it?", "Which is
    /// best?", "Why ...?"): "It depends." or "I'm not sure." can be a real answer.
    pub opinion: bool,
    /// Telling of something done or past ("I saw a film.", "We went hiking yesterday."):
    /// "How was it?" fits.
    pub past_event: bool,
    /// A short answer to how one is or what is up ("I'm doing well.", "Not much."): to be
    /// acknowledged or matched ("Glad to hear it!", "Same here!"), not questioned.
    pub status: bool,
}

impl Intents {
    /// Asks something of the reader: an answer, a decision or an action.
    pub fn asks(&self) -> bool {
        self.yes_no
            || self.wh
            || self.offer
            || self.permission
            || self.request
            || self.invitation
            || self.how_are_you
            || self.reciprocal
    }

    /// Tells something without asking anything (a statement, news, an opinion).
    pub fn statement(&self) -> bool {
        !self.asks()
            && !self.greeting
            && !self.thanks
            && !self.farewell
            && !self.announcement
            && !self.apology
    }

    /// A decision is asked for (yes or no fits).
    pub fn decision(&self) -> bool {
        self.yes_no || self.offer || self.permission || self.request || self.invitation
    }
}

const WH: &[&str] = &[
    "what", "whats", "who", "whos", "whom", "where", "wheres", "when", "whens", "why", "how",
    "hows", "which", "whose",
];
const AUX: &[&str] = &[
    "do", "does", "did", "dont", "doesnt", "didnt", "are", "arent", "is", "isnt", "was", "wasnt",
    "were", "werent", "have", "havent", "has", "hasnt", "had", "can", "cant", "could", "couldnt",
    "would", "wouldnt", "will", "wont", "should", "shouldnt", "shall", "may", "might", "am",
    "must", "wanna", "want", "ya", "u", "r",
];
/// Words that open a sentence without changing its kind ("So, what's up?").
const OPENERS: &[&str] = &[
    "so", "and", "but", "oh", "ok", "okay", "well", "hey", "hi", "hello", "yo", "alright", "also",
    "btw", "um", "uh", "then", "anyway", "now", "yes", "yeah", "yep", "no", "nope", "nah", "of",
    "course", "right",
];
/// Verbs that open an imperative request.
const IMPERATIVES: &[&str] = &[
    "tell", "explain", "show", "give", "send", "bring", "call", "text", "take", "wait", "look",
    "remember", "help", "describe", "sing", "say", "teach", "find", "get", "pick", "check", "buy",
    "grab", "read", "write", "try", "hurry", "listen", "stop", "come", "meet", "hold", "keep",
    "make", "put", "sit", "stay", "go", "ask", "answer", "define", "please",
];
/// Subjects after an auxiliary that make a question without a question mark ("do you eat").
const SUBJECTS: &[&str] = &[
    "i", "you", "u", "ya", "we", "they", "he", "she", "it", "that", "this", "there", "your", "my",
    "anyone", "someone", "somebody", "anybody", "everyone", "the",
];
const GOOD: &[&str] = &[
    "good",
    "great",
    "awesome",
    "amazing",
    "wonderful",
    "fantastic",
    "excellent",
    "happy",
    "glad",
    "excited",
    "love",
    "loved",
    "lovely",
    "fun",
    "best",
    "won",
    "win",
    "passed",
    "finally",
    "beautiful",
    "delicious",
    "perfect",
    "enjoy",
    "enjoyed",
    "enjoying",
    "nice",
    "promoted",
    "promotion",
    "engaged",
    "married",
    "graduated",
    "accepted",
    "hired",
    "proud",
    "yay",
    "cool",
    "well",
    "fine",
    "better",
    "success",
    "successful",
    "congrats",
    "free",
    "birthday",
    "vacation",
    "holiday",
    "new",
    "finished",
    "pleasure",
    "delighted",
    "job",
    "raise",
    "baby",
    "award",
    "bought",
    "made",
];
const BAD: &[&str] = &[
    "bad",
    "sad",
    "sick",
    "lost",
    "lose",
    "losing",
    "broke",
    "broken",
    "hate",
    "failed",
    "fail",
    "missed",
    "tired",
    "angry",
    "upset",
    "hurt",
    "hurts",
    "worst",
    "terrible",
    "awful",
    "wrong",
    "problem",
    "problems",
    "complicated",
    "hard",
    "difficult",
    "unfortunately",
    "stressed",
    "lonely",
    "bored",
    "boring",
    "late",
    "cancelled",
    "canceled",
    "mad",
    "scared",
    "afraid",
    "worried",
    "crashed",
    "stolen",
    "fired",
    "dumped",
    "annoying",
    "annoyed",
    "alone",
    "pain",
    "sucks",
    "ugh",
    "depressed",
    "crying",
    "cry",
    "miss",
    "broken",
    "disappointed",
    "horrible",
    "nervous",
    "anxious",
    "fever",
    "flu",
    "headache",
    "injured",
    "accident",
    "rain",
    "raining",
    "stuck",
    "exhausted",
    "busy",
    "cant",
    "worse",
    "poor",
    "lie",
    "liar",
    "guilty",
    "flat",
    "damaged",
    "bills",
    "debt",
];
const NEGATORS: &[&str] = &[
    "not", "no", "never", "dont", "didnt", "doesnt", "isnt", "wasnt", "arent", "cant", "cannot",
    "wont", "hardly", "nothing",
];

/// Sentences of a message, each with its words and whether it ends with a question mark.
fn sentences(text: &str) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if matches!(c, '.' | '!' | '?' | '\n' | ';') {
            let ws = words(&cur);
            if !ws.is_empty() {
                out.push((ws, c == '?'));
            } else if c == '?' {
                if let Some(last) = out.last_mut() {
                    last.1 = true;
                }
            }
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    let ws = words(&cur);
    if !ws.is_empty() {
        out.push((ws, false));
    }
    out
}

fn has_any(padded: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| has_phrase(padded, p))
}

/// Positive and negative sentiment words, a negator among the two words before flipping one.
fn sentiment(ws: &[String]) -> (usize, usize) {
    let (mut good, mut bad) = (0, 0);
    for (i, w) in ws.iter().enumerate() {
        let negated = ws[i.saturating_sub(2)..i]
            .iter()
            .any(|n| NEGATORS.contains(&n.as_str()));
        let (g, b) = (GOOD.contains(&w.as_str()), BAD.contains(&w.as_str()));
        match (g, b, negated) {
            (true, _, false) | (_, true, true) => good += 1,
            (true, _, true) | (_, true, false) => bad += 1,
            _ => {}
        }
    }
    (good, bad)
}

impl Intents {
    /// The acts of `message`.
    pub fn of(message: &str) -> Intents {
        let mut it = Intents::default();
        let all = words(message);
        if all.is_empty() {
            return it;
        }
        let m = format!(" {} ", all.join(" "));
        let sents = sentences(message);
        for (ws, qmark) in &sents {
            let start = ws
                .iter()
                .position(|w| !OPENERS.contains(&w.as_str()))
                .unwrap_or(ws.len());
            let s = &ws[start..];
            let Some(first) = s.first().map(String::as_str) else {
                continue;
            };
            let p = format!(" {} ", s.join(" "));
            let second = s.get(1).map(String::as_str).unwrap_or("");
            if has_any(
                &p,
                &["what about you", "how about you", "and you", "and yourself"],
            ) {
                // "Not much, how about you?": the same question back, not a yes/no one.
                it.reciprocal = true;
            } else if WH.contains(&first) {
                if has_any(&p, &["how about we", "why dont we", "why not"])
                    || (first == "how" && second == "about" && !has_phrase(&p, "how about you"))
                {
                    it.invitation = true;
                } else if has_any(&p, &["what about you", "how about you", "and you"]) {
                    it.reciprocal = true;
                } else {
                    it.wh = true;
                }
            } else if AUX.contains(&first)
                && s.len() >= 2
                && (*qmark || (s.len() <= 8 && SUBJECTS.contains(&second)))
            {
                it.yes_no = true;
            } else if *qmark {
                // "You're coming?", "i like wine, do you?", "Coffee?"
                it.yes_no = true;
            } else if IMPERATIVES.contains(&first) && !has_any(&p, &["help me", "thank"]) {
                it.request = true;
            }
            if !*qmark && matches!(first, "you" | "youre" | "your" | "ur" | "u") {
                it.about_you = true;
            }
            if !*qmark
                && matches!(
                    first,
                    "i" | "im" | "ive" | "id" | "ill" | "my" | "we" | "were" | "weve" | "our"
                )
            {
                it.about_me = true;
            }
        }
        // Offers, permission, requests, invitations (anywhere in the message).
        if has_any(
            &m,
            &[
                "can i help",
                "may i help",
                "how can i help",
                "can i get you",
                "could i get you",
                "can i offer",
                "do you want some",
                "do you want a",
                "do you need",
                "would you like",
                "would you care for",
                "want me to",
                "shall i",
                "should i get",
                "let me help",
                "anything i can",
                "need any help",
                "need help",
                "can i bring",
                "can i make you",
                "i can help",
                "help you with",
            ],
        ) {
            it.offer = true;
        }
        // A wh-question is asked, not a permission or an invitation ("How can I reach
        // you?", "What do you want to eat?"), unless it offers ("How can I help?").
        let wh_led = sents.iter().any(|(ws, _)| {
            ws.iter()
                .find(|w| !OPENERS.contains(&w.as_str()))
                .is_some_and(|w| WH.contains(&w.as_str()))
        }) && !it.invitation;
        if !it.offer
            && !wh_led
            && has_any(
                &m,
                &[
                    "can i",
                    "could i",
                    "may i",
                    "mind if i",
                    "is it ok if",
                    "is it okay if",
                    "is it alright if",
                    "let me ask",
                    "can we talk",
                ],
            )
        {
            it.permission = true;
        }
        if has_any(
            &m,
            &[
                "can you",
                "could you",
                "would you",
                "will you",
                "please",
                "would you mind",
                "do me a favor",
                "i need you to",
                "dont forget",
                "can u",
            ],
        ) && !has_any(&m, &["would you like", "would you care", "please to meet"])
        {
            it.request = true;
        }
        if has_any(
            &m,
            &[
                "want to",
                "wanna",
                "would you like to",
                "lets",
                "let us",
                "shall we",
                "can we",
                "could we",
                "how about we",
                "why dont we",
                "are you free",
                "you free",
                "up for",
                "join me",
                "join us",
                "come over",
                "hang out",
                "go out",
                "are we still",
            ],
        ) && !has_phrase(&m, "let us know")
            && (!wh_led || has_any(&m, &["how about we", "why dont we", "shall we", "lets"]))
        {
            it.invitation = true;
        }
        if has_any(
            &m,
            &[
                "i have a question",
                "i have a favor",
                "let me ask",
                "can i ask",
                "could i ask",
                "may i ask",
                "guess what",
                "i need to tell you",
                "i have to tell you",
                "i have news",
                "i have something",
                "you know what",
                "got a minute",
                "got a sec",
                "a quick question",
            ],
        ) {
            it.announcement = true;
        }
        let first = all[0].as_str();
        it.greeting = matches!(
            first,
            "hi" | "hello" | "hey" | "hiya" | "yo" | "howdy" | "greetings" | "sup" | "heya"
        ) || has_any(
            &m,
            &[
                "good morning",
                "good afternoon",
                "good evening",
                "top of the morning",
                "nice to meet you",
                "pleasure to meet you",
                "pleased to meet you",
                "good to see you",
                "nice to see you",
                "glad to meet you",
            ],
        );
        it.how_are_you = has_any(
            &m,
            &[
                "how are you",
                "how r you",
                "how r u",
                "how are u",
                "hows it going",
                "how is it going",
                "how have you been",
                "how do you do",
                "how are things",
                "hows everything",
                "how is everything",
                "hows your day",
                "how is your day",
                "how you doing",
                "how are you doing",
                "how are you feeling",
                "whats up",
                "whats new",
                "sup",
                "wassup",
                "how is your health",
                "hows life",
                "how has your",
                "how is your",
            ],
        );
        if it.how_are_you {
            it.wh = false;
        }
        it.thanks = has_any(
            &m,
            &[
                "thank",
                "thanks",
                "thx",
                "ty",
                "appreciate",
                "appreciated",
                "grateful",
                "thankful",
            ],
        ) && !has_any(&m, &["no thanks", "no thank you"])
            // "Fine, thanks." answers how one is; it thanks for nothing.
            && !has_any(
                &m,
                &[
                    "fine thanks",
                    "well thanks",
                    "good thanks",
                    "great thanks",
                    "ok thanks",
                    "okay thanks",
                    "fine thank you",
                    "well thank you",
                    "good thank you",
                    "great thank you",
                ],
            );
        it.apology = has_any(
            &m,
            &[
                "sorry",
                "apologize",
                "apologies",
                "my bad",
                "forgive me",
                "my fault",
            ],
        ) && !has_phrase(&m, "sorry to hear");
        it.farewell = has_any(
            &m,
            &[
                "bye",
                "goodbye",
                "good night",
                "goodnight",
                "see you later",
                "see you soon",
                "see you tomorrow",
                "see you then",
                "see you there",
                "see you next",
                "see you around",
                "see ya",
                "talk later",
                "talk to you later",
                "take care",
                "gotta go",
                "got to go",
                "have to go",
                "cya",
                "later",
                "ttyl",
            ],
        ) || m.ends_with(" see you ");
        let (mut good, mut bad) = sentiment(&all);
        // Idioms whose words say the opposite.
        if has_any(
            &m,
            &[
                "could be better",
                "been better",
                "not so",
                "not too well",
                "so so",
            ],
        ) {
            (good, bad) = (0, 1);
        }
        if has_any(
            &m,
            &["not bad", "cant complain", "no problem", "no worries"],
        ) {
            (good, bad) = (1, 0);
        }
        it.good_news = good > bad;
        it.bad_news = bad > good;
        it.kind = has_any(
            &m,
            &[
                "love you",
                "miss you",
                "for you",
                "made you",
                "got you",
                "gift",
                "present",
                "surprise",
                "puppy",
                "kitten",
                "baby",
                "proud of you",
                "sweet",
                "cute",
                "kind of you",
            ],
        );
        it.suggestion = it.invitation
            || has_any(
                &m,
                &[
                    "idea",
                    "we should",
                    "you should",
                    "we could",
                    "maybe we",
                    "what if",
                    "plan",
                    "i think we",
                    "how about",
                    "lets",
                    "why not",
                    "suggest",
                ],
            );
        it.opinion = (it.wh || it.yes_no)
            && has_any(
                &m,
                &[
                    "think",
                    "opinion",
                    "favorite",
                    "favourite",
                    "best",
                    "prefer",
                    "rather",
                    "should",
                    "why",
                    "which",
                    "believe",
                    "feel about",
                    "what kind",
                    "worth",
                    "better",
                ],
            );
        it.past_event = it.about_me
            && has_any(
                &m,
                &[
                    "went",
                    "saw",
                    "watched",
                    "visited",
                    "tried",
                    "played",
                    "had",
                    "did",
                    "was",
                    "were",
                    "yesterday",
                    "last night",
                    "last week",
                    "this weekend",
                    "today",
                    "just got back",
                    "finished",
                ],
            );
        it.status = !it.asks()
            && all.len() <= 6
            && has_any(
                &m,
                &[
                    "doing well",
                    "doing good",
                    "doing great",
                    "doing fine",
                    "doing ok",
                    "doing okay",
                    "im good",
                    "im fine",
                    "im well",
                    "im ok",
                    "im okay",
                    "im great",
                    "i am good",
                    "i am fine",
                    "i am well",
                    "not much",
                    "nothing much",
                    "not too much",
                    "nothing special",
                    "same old",
                    "very well",
                    "pretty good",
                    "not bad",
                ],
            );
        it.humor = has_any(
            &m,
            &[
                "haha",
                "hahaha",
                "lol",
                "lmao",
                "joke",
                "funny",
                "hilarious",
                "kidding",
                "jk",
                "rofl",
            ],
        );
        it
    }
}

/// Reply families that fit only some acts (matched by the reply's words, see [`key`]).
/// A reply in no family fits any message here (the cue table in `filter` still applies).
/// Replies (by their words) and the acts they need.
type Family = (&'static [&'static str], fn(&Intents) -> bool);

const FAMILIES: &[Family] = &[
    // Bare yes/no answers need a yes/no question or a request, offer or invitation.
    (
        &[
            "yes",
            "yes of course",
            "of course",
            "sure",
            "sure thing",
            "yeah",
            "yep",
            "yup",
            "no",
            "nope",
            "nah",
            "no sorry",
            "not really",
            "not yet",
            "certainly",
            "okay",
            "ok",
            "ok cool",
            "why not",
            "sorry i cant",
            "unfortunately i cannot",
            "cant sorry",
            "not today sorry",
        ],
        |i| i.decision(),
    ),
    (&["yes please"], |i| i.offer),
    (&["sure go ahead", "go ahead", "what is it"], |i| {
        i.permission || i.announcement
    }),
    // Putting off an answer: a proposal or a yes/no question.
    (
        &[
            "ill think about it",
            "let me check",
            "let me get back to you",
            "ill let you know",
            "i will let you know",
            "i will check and get back to you",
            "let me look into it",
            "maybe",
        ],
        |i| i.invitation || i.yes_no || i.offer || i.permission,
    ),
    // Farewells: to a farewell or a plan.
    (
        &[
            "bye",
            "see you soon",
            "see you",
            "see you then",
            "talk to you later",
            "take care",
            "have a great day",
            "have a good day",
            "see ya",
            "ttyl",
        ],
        |i| i.farewell || i.invitation,
    ),
    // Agreement: with an opinion or a yes/no question, never with a claim about the reader.
    (
        &[
            "absolutely",
            "definitely",
            "totally",
            "for sure",
            "exactly",
            "i agree",
            "agreed",
            "youre right",
            "true",
            "haha true",
            "i know right",
            "same here",
            "fair enough",
        ],
        |i| {
            (i.yes_no && !i.offer && !i.permission)
                || (i.statement() && !i.about_you && !i.about_me && !i.bad_news)
        },
    ),
    // Disagreement: with a statement or a yes/no question.
    (
        &[
            "i dont think so",
            "i disagree",
            "thats not true",
            "not at all",
            "no way",
            "i do not think so",
        ],
        |i| i.yes_no || (i.statement() && !i.about_me),
    ),
    // Praise of news: good news, or a statement about oneself that is not bad news.
    (
        &[
            "thats great",
            "thats awesome",
            "awesome",
            "great",
            "good for you",
            "glad to hear it",
            "good to hear",
            "thats good to hear",
            "yay",
            "that is good news",
            "thats amazing",
            "amazing",
        ],
        |i| i.statement() && i.good_news && !i.about_you,
    ),
    // Milder reactions to a statement.
    (
        &[
            "nice",
            "cool",
            "thats cool",
            "wow",
            "interesting",
            "oh interesting",
            "sounds fun",
            "good to know",
            "i see",
            "oh i see",
            "got it",
            "makes sense",
            "understood",
            "noted thank you",
            "i love it",
            "love it",
            "i like it",
            "i dont like it",
            "thats weird",
        ],
        |i| i.statement() && !i.bad_news && !i.about_you,
    ),
    // Plans and suggestions.
    (
        &[
            "good idea",
            "great idea",
            "sounds good",
            "sounds great",
            "that sounds good",
            "okay sounds good",
            "sure sounds good",
            "sounds like a plan",
            "lets do it",
            "thats a great idea",
            "thats a good idea",
        ],
        |i| i.invitation || i.offer || (i.suggestion && !i.bad_news),
    ),
    // Asking what a claim means: to an opinion or a claim, not to news about oneself.
    (
        &[
            "what do you mean",
            "why do you say that",
            "are you sure",
            "wdym",
            "could you clarify",
            "what do you think",
        ],
        |i| i.statement() && !i.about_me,
    ),
    // Questions back: to a statement, not to a question or an announcement.
    (
        &[
            "why",
            "how",
            "really",
            "oh really",
            "tell me more",
            "for real",
            "could you tell me more",
            "why is that",
            "what happened",
            "which one",
        ],
        |i| i.statement() || (i.request && !i.yes_no && !i.permission),
    ),
    // Follow-ups that ask about what was told: a statement only (not a request: "How
    // come?" does not answer "Tell me a story").
    (&["how come", "how was it"], |i| i.statement()),
    // Sympathy: to a statement of bad news, not to a question.
    (
        &[
            "sorry to hear that",
            "sorry about that",
            "oh no",
            "thats too bad",
            "that sucks",
            "aw no",
            "i am sorry to hear that",
        ],
        |i| i.bad_news && !i.asks(),
    ),
    // Apologies: to a complaint, a claim about the reader, or as a refusal.
    (
        &[
            "sorry",
            "im sorry",
            "im so sorry",
            "so sorry",
            "i apologize",
            "my bad",
        ],
        |i| (i.bad_news || i.about_you) && !i.wh,
    ),
    // Refusing: an offer, request, invitation or permission.
    (&["id rather not", "no thanks", "no thank you"], |i| {
        i.offer || i.request || i.invitation || i.permission
    }),
    // Not knowing: a question (not an offer or permission: those want yes or no), or an
    // opinion that is nobody's news ("It depends." to "Simple is better than clever.").
    (
        &[
            "im not sure",
            "i dont know",
            "no idea",
            "idk",
            "hard to say",
            "it depends",
            "i am not certain",
        ],
        |i| {
            (i.asks() && !i.offer && !i.permission && !i.how_are_you && !i.reciprocal)
                || (i.statement()
                    && !i.about_me
                    && !i.about_you
                    && !i.good_news
                    && !i.bad_news
                    && !i.humor)
        },
    ),
    // Reassurance: after an apology, bad news, or as an answer to how it goes.
    (&["its okay", "thats okay", "its ok", "all good"], |i| {
        (i.apology || i.bad_news || i.how_are_you || i.yes_no) && !i.wh
    }),
    // Asking the same back: after a statement or greeting, never to the same question.
    (
        &["how about you", "what about you", "wbu", "and you"],
        |i| !i.reciprocal && !i.asks(),
    ),
    // Asking back how they are: after a greeting or how-are-you.
    (
        &["how are you", "hey how are you", "whats up", "hey whats up"],
        |i| i.greeting || i.how_are_you,
    ),
    // Answering an invitation or a plan.
    (
        &[
            "sorry im busy",
            "maybe another time",
            "count me in",
            "id love to",
            "sure what time",
            "what time",
            "ill be there",
            "im on my way",
            "on my way",
            "omw",
            "where shall we meet",
            "what time works for you",
            "where",
            "when",
            "ill call you later",
            "call me when you can",
            "i am afraid i am not available",
            "i will be there",
        ],
        |i| i.invitation || i.yes_no || i.request || i.statement(),
    ),
    // Welcoming thanks: to thanks.
    (
        &["youre welcome", "you are welcome", "anytime", "my pleasure"],
        |i| i.thanks,
    ),
    // Touched: by something kind or cute.
    (&["thats so sweet", "aww", "so sweet", "thats sweet"], |i| {
        i.kind
    }),
    // Yes/no answers that name the verb: a yes/no question.
    (
        &[
            "yes i do",
            "no i dont",
            "yes i am",
            "no im not",
            "yes i have",
            "no i havent",
        ],
        |i| i.yes_no,
    ),
    // Concern: at bad news.
    (&["are you okay", "you ok"], |i| i.bad_news && !i.asks()),
    // Laughing: at something funny.
    (
        &[
            "haha",
            "haha thats funny",
            "lol",
            "haha yeah",
            "lol thats funny",
        ],
        |i| i.humor,
    ),
];

/// The family of `reply` (an index into the act table), if it is in one: two replies of one
/// family say the same kind of thing ("That's great!", "That's awesome!").
pub fn family(reply: &str) -> Option<usize> {
    let r = key(reply);
    FAMILIES.iter().position(|(rs, _)| rs.contains(&r.as_str()))
}

/// Whether `reply` fits the acts of the message (see [`FAMILIES`]).
pub fn fits(reply: &str, intents: &Intents) -> bool {
    let r = key(reply);
    // Thanks are not answered with thanks ("Thank you so much!" to "Thank you!"), unless
    // wishes are returned ("Thanks, you too!").
    if intents.thanks && r.starts_with("thank") && !r.ends_with("you too") {
        return false;
    }
    FAMILIES
        .iter()
        .find(|(rs, _)| rs.contains(&r.as_str()))
        .is_none_or(|(_, ok)| ok(intents))
}

/// Replies that answer an act best (Smart Reply's intent clusters): the drafter explores and
/// ranks them ahead of equally likely ones.
const PREFERRED: &[Family] = &[
    (
        &["yes please", "no thanks", "no thank you", "im good thanks"],
        |i| i.offer,
    ),
    (
        &[
            "sure go ahead",
            "go ahead",
            "what is it",
            "of course",
            "yes of course",
            "sure",
        ],
        |i| i.permission || i.announcement,
    ),
    (
        &[
            "youre welcome",
            "no problem",
            "anytime",
            "you are welcome",
            "my pleasure",
        ],
        |i| i.thanks,
    ),
    (
        &[
            "no worries",
            "its okay",
            "dont worry about it",
            "thats okay",
        ],
        |i| i.apology,
    ),
    (
        &[
            "im good thanks",
            "doing well thanks",
            "not bad you",
            "pretty good",
            "im good how about you",
            "not much you",
            "i am well thank you",
        ],
        |i| i.how_are_you,
    ),
    (
        &[
            "hi",
            "hello",
            "hey how are you",
            "good morning",
            "good evening",
            "nice to meet you too",
        ],
        |i| i.greeting,
    ),
    (
        &[
            "bye",
            "see you soon",
            "take care",
            "talk to you later",
            "good night",
        ],
        |i| i.farewell,
    ),
    (
        &[
            "sure what time",
            "id love to",
            "sounds good",
            "sorry i cant",
            "maybe another time",
            "count me in",
        ],
        |i| i.invitation,
    ),
    (
        &[
            "sure",
            "of course",
            "will do",
            "on it",
            "sorry i cant",
            "no problem",
            "yes of course",
        ],
        |i| i.request && !i.offer,
    ),
    // Bad news: sympathy and a follow-up question.
    (
        &[
            "sorry to hear that",
            "oh no",
            "thats too bad",
            "what happened",
            "how come",
        ],
        |i| i.bad_news && i.statement(),
    ),
    // News or a report about oneself: interest and a follow-up question, not only a
    // reaction ("Tell me more!" to "I started a pottery class.").
    (&["tell me more", "oh really", "how come"], |i| {
        i.about_me && i.statement() && !i.bad_news && !i.status
    }),
    // How one is or what is up: acknowledged or matched.
    (
        &[
            "glad to hear it",
            "good to hear",
            "me too",
            "same here",
            "me neither",
        ],
        |i| i.status && !i.bad_news,
    ),
    (&["how was it"], |i| {
        i.past_event && i.statement() && !i.bad_news
    }),
    (
        &[
            "thats great",
            "congratulations",
            "glad to hear it",
            "awesome",
        ],
        |i| i.good_news && i.statement() && !i.about_you,
    ),
];

/// Replies that say "I don't know" in some way: the last resort unless the message asks for
/// an opinion (see [`Intents::opinion`]).
pub fn hedge(reply: &str) -> bool {
    matches!(
        key(reply).as_str(),
        "im not sure"
            | "i dont know"
            | "no idea"
            | "idk"
            | "hard to say"
            | "it depends"
            | "i am not certain"
            | "maybe"
            | "maybe lol"
    )
}

/// Mild reactions ("Nice!", "Oh, I see.") that say little about a report: a follow-up
/// question or interest is better when the message tells of oneself.
pub fn mild(reply: &str) -> bool {
    matches!(
        key(reply).as_str(),
        "nice"
            | "cool"
            | "thats cool"
            | "i see"
            | "oh i see"
            | "got it"
            | "good to know"
            | "makes sense"
            | "interesting"
            | "oh interesting"
            | "thats weird"
    )
}

/// Whether `reply` is one of the replies the message's acts prefer (see [`PREFERRED`]).
pub fn preferred(reply: &str, intents: &Intents) -> bool {
    let r = key(reply);
    PREFERRED
        .iter()
        .any(|(rs, ok)| rs.contains(&r.as_str()) && ok(intents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_by_kind() {
        let i = Intents::of("Do you like pizza?");
        assert!(i.yes_no && !i.wh && !i.offer);
        let i = Intents::of("So where did you park?");
        assert!(i.wh && !i.yes_no);
        let i = Intents::of("You're coming tonight?");
        assert!(i.yes_no);
        let i = Intents::of("do you play chess");
        assert!(i.yes_no);
        let i = Intents::of("How about we get tacos?");
        assert!(i.invitation && !i.wh);
        let i = Intents::of("I'm fine. How about you?");
        assert!(!i.wh && !i.statement());
    }

    #[test]
    fn offers_permissions_requests_invitations() {
        let i = Intents::of("Can I get you something to drink?");
        assert!(i.offer && !i.permission);
        let i = Intents::of("Would you like some more cake?");
        assert!(i.offer && !i.request);
        let i = Intents::of("May I borrow your charger?");
        assert!(i.permission && !i.offer);
        let i = Intents::of("Could you send me the file?");
        assert!(i.request && !i.offer);
        let i = Intents::of("Please close the door.");
        assert!(i.request);
        let i = Intents::of("Show me the photos");
        assert!(i.request && !i.statement());
        let i = Intents::of("Want to grab a coffee later?");
        assert!(i.invitation);
        let i = Intents::of("Can I ask you something?");
        assert!(i.permission && i.announcement);
        let i = Intents::of("I have a quick question.");
        assert!(i.announcement && !i.statement());
    }

    #[test]
    fn social_acts() {
        assert!(Intents::of("Hey there!").greeting);
        assert!(Intents::of("Good evening, everyone").greeting);
        assert!(Intents::of("hey, how's it going?").how_are_you);
        assert!(Intents::of("Thanks a lot for the ride!").thanks);
        assert!(!Intents::of("Pretty good, thanks.").thanks);
        let i = Intents::of("Pleased to meet you!");
        assert!(i.greeting && !i.statement());
        assert!(!Intents::of("No thanks, I'm full.").thanks);
        assert!(Intents::of("Sorry I forgot to call.").apology);
        assert!(Intents::of("Gotta go, talk later").farewell);
        assert!(Intents::of("that movie was so funny lol").humor);
    }

    #[test]
    fn news_and_statements() {
        let i = Intents::of("I finally passed my driving test!");
        assert!(i.good_news && i.statement());
        let i = Intents::of("My flight got cancelled.");
        assert!(i.bad_news && !i.good_news && i.statement());
        let i = Intents::of("The soup was not good.");
        assert!(i.bad_news);
        let i = Intents::of("I am repainting the kitchen.");
        assert!(i.statement() && !i.bad_news && !i.asks());
        let i = Intents::of("you are so lazy");
        assert!(i.about_you && i.statement());
        assert!(!Intents::of("Are you there?").about_you);
        let i = Intents::of("Might be fun.");
        assert!(!i.yes_no && i.statement());
        let i = Intents::of("I bought a new bike");
        assert!(i.about_me && i.statement());
        assert!(!Intents::of("The manager will see you now.").farewell);
        assert!(Intents::of("ok see you tomorrow").farewell);
    }

    #[test]
    fn families_follow_the_acts() {
        let q = Intents::of("Which train do you take?");
        assert!(!fits("That's great!", &q));
        assert!(!fits("Yes!", &q));
        assert!(!fits("What do you mean?", &q));
        assert!(fits("I don't know.", &q));
        let s = Intents::of("The printer is broken again.");
        assert!(!fits("That's awesome!", &s));
        assert!(fits("Oh no!", &s));
        assert!(!fits("Oh no!", &Intents::of("Is the printer broken?")));
        let you = Intents::of("you are really rude");
        assert!(!fits("You're right.", &you));
        assert!(!fits("That's awesome!", &you));
        assert!(fits("I don't think so.", &you));
        let offer = Intents::of("Can I help you with that?");
        assert!(preferred("Yes, please!", &offer));
        assert!(!fits("I'm not sure.", &offer));
        let perm = Intents::of("Could I ask you a favor?");
        assert!(preferred("Sure, go ahead!", &perm));
        assert!(!preferred("Yes, please!", &perm));
        assert!(fits("A reply nobody listed.", &q));
        // Generic praise only for good news; agreement only with an opinion.
        let plain = Intents::of("I am repainting the kitchen.");
        assert!(!fits("That's great!", &plain));
        assert!(!fits("Absolutely!", &plain));
        assert!(fits("Nice!", &plain));
        assert!(fits("That's great!", &Intents::of("I won the raffle!")));
        assert!(fits(
            "Exactly!",
            &Intents::of("Simple is better than clever.")
        ));
        assert!(!fits("Yes, please!", &perm));
        assert!(!fits(
            "See you soon!",
            &Intents::of("The manager will see you now.")
        ));
        assert!(!fits("Sorry, I can't.", &q));
        assert_eq!(family("That's great!"), family("That's awesome!"));
        assert_ne!(family("That's great!"), family("Oh no!"));
        assert_eq!(family("A reply nobody listed."), None);
        let thanks = Intents::of("Thanks for the flowers!");
        assert!(!fits("Thank you so much!", &thanks));
        assert!(!fits("Thanks for your kindness.", &thanks));
        assert!(fits(
            "Thanks, you too!",
            &Intents::of("Thanks, have a nice day!")
        ));
        assert!(fits("Thank you!", &Intents::of("You look great today.")));
    }
    #[test]
    fn reports_get_follow_ups_and_hedges_are_for_opinions() {
        let report = Intents::of("I started a pottery class.");
        assert!(preferred("Tell me more!", &report));
        assert!(!preferred("How was it?", &report));
        assert!(!fits("It depends.", &report));
        let past = Intents::of("We went to the beach yesterday.");
        assert!(past.past_event && preferred("How was it?", &past));
        let bad = Intents::of("My bike got stolen.");
        assert!(preferred("What happened?", &bad));
        assert!(!preferred("Tell me more!", &bad));
        let status = Intents::of("Nothing much.");
        assert!(status.status && preferred("Same here!", &status));
        assert!(super::super::filter::fits_context_with(
            "Same here!",
            "Nothing much.",
            &status
        ));
        assert!(!preferred("Tell me more!", &Intents::of("I'm fine.")));
        assert!(hedge("It depends.") && hedge("I don't know.") && !hedge("No, I don't."));
        assert!(mild("Oh, I see.") && !mild("Tell me more!"));
        assert!(!Intents::of("Do you like tea?").opinion);
        assert!(Intents::of("Which one do you think is best?").opinion);
        assert!(!fits(
            "I'm not sure.",
            &Intents::of("Would you like some tea?")
        ));
        let request = Intents::of("Tell me a story about your trip.");
        assert!(!fits("How come?", &request) && !fits("How was it?", &request));
        assert!(fits("How come?", &Intents::of("I quit the choir.")));
    }

    #[test]
    fn asked_back_and_wh_questions_are_not_decisions() {
        let i = Intents::of("Not much, how about you?");
        assert!(i.reciprocal && !i.yes_no && !i.decision());
        assert!(!fits("What about you?", &i));
        assert!(fits("What about you?", &Intents::of("I just got home.")));
        let i = Intents::of("How can I reach you?");
        assert!(i.wh && !i.permission);
        let i = Intents::of("What do you want to eat?");
        assert!(i.wh && !i.invitation);
        assert!(Intents::of("Do you want to grab lunch?").invitation);
        assert!(Intents::of("May I sit here?").permission);
    }
}
