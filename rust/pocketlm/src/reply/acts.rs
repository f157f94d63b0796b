//! The dialogue acts of an incoming message (question kinds, offer, permission, request,
//! invitation, thanks, wishes, news, plans, information...), read from its words with the
//! catalog's lexicons. Each act is one small rule; none depends on the order of the others
//! except through the few derived acts computed last (news kinds, reports, fragments).

use super::catalog::Catalog;
use super::filter::{padded_key, words};

macro_rules! acts {
    ($($v:ident = $n:literal: $doc:literal,)*) => {
        /// One dialogue act (catalog name in quotes).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Act { $(#[doc = $doc] $v,)* }
        impl Act {
            /// Every act, in declaration order.
            pub const ALL: &'static [Act] = &[$(Act::$v,)*];
            /// The act's name in the catalog.
            pub fn as_str(self) -> &'static str {
                match self { $(Act::$v => $n,)* }
            }
            /// The act a catalog name stands for.
            pub fn parse(name: &str) -> Option<Act> {
                match name { $($n => Some(Act::$v),)* _ => None }
            }
        }
    };
}

acts! {
    YesNo = "yes_no": "A question answerable with yes or no (\"Do you like pizza?\").",
    Wh = "wh": "A what/who/why/how question that is not about a time, a place or an opinion.",
    WhTime = "wh_time": "When, what time (\"What time works?\").",
    WhPlace = "wh_place": "Where (\"Where do we meet?\").",
    AskSchedule = "ask_schedule": "When the reader's own plans are or a set event is (\"When do you land?\", \"What time does the party start?\"): checked or promised, not proposed.",
    Choice = "choice": "A choice between options (\"Tea or coffee?\", \"Book a table or just walk in?\").",
    OpinionQ = "opinion_q": "A question of opinion or taste (\"What do you think of it?\").",
    OpinionStmt = "opinion_stmt": "A stated opinion (\"Python is better than Java.\").",
    Offer = "offer": "Offering something (\"Would you like some tea?\").",
    Permission = "permission": "Asking permission (\"Can I ask you something?\").",
    Request = "request": "Asking the reader to do something (\"Could you send it?\").",
    Instruction = "instruction": "An instruction in a notice (\"The meeting moved to 4pm. Please update your calendars.\"): done, not declined.",
    Summons = "summons": "Being called to come (\"Dinner's ready, come downstairs\").",
    Plea = "plea": "Asking for help out of trouble (\"My car broke down, can you pick me up?\"): helped, not declined.",
    Invitation = "invitation": "Proposing to do something together (\"Want to grab lunch?\").",
    TellAbout = "tell_about": "Asking to be told about something (\"Tell me about your trip.\").",
    CareRequest = "care_request": "Asking to be told or to be careful (\"Text me when you land\").",
    Announcement = "announcement": "Announcing something (\"Guess what!\").",
    Suggestion = "suggestion": "Suggesting an idea (\"We should paint it blue.\").",
    Plan = "plan": "A plan or arrangement with a time (\"Dinner at 8 tomorrow.\").",
    Info = "info": "Plain information, not about oneself (\"The train is delayed.\").",
    Greeting = "greeting": "Hello.",
    HowAreYou = "how_are_you": "How are you.",
    WhatsUp = "whats_up": "What's up, what are you doing.",
    HowWas = "how_was": "How something the reader did went (\"How was the trip?\", \"How'd the interview go?\").",
    Reciprocal = "reciprocal": "The same asked back (\"How about you?\").",
    Thanks = "thanks": "Thanks.",
    Apology = "apology": "An apology (\"Sorry I'm late\").",
    Farewell = "farewell": "Goodbye.",
    Wish = "wish": "Wishing the reader well (\"Good luck tomorrow!\", \"Happy anniversary!\").",
    WishBack = "wish_back": "A wish the reader can return (\"Have a nice day!\"; not \"Have a great trip!\", the reader's own occasion).",
    Compliment = "compliment": "Praise of the reader (\"You look great!\").",
    Kind = "kind": "Something kind or cute (\"I made this for you\").",
    Share = "share": "Passing on something asked for or mentioned (\"Here's the link\").",
    MissYou = "miss_you": "I miss you, I love you.",
    LookingForward = "looking_forward": "Looking forward to seeing the reader, or glad to have (\"Can't wait to see you!\").",
    Humor = "humor": "Something funny (\"haha\").",
    Remark = "remark": "A remark on the weather, to be agreed with (\"it's so hot today\", \"Beautiful day out there!\").",
    Show = "show": "Showing something for a reaction (\"Look at this view!\", \"Check this out\").",
    Late = "late": "Running late (\"Running 10 min late, sorry!\").",
    OnTheWay = "on_the_way": "On the way, with no lateness to forgive (\"omw, 5 min\").",
    OpenOffer = "open_offer": "An offer naming nothing to accept now (\"Let me know if you need anything\").",
    Arrival = "arrival": "Having arrived where the reader is expected (\"I'm outside\", \"Just parked\").",
    OpenInvitation = "open_invitation": "An invitation naming no clock time (\"Want to grab lunch?\"): what time is worth asking.",
    OpenPlan = "open_plan": "A plan naming no clock time (\"Dinner tomorrow!\").",
    Ack = "ack": "Acknowledging what the reader said (\"Good to hear!\", \"Glad to hear that.\").",
    Confirm = "confirm": "A short confirmation or acknowledgement (\"Yes I am.\", \"I can see that.\", \"Of course.\").",
    GoodNews = "good_news": "Good news.",
    BadNews = "bad_news": "Bad news.",
    Achievement = "achievement": "Something achieved (\"I passed my exam!\").",
    Sick = "sick": "Being ill or hurt.",
    Challenge = "challenge": "Something to face (\"I have an interview tomorrow\").",
    Trip = "trip": "Going somewhere (\"Flying to Rome tomorrow\", \"Off to the beach\").",
    Report = "report": "A statement about oneself that is not bad news (\"I play chess.\").",
    ReportLike = "report_like": "Saying what one likes (\"I love baseball\").",
    ReportFun = "report_fun": "A report or plan of something fun.",
    PastReport = "past_report": "Telling of something done (\"We went to the lake.\").",
    Status = "status": "A short status (\"I'm doing well.\", \"Not much.\").",
    StatusGood = "status_good": "A short good status (\"Very well, thanks.\").",
    StatusNeutral = "status_neutral": "A short status with nothing to tell (\"Not much.\", \"Same old.\").",
    Insult = "insult": "A claim about the reader that is not praise (\"you are mean\").",
    Complaint = "complaint": "A complaint about the reader (\"You forgot my birthday.\").",
    Fragment = "fragment": "Nothing else recognized (a fragment, a name, a riddle).",
}

/// A set of acts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Acts(u64);

impl Acts {
    /// Adds `a`.
    pub fn insert(&mut self, a: Act) {
        self.0 |= 1 << a as u8;
    }
    /// Removes `a`.
    pub fn remove(&mut self, a: Act) {
        self.0 &= !(1 << a as u8);
    }
    /// `a` is in the set.
    pub fn has(&self, a: Act) -> bool {
        self.0 & (1 << a as u8) != 0
    }
    /// Removes every act of `o`.
    pub fn remove_all(&mut self, o: &Acts) {
        self.0 &= !o.0;
    }
    /// Adds (`on`) or removes `a`.
    pub fn set(&mut self, a: Act, on: bool) {
        if on {
            self.insert(a)
        } else {
            self.remove(a)
        }
    }
    /// No act.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// At least one act in common with `o`.
    pub fn intersects(&self, o: &Acts) -> bool {
        self.0 & o.0 != 0
    }
    /// Every act of `o` is in the set.
    pub fn contains_all(&self, o: &Acts) -> bool {
        self.0 & o.0 == o.0
    }
    /// The acts, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = Act> + '_ {
        Act::ALL.iter().copied().filter(|a| self.has(*a))
    }
    /// The act names, for display.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(Act::as_str).collect()
    }

    /// Asks something of the reader: an answer, a decision or an action.
    pub fn asks(&self) -> bool {
        [
            Act::YesNo,
            Act::Wh,
            Act::WhTime,
            Act::AskSchedule,
            Act::WhPlace,
            Act::OpinionQ,
            Act::Choice,
            Act::Offer,
            Act::Permission,
            Act::Request,
            Act::Invitation,
            Act::HowAreYou,
            Act::WhatsUp,
            Act::Reciprocal,
        ]
        .iter()
        .any(|a| self.has(*a))
    }

    /// A decision is asked for: yes and no both fit.
    pub fn decision(&self) -> bool {
        [
            Act::YesNo,
            Act::Offer,
            Act::Permission,
            Act::Request,
            Act::Invitation,
        ]
        .iter()
        .any(|a| self.has(*a))
    }

    /// The acts of `message`: the shape of each sentence (question kinds, an imperative),
    /// then what it asks (offer, permission, request, invitation...), its social acts
    /// (greeting, thanks, wishes...), and last what it tells (news, plans, reports,
    /// information), which depends on the acts before.
    pub fn of(message: &str, cat: &Catalog) -> Acts {
        Acts::of_spelled_out(&spelled_out(message, cat), cat)
    }

    /// The acts of a message already written out by [`spelled_out`] (the drafter keeps that
    /// text to look up cues in).
    pub fn of_spelled_out(message: &str, cat: &Catalog) -> Acts {
        let mut a = Acts::default();
        let all = words(message);
        if all.is_empty() {
            a.insert(Act::Fragment);
            return a;
        }
        let msg = Msg {
            cat,
            padded: padded_key(message),
            all,
        };
        let shape = sentence_acts(&mut a, message, cat);
        ask_acts(&mut a, &msg, &shape);
        social_acts(&mut a, &msg, &shape);
        // before the told acts too: a greeting would hide the news or information as social
        greeting_in_passing(&mut a, &msg, &shape);
        told_acts(&mut a, &msg, &shape);
        greeting_in_passing(&mut a, &msg, &shape);
        a
    }
}

/// `message` as the act rules read it: typographic apostrophes made plain (iOS keyboards
/// type "I’m"), letters a word stretches squeezed ("sooo good" is "so good"), and its
/// texting spellings and ambiguous contractions (lexicon `texting`, `short:full`) written
/// out, so "could u send me the pics" reads as "could you send me the pics" and "we're
/// moving" is not the past "were". Everything else is kept as it is.
pub fn spelled_out(message: &str, cat: &Catalog) -> String {
    let full_of = |w: &str| {
        let lower = w.to_lowercase();
        let w = squeezed(&lower);
        let plain = w.replace('\'', "");
        lexicon_pairs(cat, "texting")
            .find(|(short, _)| *short == w || *short == plain)
            .map(|(_, full)| full.to_owned())
            .or((w != lower).then_some(w))
    };
    let mut out = String::with_capacity(message.len() + 16);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match full_of(word) {
            Some(full) => out.push_str(&full),
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in message.chars() {
        let c = if matches!(c, '\u{2019}' | '\u{2018}') {
            '\''
        } else {
            c
        };
        if c.is_alphanumeric() || c == '\'' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            match emoji_word(c, cat) {
                Some(w) => {
                    out.push(' ');
                    out.push_str(w);
                    out.push(' ');
                }
                None => out.push(c),
            }
        }
    }
    flush(&mut word, &mut out);
    one_you(&contracted_verbs(&out, cat), cat)
}

/// `text` with a plural "you" read as "you" ("Hope you two are staying cool", "see you all
/// Tuesday", "you lot are legends", "would ye like to"): a word of `you_plurals` after "you"
/// is dropped, so the phrases written for "you" read the message ("you all right?" stays as
/// written).
fn one_you(text: &str, cat: &Catalog) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let bare = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        // "would ye like to", "what are ye up to": the Irish plural "ye" after an auxiliary
        // or a wh-word (elsewhere it may be "yeah")
        let asked = i > 0
            && ["aux", "wh"]
                .iter()
                .any(|l| cat.contains(l, &bare(words[i - 1])));
        if *w == "ye" && asked {
            out.push("you");
            continue;
        }
        let after_you = i > 0
            && bare(words[i - 1]) == "you"
            && words[i - 1].ends_with(|c: char| c.is_alphanumeric());
        let plural = after_you
            && *w == bare(w)
            && cat.contains("you_plurals", w)
            && words.get(i + 1).is_none_or(|n| bare(n) != "right");
        if !plural {
            out.push(w);
        }
    }
    out.join(" ")
}

/// `text` with a noun's "'s" read as the verb it stands for ("Dinner's in the oven" is
/// "Dinner is in the oven", "Your dad's had a fall" is "Your dad has had a fall"): before a
/// word of `s_is_before` it is "is", before one of `s_has_before` "has". A possessive
/// ("Sarah's car") and the pronouns of `s_pronouns` ("it's", read by their own lexicon
/// phrases) stay as written.
fn contracted_verbs(text: &str, cat: &Catalog) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next = words
            .get(i + 1)
            .map(|n| {
                n.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .unwrap_or_default();
        let stem = w
            .strip_suffix("'s")
            .filter(|stem| !stem.is_empty() && stem.chars().all(char::is_alphanumeric))
            .filter(|stem| !cat.contains("s_pronouns", &stem.to_lowercase()));
        match stem {
            Some(stem) if cat.contains("s_is_before", &next) => out.push(format!("{stem} is")),
            Some(stem) if cat.contains("s_has_before", &next) => out.push(format!("{stem} has")),
            _ => out.push((*w).to_owned()),
        }
    }
    out.join(" ")
}

/// The word an emoji stands for (lexicon `emoji_words`, `EMOJI:WORD`: "😂" is "lol").
fn emoji_word(c: char, cat: &Catalog) -> Option<&str> {
    let mut buf = [0u8; 4];
    let c = &*c.encode_utf8(&mut buf);
    lexicon_pairs(cat, "emoji_words")
        .find(|(emoji, _)| *emoji == c)
        .map(|(_, word)| word)
}

/// The `KEY:VALUE` entries of a lexicon of pairs (`texting`, `emoji_words`).
fn lexicon_pairs<'a>(cat: &'a Catalog, name: &str) -> impl Iterator<Item = (&'a str, &'a str)> {
    cat.lexicon(name).iter().filter_map(|e| e.split_once(':'))
}

/// `w` with each run of three or more of one letter squeezed: to one at the end of the
/// word or for letters rarely doubled ("sooo" -> "so", "whaaat" -> "what"), to two for the
/// often doubled "e" and "o" inside it ("goood" -> "good", "sleeeep" -> "sleep").
fn squeezed(w: &str) -> String {
    let cs: Vec<char> = w.chars().collect();
    let mut out = String::with_capacity(w.len());
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let run = cs[i..].iter().take_while(|&&d| d == c).count();
        let keep = if run < 3 || !c.is_alphabetic() {
            run
        } else if i + run < cs.len() && matches!(c, 'e' | 'o') {
            2
        } else {
            1
        };
        out.extend(std::iter::repeat_n(c, keep));
        i += run;
    }
    out
}

/// Fewest words after "guess what" that tell the news announced ("guess what i caught a
/// frog"; "guess what!!" still announces).
const ANNOUNCED_MIN_WORDS: usize = 3;

/// Whether `ws` opens with "guess what" and then tells the news: a subject and at least
/// [`ANNOUNCED_MIN_WORDS`] words ("guess what i caught a frog"; "guess what happened at
/// work" still announces).
fn news_after_guess_what(ws: &[String], cat: &Catalog) -> bool {
    ws.len() >= 2 + ANNOUNCED_MIN_WORDS
        && ws[0] == "guess"
        && ws[1] == "what"
        && ["self_subjects", "subjects", "you_subjects"]
            .iter()
            .any(|l| cat.contains(l, &ws[2]))
}

/// Longest message in words whose greeting is answered in kind; in a longer one that asks or
/// tells something ("Hi all, team lunch is Thursday ... please RSVP"), the greeting only opens
/// it and "Hey, how are you?" would ignore what it says.
const GREETING_MAX_WORDS: usize = 8;

/// Longest message whose introduction is still answered with a greeting: "Hey! It's Priya
/// from the pottery class, great meeting you today :)" (12 words) is; "Hello, this is Ms.
/// Patel from Lincoln Elementary. Emma had a great day today..." (25) tells news and
/// "Hey, how are you?" would ignore it (the longest introduction labelled a greeting in the
/// reply fixtures has 13 words; the shortest labelled otherwise, 17).
const INTRODUCTION_MAX_WORDS: usize = 15;

/// Drops a greeting that only opens a longer message asking or telling something else (an
/// introduction, "Hi, it's Dana from the gym", keeps it).
fn greeting_in_passing(a: &mut Acts, msg: &Msg, shape: &Shape) {
    let substance = [
        Act::YesNo,
        Act::Wh,
        Act::WhTime,
        Act::WhPlace,
        Act::AskSchedule,
        Act::Choice,
        Act::OpinionQ,
        Act::Offer,
        Act::Permission,
        Act::Request,
        Act::Invitation,
        Act::CareRequest,
        Act::Plan,
        Act::Info,
        Act::GoodNews,
        Act::BadNews,
        Act::Achievement,
        Act::Apology,
        Act::Thanks,
        Act::Kind,
        Act::HowWas,
    ];
    if a.has(Act::Greeting)
        && !a.has(Act::HowAreYou)
        && !msg.has("met_you")
        && msg.all.len() > GREETING_MAX_WORDS
        && (substance.iter().any(|x| a.has(*x))
            || (shape.statement
                && (!msg.has("introductions") || msg.all.len() > INTRODUCTION_MAX_WORDS)))
    {
        a.remove(Act::Greeting);
    }
}

/// A message as the act rules read it.
struct Msg<'a> {
    cat: &'a Catalog,
    /// Its words.
    all: Vec<String>,
    /// Its key between spaces (see [`padded_key`]).
    padded: String,
}

impl Msg<'_> {
    /// Whether the message holds a phrase of lexicon `lex`.
    fn has(&self, lex: &str) -> bool {
        self.cat.has_any(&self.padded, lex)
    }

    /// Whether the message holds `phrase` (lowercase words between spaces: " how about we ").
    fn contains(&self, phrase: &str) -> bool {
        self.padded.contains(phrase)
    }
}

/// What the sentence pass learns about a message besides its question acts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Shape {
    /// A statement judges someone or something other than the sender or the reader
    /// (lexicon `judgements`: "the ref was a joke").
    judges_other: bool,
    /// A place or a time asked, then one proposed ("Where shall we meet? Piccadilly
    /// Gardens?").
    proposes_answer: bool,
    /// Some sentence opens with a wh-word.
    wh_led: bool,
    /// A question opening with "want some", "need a"...: an offer without its "do you".
    offer_opening: bool,
    /// A statement offering what one can do ("I can give you a lift", "happy to pick you
    /// up", "I could bring dessert").
    offer_statement: bool,
    /// A choice between options ("Tea or coffee?", "beer or wine for the party").
    choice: bool,
    /// A statement led by a past verb, its "I" unsaid ("Went hiking on Saturday").
    past_led: bool,
    /// A statement led by a participle, its "I" unsaid ("Moving into our new place").
    ing_led: bool,
    /// A sentence that is only a good night ("night!", "gn").
    bare_night: bool,
    /// A sentence ending in a check-in ("everything ok?", "You okay?").
    check_in: bool,
    /// Some sentence is a statement (neither a question nor asking the same back).
    statement: bool,
    /// A statement about oneself ("I ...", "We ...").
    about_me: bool,
    /// A statement about the reader ("You ...").
    about_you: bool,
    /// A statement about someone or something else ("The package arrived.").
    about_other: bool,
    /// A question which of two facts holds (see [`fact_alternative`]).
    fact_alternative: bool,
    /// A question which of two things the reader does (see [`readers_own_alternative`]).
    readers_alternative: bool,
    /// A statement led by a noun rather than a subject word ("Parents' evening slots are now
    /// open"): a notice's information, when it comes with an instruction.
    noun_led: bool,
    /// Some sentence without an open offer asks something ("please send payment by check"
    /// beside "let me know if you have any questions").
    asks_beside_open_offer: bool,
    /// Words of a first sentence that only says who writes ("Hi, this is your landlord."),
    /// 0 if none: see [`introduction`].
    intro_words: usize,
}

/// Most words of a place or time proposed after asking one ("Piccadilly Gardens?", "the
/// usual spot?", "7pm?").
const PROPOSAL_MAX_WORDS: usize = 3;

/// The sentence pass: each sentence's question kind (or an imperative's request) into
/// `a`, and the [`Shape`] of the message.
fn sentence_acts(a: &mut Acts, message: &str, cat: &Catalog) -> Shape {
    let mut shape = Shape::default();
    let whole = padded_key(message);
    let content = |ws: &[String]| ws.iter().filter(|w| !cat.contains("openers", w)).count();
    // A comma splits only clauses of two words or more: "Sure, ask away." and "It was the
    // 13th, right?" stay one sentence.
    let mut merged: Vec<(Vec<String>, bool)> = Vec::new();
    for (ws, qmark, after_comma) in sentences(message) {
        match merged.last_mut() {
            Some(prev) if after_comma && (content(&prev.0) <= 1 || content(&ws) == 0) => {
                prev.0.extend(ws);
                prev.1 = qmark;
            }
            _ => merged.push((ws, qmark)),
        }
    }
    let mut plan_asked = false;
    if merged.len() > 1 && introduction(&merged[0].0, cat) {
        shape.intro_words = merged[0].0.len();
    }
    for (ws, qmark) in &merged {
        let mut start = ws
            .iter()
            .position(|w| !cat.contains("openers", w))
            .unwrap_or(ws.len());
        if addresses_reader(&ws[start..], cat) {
            start += 1;
        }
        // "Pls what time are you finishing today?": the question after the courtesy.
        if ws.get(start).is_some_and(|w| cat.contains("courtesies", w))
            && ws.get(start + 1).is_some_and(|w| cat.contains("wh", w))
        {
            start += 1;
        }
        // "(Dad) guess what i caught a frog": the news after "guess what" is what it tells.
        if let Some(k) =
            (start..ws.len().min(start + 2)).find(|&k| news_after_guess_what(&ws[k..], cat))
        {
            start = k + 2;
        }
        // "Mum's asking if we're doing it at the Red Lion or at ours": the question passed on.
        let (s, qmark) = match relayed_question(&ws[start..], cat) {
            Some(rest) => (rest, true),
            None => (&ws[start..], *qmark),
        };
        if s.is_empty() {
            continue;
        }
        // "Where shall we meet? Piccadilly Gardens?": a place or a time asked, then one
        // proposed in a few words, is a suggestion to agree to, not a yes/no question.
        if plan_asked
            && (a.has(Act::WhPlace) || a.has(Act::WhTime))
            && qmark
            && s.len() <= PROPOSAL_MAX_WORDS
            && !s.iter().any(|w| cat.contains("choice_words", w))
            && !["wh", "aux", "you_subjects", "self_subjects"]
                .iter()
                .any(|l| cat.contains(l, &s[0]))
        {
            shape.proposes_answer = true;
            continue;
        }
        // "What time?", "Where shall we meet?" ask what to agree on; "Where are you?"
        // asks where the reader is.
        plan_asked = cat.contains("wh", &s[0])
            && (s.len() <= 2 || cat.has_any(&format!(" {} ", s.join(" ")), "time_proposal"));
        sentence(a, &mut shape, s, qmark, &whole, cat);
    }
    shape
}

/// The words after a phrase of `relayed_questions` ("asking if", "wants to know if") in
/// sentence `s`, if it holds one with words after it; or after a verb of `relay_verbs`
/// when an auxiliary opens them ("mum says do u want chips").
fn relayed_question<'s>(s: &'s [String], cat: &Catalog) -> Option<&'s [String]> {
    let after = |lex: &str| {
        cat.lexicon(lex).iter().find_map(|phrase| {
            let n = phrase.split(' ').count();
            (0..s.len().saturating_sub(n))
                .find(|&i| s[i..i + n].join(" ") == *phrase)
                .map(|i| &s[i + n..])
        })
    };
    after("relayed_questions").or_else(|| {
        after("relay_verbs").filter(|rest| rest.len() >= 2 && cat.contains("aux", &rest[0]))
    })
}

/// Whether sentence `s` opens with the reader's name or a word of address before a
/// wh-question, a question to the reader or the sender's own news ("Ken, when's best for me
/// to pop round?", "mum what time is dinner", "Dad would you prefer the chicken or the ham",
/// "DAD I SCORED 2 GOALS TODAY"): a word no lexicon of sentence shapes knows, then a
/// wh-word, an auxiliary and "you", or "I"/"we", then more.
fn addresses_reader(s: &[String], cat: &Catalog) -> bool {
    // "Dad would you prefer the chicken or the ham": a word, then an auxiliary and "you".
    let asks_reader =
        s.len() >= 4 && cat.contains("aux", &s[1]) && cat.contains("you_subjects", &s[2]);
    s.len() >= 3
        && (cat.contains("wh", &s[1]) || cat.contains("news_subjects", &s[1]) || asks_reader)
        && ![
            "subjects",
            "self_subjects",
            "you_subjects",
            "aux",
            "wh",
            "imperatives",
            "past_verbs",
            "greeting_words",
            "not_vocatives",
        ]
        .iter()
        .any(|l| cat.contains(l, &s[0]))
}

/// Longest introduction in words after its openers ("this is the school nurse" has 5).
const INTRO_MAX_WORDS: usize = 6;

/// Whether sentence `ws` only says who writes (lexicon `self_introductions`): short and with
/// no good or bad word ("This is the best pizza" is an opinion).
fn introduction(ws: &[String], cat: &Catalog) -> bool {
    let s: Vec<&String> = ws
        .iter()
        .skip_while(|w| cat.contains("openers", w))
        .collect();
    let p = format!(
        " {} ",
        s.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" ")
    );
    s.len() <= INTRO_MAX_WORDS
        && starts_with_any(&p, cat.lexicon("self_introductions"))
        && !s
            .iter()
            .any(|w| cat.contains("good", w) || cat.contains("bad", w))
}

/// Whether the message praises a thing of the reader's ("ur free kick on saturday was
/// lowkey insane", "that goal of yours was unreal"): "your", "ur" or "of yours", later a
/// verb of `praise_verbs`, then, past words of `praise_degrees`, one of `yours_praised`.
fn praises_yours(msg: &Msg) -> bool {
    let ws = &msg.all;
    let Some(owner) = ws.iter().enumerate().position(|(i, w)| {
        w == "your" || w == "ur" || (w == "of" && ws.get(i + 1).is_some_and(|n| n == "yours"))
    }) else {
        return false;
    };
    ws.iter()
        .enumerate()
        .skip(owner + 1)
        .filter(|(_, w)| msg.cat.contains("praise_verbs", w))
        .any(|(j, _)| {
            let rest: Vec<&str> = ws[j + 1..]
                .iter()
                .map(String::as_str)
                .skip_while(|w| msg.cat.contains("praise_degrees", w))
                .collect();
            starts_with_any(
                &format!(" {} ", rest.join(" ")),
                msg.cat.lexicon("yours_praised"),
            )
        })
}

/// Longest noun phrase read as the subject of a statement that opens without a subject
/// word ("Parents' evening slots are now open"; "Match Saturday vs Leeds" has no verb).
const NOUN_SUBJECT_MAX_WORDS: usize = 4;

/// One sentence `s` (its words after any openers such as "so", "oh", "hey") of the message
/// whose padded key is `whole`.
fn sentence(
    a: &mut Acts,
    shape: &mut Shape,
    s: &[String],
    qmark: bool,
    whole: &str,
    cat: &Catalog,
) {
    let first = s[0].as_str();
    let p = format!(" {} ", s.join(" "));
    shape.asks_beside_open_offer |= !cat.has_any(&p, "open_offers")
        && (cat.contains("imperatives", first) || cat.has_any(&p, "request"));
    if qmark && starts_with_any(&p, cat.lexicon("offer_openings")) {
        shape.offer_opening = true;
    }
    shape.choice |= choice(s, &p, qmark, cat) || starts_with_any(&p, cat.lexicon("choice_asks"));
    shape.fact_alternative |= fact_alternative(s, &p, cat);
    shape.readers_alternative |= s
        .iter()
        .position(|w| cat.contains("choice_words", w))
        .is_some_and(|i| i > 0 && i + 1 < s.len() && readers_own_alternative(s, i, cat));
    shape.bare_night |=
        cat.contains("night_bare", first) && s[1..].iter().all(|w| cat.contains("endearments", w));
    shape.check_in |= ends_with_any(&p, cat.lexicon("check_in_tails"));
    if !question(a, shape, s, &p, qmark, cat) {
        shape.offer_statement |= offer_statement(s, &p, cat);
        let past_led = past_led(s, cat);
        shape.past_led |= past_led;
        shape.ing_led |= ing_led(s, cat);
        // An imperative verb first asks something, unless the message wishes well, says
        // goodbye or asks to be kept posted ("Get well soon!", "Take care!", "Text me when
        // you land.": no decline fits them).
        // "come along if you fancy it" invites: accepted or declined, not done as a favour.
        if cat.contains("imperatives", first)
            && !cat.has_any(&p, "invitation")
            && !whole.contains(" thank")
            && !["wish", "farewell", "care_request", "show", "not_request"]
                .iter()
                .any(|l| cat.has_any(whole, l))
        {
            a.insert(Act::Request);
        }
        shape.statement = true;
        let me = cat.contains("self_subjects", first)
            || past_led
            || (cat.contains("unsaid_i_verbs", first)
                && s.get(1).is_some_and(|w| cat.contains("self_subjects", w)));
        let you = cat.contains("you_subjects", first);
        shape.judges_other |= !cat.contains("self_subjects", first)
            && !s.iter().any(|w| cat.contains("close_people", w))
            && !you
            && first != "your"
            && cat.has_any(&p, "judgements");
        shape.about_me |= me;
        shape.about_you |= you;
        // "Parents' evening slots are now open": a noun, then a verb of information within
        // a few words.
        let noun_led = !cat.contains("imperatives", first)
            && s.iter()
                .take(NOUN_SUBJECT_MAX_WORDS + 1)
                .take_while(|w| {
                    !cat.contains("self_subjects", w) && !cat.contains("you_subjects", w)
                })
                .skip(1)
                .any(|w| cat.contains("info_words", w));
        shape.about_other |= cat.contains("subjects", first) && !me && !you;
        shape.noun_led |= noun_led && !me && !you;
    }
}

/// Whether sentence `s` (`p`: its words between spaces) asks which of two facts holds ("is
/// the physics test tomorrow or friday", "Is that a definition or an opinion?"): checked or
/// not known, neither a choice to make nor a yes or a no ("is it me or is it freezing" joins
/// two questions: its "or" is followed by an auxiliary).
fn fact_alternative(s: &[String], p: &str, cat: &Catalog) -> bool {
    !cat.has_any(p, "not_choice")
        && s.iter().enumerate().any(|(i, w)| {
            cat.contains("choice_words", w)
                && i > 0
                && s.get(i + 1).is_some_and(|next| !cat.contains("aux", next))
                && (starts_with_any(p, cat.lexicon("choice_fact_openings"))
                    || told_fact_before(&s[..i], cat))
        })
}

/// Whether `head` (a sentence's words before its "or") tells a fact of a thing: a word
/// of `fact_subject_openers` first, then a copula ("the creche is closed on the Monday
/// or just the Friday"; "the blue one or the red?" tells nothing).
fn told_fact_before(head: &[String], cat: &Catalog) -> bool {
    head.first()
        .is_some_and(|w| cat.contains("fact_subject_openers", w))
        && head[1..].iter().any(|w| cat.contains("copulas", w))
}

/// Whether sentence `s` (`p`: its words between spaces) offers a choice between options:
/// "or" joining two of its words, not in a phrase that offers none ("or something"), in a
/// question or in a statement that has no subject or verb first ("beer or wine for the
/// party"; "I'll call or text" and "Call or text me" choose nothing).
fn choice(s: &[String], p: &str, qmark: bool, cat: &Catalog) -> bool {
    let Some(i) = s
        .iter()
        .position(|w| cat.contains("choice_words", w))
        .filter(|&i| i > 0 && i + 1 < s.len())
    else {
        return false;
    };
    if cat.has_any(p, "not_choice")
        || starts_with_any(p, cat.lexicon("choice_fact_openings"))
        || told_fact_before(&s[..i], cat)
        || readers_own_alternative(s, i, cat)
    {
        return false;
    }
    let first = s[0].as_str();
    qmark
        || cat.contains("aux", first)
        || (i <= 3
            && !["subjects", "self_subjects", "you_subjects", "imperatives"]
                .iter()
                .any(|l| cat.contains(l, first)))
}

/// Whether the message's offer comes only after an "or" that follows a question to the
/// reader ("are you still ok to do the reading or shall I ask Clive?": the fallback is
/// offered, the question is whether the reader does it; "Do you want the lasagna or should
/// I toss it?" offers before its "or").
fn offer_only_after_or(msg: &Msg) -> bool {
    let Some(at) = msg.padded.find(" or ") else {
        return false;
    };
    let head = &msg.padded[..=at];
    head.split(' ').any(|w| msg.cat.contains("you_subjects", w)) && !msg.cat.has_any(head, "offer")
}

/// Whether the "or" at `i` of sentence `s` joins the reader's own doings ("are you coming
/// or is work not letting you off", "you're coming Sunday or staying home"): a "you" before
/// it, and after it a clause of its own (an auxiliary, then a word other than "I") or a participle
/// answering one before it. That asks a fact about the reader (yes, no, not sure), not a
/// choice to leave to the sender ("Either is fine!"); "Are you free Saturday or Sunday?"
/// still offers one.
fn readers_own_alternative(s: &[String], i: usize, cat: &Catalog) -> bool {
    let participle =
        |w: &String| w.len() > 4 && w.ends_with("ing") && !cat.contains("not_participles", w);
    let you = s[..i].iter().any(|w| cat.contains("you_subjects", w));
    // "or should I toss it?" is the sender's doing: the offer stands
    let clause = cat.contains("aux", &s[i + 1])
        && s.get(i + 2)
            .is_some_and(|w| !cat.contains("self_subjects", w));
    let doings = participle(&s[i + 1]) && s[..i].iter().any(participle);
    you && (clause || doings)
}

/// Whether statement `s` (`p`: its words between spaces) offers what one can do: an
/// opening such as "I can", "happy to", then a verb of giving ("bring", "lend"), or one of
/// doing for someone ("give", "pick") with a "you" in the sentence.
fn offer_statement(s: &[String], p: &str, cat: &Catalog) -> bool {
    if !starts_with_any(p, cat.lexicon("offer_starts")) {
        return false;
    }
    let for_you = s
        .iter()
        .any(|w| cat.contains("you_subjects", w) || w == "your");
    cat.has_any(p, "offer_verbs")
        || (for_you && s.iter().any(|w| cat.contains("offer_verbs_you", w)))
}

/// Whether statement `s` starts (after "just", "finally"...) with a past verb, its "I"
/// unsaid ("Went hiking on Saturday", "Just got engaged!", "Finished the marathon"): a
/// report about oneself, not an imperative or a plan.
fn past_led(s: &[String], cat: &Catalog) -> bool {
    let Some(w) = s.iter().find(|w| !cat.contains("leading_adverbs", w)) else {
        return false;
    };
    cat.contains("past_verbs", w) || (w.len() >= 6 && w.ends_with("ed"))
}

/// Whether statement `s` starts (after "just", "finally"...) with a participle ("Moving
/// into our new place", "Getting married in June!").
fn ing_led(s: &[String], cat: &Catalog) -> bool {
    s.iter()
        .find(|w| !cat.contains("leading_adverbs", w))
        .is_some_and(|w| w.len() > 4 && w.ends_with("ing") && !cat.contains("not_participles", w))
}

/// Whether sentence `s` (`p`: its words between spaces) is a question, and which kind
/// (into `a`).
fn question(
    a: &mut Acts,
    shape: &mut Shape,
    s: &[String],
    p: &str,
    qmark: bool,
    cat: &Catalog,
) -> bool {
    let first = s[0].as_str();
    let second = s.get(1).map(String::as_str).unwrap_or("");
    let sent_has = |lex: &str| cat.has_any(p, lex);
    // "How about you?" ends a sentence; a bare "you?" is the whole sentence (a "you"
    // inside one, "You okay?", "Where are you?", asks something else).
    let reciprocal = (s.len() == 1 && cat.contains("reciprocal_bare", first))
        || cat
            .lexicon("reciprocal")
            .iter()
            .any(|r| p.ends_with(&format!(" {r} ")));
    if reciprocal {
        a.insert(Act::Reciprocal);
    } else if cat.contains("wh", first) {
        shape.wh_led = true;
        wh_question(a, s, p, cat);
    } else if cat.contains("aux", first)
        && s.len() >= 2
        && !(first == "had" && !qmark && cat.contains("past_objects", second))
        && (qmark
            || cat.contains("you_subjects", second)
            || ends_with_any(p, cat.lexicon("question_tails"))
            || (s.len() <= 8 && cat.contains("subjects", second)))
    {
        a.insert(Act::YesNo);
        if sent_has("opinion") && matches!(first, "do" | "does" | "is" | "are" | "would") {
            a.insert(Act::OpinionQ);
        }
    } else if dropped_aux(s, cat) || ends_with_any(p, cat.lexicon("question_tails")) {
        a.insert(Act::YesNo);
    } else if qmark {
        if s.len() <= 3 && sent_has("reciprocal") {
            a.insert(Act::Reciprocal);
        } else if cat.contains("activities", first) {
            // "drinks after work?": an invitation with its verb unsaid.
            a.insert(Act::Invitation);
        } else {
            a.insert(Act::YesNo);
        }
    } else {
        return false;
    }
    true
}

/// A yes/no question whose auxiliary texting drops: a subject such as "you", "u",
/// "anyone", then a participle or a predicate such as "free", "home", "still" ("you
/// watching the game tonight", "u free later"), in a short sentence.
fn dropped_aux(s: &[String], cat: &Catalog) -> bool {
    let second = s.get(1).map(String::as_str).unwrap_or("");
    s.len() <= 8
        && cat.contains("dropped_aux_subjects", &s[0])
        && ((second.len() > 4 && second.ends_with("ing"))
            || cat.contains("dropped_aux_predicates", second))
}

/// Fewest words of a time question about a set event ("When is the game?" has 4; "What
/// time tomorrow?" proposes).
const SET_EVENT_MIN_WORDS: usize = 4;

/// The kind of a sentence led by a wh-word: the same asked back, a suggestion ("How about
/// we..."), a time, a place, an opinion or a plain wh-question (how-are-you and what's-up
/// are read from the whole message).
fn wh_question(a: &mut Acts, s: &[String], p: &str, cat: &Catalog) {
    let sent_has = |lex: &str| cat.has_any(p, lex);
    if sent_has("how_are_you") || sent_has("whats_up") {
        // set from the whole message (social_acts)
    } else if sent_has("reciprocal") && s.len() <= 4 {
        a.insert(Act::Reciprocal);
    } else if p.starts_with(" how about we ") || p.starts_with(" why dont we ") {
        a.insert(Act::Invitation);
    } else if starts_with_any(p, cat.lexicon("wh_time")) {
        // "When do you land?" asks the reader's own schedule, "What time does the party
        // start?" a set event's (no one of "us" in it, and more than "What time tomorrow?"):
        // checked, not proposed.
        let yours = s
            .iter()
            .any(|w| cat.contains("you_subjects", w) || w == "your");
        let ours = s
            .iter()
            .any(|w| cat.contains("self_subjects", w) || cat.contains("us_words", w));
        let set_event = s.len() >= SET_EVENT_MIN_WORDS && !ours;
        let own_schedule = !sent_has("time_proposal") && (yours || set_event);
        a.insert(if own_schedule {
            Act::AskSchedule
        } else {
            Act::WhTime
        });
    } else if starts_with_any(p, cat.lexicon("wh_place")) {
        a.insert(Act::WhPlace);
    } else if sent_has("opinion") {
        a.insert(Act::OpinionQ);
    } else {
        a.insert(Act::Wh);
    }
}

/// Whether `p` (words between spaces) ends with one of `phrases`.
fn ends_with_any(p: &str, phrases: &[String]) -> bool {
    phrases.iter().any(|o| p.ends_with(&format!(" {o} ")))
}

/// Whether `p` (words between spaces) starts with one of `phrases`.
fn starts_with_any(p: &str, phrases: &[String]) -> bool {
    phrases.iter().any(|o| p.starts_with(&format!(" {o} ")))
}

/// The kinds of answer a question's shape asks for (yes or no, a fact, a time, a place, an
/// opinion, accepting): replaced when its words ask something else (a choice, a favour).
const ANSWER_SHAPES: [Act; 7] = [
    Act::YesNo,
    Act::Wh,
    Act::WhTime,
    Act::AskSchedule,
    Act::WhPlace,
    Act::OpinionQ,
    Act::Invitation,
];

/// What the message asks of the reader: an offer, permission, a request, an invitation, a
/// care request, something to tell about, an announcement.
fn ask_acts(a: &mut Acts, msg: &Msg, shape: &Shape) {
    if shape.choice {
        // "Tea or coffee?" is answered with one of them or "Either works!", not yes or no
        // ("Book a table or just walk in?" is no invitation to accept).
        a.insert(Act::Choice);
        for q in ANSWER_SHAPES {
            a.remove(q);
        }
    }
    if shape.fact_alternative {
        a.remove(Act::YesNo);
        a.insert(Act::AskSchedule);
    }
    // "lmk if you need a ride" offers nothing to take now: thanked for, not "Yes, please!".
    if msg.has("open_offers") && !shape.choice {
        a.insert(Act::OpenOffer);
        a.remove(Act::YesNo);
    } else if (msg.has("offer") || shape.offer_opening || shape.offer_statement)
        && !shape.choice
        && !msg.has("brings_own")
        && !offer_only_after_or(msg)
    {
        a.insert(Act::Offer);
        // An offer's yes and no are "Yes, please!" and "No, thanks.", not "Yes, I do."
        // ("Would you like some tea?" asks no taste either).
        a.remove(Act::YesNo);
        a.remove(Act::OpinionQ);
    }
    if msg.has("invitation_questions")
        && !msg.has("not_invitation")
        && !shape.choice
        && !shape.wh_led
    {
        // "Do you want to play tennis?" proposes doing something: accepted or declined,
        // not answered "No, I don't." nor "Yes, please!".
        a.insert(Act::Invitation);
        for x in [Act::YesNo, Act::Offer, Act::OpinionQ] {
            a.remove(x);
        }
    }
    if msg.has("opinion_asks") && !shape.choice {
        // "Thoughts?" asks an opinion of what was said or shown, not a yes or a no.
        a.insert(Act::OpinionQ);
        a.remove(Act::YesNo);
    }
    if !a.has(Act::Offer) && !shape.wh_led && msg.has("permission") {
        a.insert(Act::Permission);
    }
    let for_reader = msg
        .all
        .iter()
        .any(|w| msg.cat.contains("you_subjects", w) || w == "anything" || w == "something");
    if a.has(Act::Offer) && msg.has("offers_to_act") && !for_reader && !shape.choice {
        a.insert(Act::Permission);
    }
    // "Please text me when you land" asks to be kept posted: no decline fits it. "Saturday
    // or Sunday? vote pls" asks only the choice.
    if msg.has("request")
        && !msg.has("not_request")
        && !msg.has("care_request")
        && (!shape.choice || (msg.has("favour_questions") && !msg.has("taste_questions")))
    {
        a.insert(Act::Request);
    }
    // "Dinner's ready, come downstairs": "Coming!", not a favour or information ("can you
    // come downstairs and help me" still asks yes or no).
    let awaited =
        ends_with_any(&msg.padded, msg.cat.lexicon("summons_tails")) && msg.has("awaiting");
    if (msg.has("summons") && !a.has(Act::YesNo)) || awaited {
        a.remove(Act::WhPlace);
        a.insert(Act::Summons);
        a.remove(Act::Request);
    }
    // "The meeting moved to 4pm. Please update your calendars." instructs: "Will do!",
    // "Got it.", not declined; the notice is still thanked for.
    let notice = msg.has("info_markers")
        || msg.has("update")
        || ((shape.about_other || shape.noun_led) && !shape.about_me && msg.has("info_words"));
    if a.has(Act::Request)
        && !a.has(Act::YesNo)
        && !a.has(Act::Invitation)
        && !msg.has("favour_questions")
        && notice
    {
        a.remove(Act::Request);
        a.insert(Act::Instruction);
    }
    // "Your appointment is Thursday at 2:30. Please reply to confirm." asks yes or no.
    if msg.has("confirm_requests") {
        a.remove(Act::Request);
        a.remove(Act::Instruction);
        a.insert(Act::YesNo);
    }
    // "Please call if you need to reschedule" offers help; it asks no favour. Beside a
    // favour asked ("please send payment by check. Let me know if you have any
    // questions."), an open offer is a formula: the favour is answered.
    if a.has(Act::OpenOffer) {
        if shape.asks_beside_open_offer {
            a.remove(Act::OpenOffer);
        } else {
            a.remove(Act::Request);
        }
    }
    // "Sunday run 8am, who's in?" invites with its wh-word.
    let tail = ends_with_any(&msg.padded, msg.cat.lexicon("invitation_tails"));
    if (msg.has("invitation") || tail)
        && !msg.has("not_invitation")
        && !shape.choice
        && (tail
            || !shape.wh_led
            || msg.contains(" how about we ")
            || msg.contains(" why dont we "))
    {
        a.insert(Act::Invitation);
        if tail {
            a.remove(Act::Wh);
        }
    }
    // "Are you coming to the wedding or is work not letting you off?" asks whether the
    // reader comes, and invites to nothing.
    if shape.readers_alternative {
        for x in [Act::Invitation, Act::Suggestion] {
            a.remove(x);
        }
        a.insert(Act::YesNo);
    }
    // "Send me on your new eircode there love": the address is asked for, no favour.
    if msg.has("address_requests") {
        for x in [Act::Invitation, Act::Suggestion, Act::Request] {
            a.remove(x);
        }
        a.insert(Act::WhPlace);
    }
    a.set(Act::CareRequest, msg.has("care_request"));
    // "Tell me about your trip.": a request for a story, not a decision; answered by
    // asking what to tell ("hard to explain" asks nothing).
    let tell_about = msg.has("tell_about") && a.has(Act::Request);
    a.set(Act::TellAbout, tell_about);
    if tell_about {
        a.remove(Act::Request);
    }
    // "Dad guess what i caught a frog" says what it announces: the news is answered.
    let announced = (0..msg.all.len()).any(|k| news_after_guess_what(&msg.all[k..], msg.cat));
    a.set(Act::Announcement, msg.has("announcement") && !announced);
    // "Mom wants to know if you're coming home" asks yes or no without a question.
    if msg.has("indirect_questions") && !a.asks() {
        a.insert(Act::YesNo);
    }
    group_and_indirect_asks(a, msg);
}

/// Asks whose words say more than their question shape: a favour asked of a group ("Who can
/// drive Sunday?": offered or declined, not a fact nor a choice), a fact asked as whether the
/// reader knows it ("Do you know when the pharmacy closes?": checked like a set event's
/// time, not "Yes, I do."), and a nuisance to stop ("could you turn the music down?": done,
/// not declined; apologized for as a complaint, see [`reader_acts`]).
fn group_and_indirect_asks(a: &mut Acts, msg: &Msg) {
    let questions = ANSWER_SHAPES.into_iter().chain([Act::Choice]);
    if msg.has("nuisance_requests") {
        for q in questions.chain([Act::Request, Act::Permission]) {
            a.remove(q);
        }
        a.insert(Act::Instruction);
    } else if msg.has("volunteer_asks") {
        for q in questions {
            a.remove(q);
        }
        a.insert(Act::Request);
    } else if msg.has("indirect_wh") {
        for q in [Act::YesNo, Act::OpinionQ, Act::Wh] {
            a.remove(q);
        }
        a.insert(Act::AskSchedule);
    }
}

/// The social acts: greeting, how-are-you, what's-up, thanks, apology, farewell, wish,
/// love, humor, kindness, running late, arrival, acknowledgement, compliment, suggestion.
fn social_acts(a: &mut Acts, msg: &Msg, shape: &Shape) {
    let cat = msg.cat;
    a.set(
        Act::Greeting,
        cat.contains("greeting_words", &msg.all[0])
            || msg.has("greeting")
            || msg.has("met_you")
            || (msg.all.len() <= 3 && cat.contains("greeting_short", &msg.all[0])),
    );
    let whats_up = msg.has("whats_up");
    a.set(Act::WhatsUp, whats_up);
    // "Just checking in — have you had a chance to look at my return yet?": the check-in
    // only opens the question asked.
    let opener_only = msg.has("check_in_openers")
        && (a.has(Act::YesNo) || a.has(Act::Wh))
        && !cat
            .lexicon("how_are_you")
            .iter()
            .any(|p| !cat.contains("check_in_openers", p) && msg.contains(&format!(" {p} ")));
    a.set(
        Act::HowAreYou,
        (msg.has("how_are_you") || shape.check_in) && !whats_up && !opener_only,
    );
    // "How was the trip?" asks how it went: "It went well!", not an opinion's hedges.
    a.set(Act::HowWas, msg.has("how_was") && !whats_up);
    if whats_up || a.has(Act::HowAreYou) || a.has(Act::HowWas) {
        a.remove(Act::Wh);
        a.remove(Act::OpinionQ);
        a.remove(Act::YesNo);
    }
    // "Please sign the slip. Thank you!" and "a friendly reminder that rent is due on the
    // 1st. Thanks!" are polite; "thanks for the ride" is grateful.
    let polite = (a.has(Act::Request)
        || a.has(Act::CareRequest)
        || a.has(Act::Instruction)
        || msg.has("info_markers"))
        && !msg.has("thanks_for");
    a.set(
        Act::Thanks,
        msg.has("thanks") && !msg.has("not_thanks") && !polite,
    );
    a.set(
        Act::Apology,
        (msg.has("apology") && !msg.has("not_apology") && !sorry_but_an_opinion(msg))
            // "Would you be upset if we came in January instead?" asks to be let off
            // beforehand: "No worries!", "It's okay.", not "Of course!" (which says yes,
            // upset) nor a favour declined.
            || msg.has("minding_asks"),
    );
    if msg.has("minding_asks") {
        for x in [Act::YesNo, Act::Request] {
            a.remove(x);
        }
    }
    a.set(
        Act::Farewell,
        ((msg.has("farewell") || msg.padded.ends_with(" see you ")) && !msg.has("not_farewell"))
            || msg.has("bedtime")
            || shape.bare_night,
    );
    a.set(Act::Wish, msg.has("wish"));
    // "Have a nice day!" is returned ("You too!"); "Have a great trip!" names the reader's
    // own occasion and is thanked for.
    a.set(
        Act::WishBack,
        a.has(Act::Wish) && msg.has("wish_back") && !msg.has("own_occasion"),
    );
    a.set(Act::MissYou, msg.has("miss_you"));
    // "Great seeing you today, take care" says goodbye: answered in kind, not "Same here!".
    a.set(
        Act::LookingForward,
        msg.has("looking_forward") && !a.has(Act::Farewell),
    );
    if a.has(Act::LookingForward) {
        // "It was so good to see you today!" says goodbye to a meeting, not hello.
        a.remove(Act::Greeting);
    }
    // "Sprained my ankle at soccer lol" is pitied, not laughed at.
    a.set(
        Act::Humor,
        (msg.has("humor") || comic_mishap(a, msg, shape)) && !msg.has("injury"),
    );
    let judges = judgement_remark(a, msg, shape);
    a.set(Act::Remark, weather_remark(a, msg, shape) || judges);
    if judges {
        // "the ref was a joke" is no joke to laugh at (nor, in `news_acts`, the sender's
        // bad news).
        a.remove(Act::Humor);
    }
    // "Look at this view!" asks for a reaction ("Looks great!"), not a yes or a no.
    let asks_opinion = msg.has("opinion_asks");
    // "have you had a chance to look at my return?" shows nothing: the phrase follows "to".
    let shows = msg
        .cat
        .lexicon("show")
        .iter()
        .any(|p| msg.contains(&format!(" {p} ")) && !msg.contains(&format!(" to {p} ")));
    a.set(
        Act::Show,
        (shows
            || (asks_opinion && msg.has("shown"))
            || msg
                .all
                .first()
                .is_some_and(|w| msg.cat.contains("attachment_words", w)))
            && !a.has(Act::Request),
    );
    // "What time works for you?" asks; "I made this for you." is kind.
    // "please leave a key under the mat" asks; "left the keys under the mat" is kind.
    a.set(
        Act::Kind,
        msg.has("kind") && !a.asks() && !a.has(Act::Instruction) && !a.has(Act::CareRequest),
    );
    a.set(Act::Share, msg.has("sharing") && !a.asks());
    // "happy to grab you a coffee on my way" offers; it is not running late.
    // "gonna be there around 8 instead of 7:30" is late too ("Dinner moved to 8 instead of
    // 7:30" changes a plan).
    let shifted =
        msg.has("time_shift") && has_time(&msg.all) && !shape.about_other && !msg.has("update");
    a.set(
        Act::Late,
        (msg.has("late") || shifted) && !msg.has("not_late") && !a.has(Act::Offer),
    );
    // "running late, be there in 15" is late: forgiven, the way there goes without saying.
    a.set(
        Act::OnTheWay,
        msg.has("on_the_way") && !a.has(Act::Offer) && !a.has(Act::Late),
    );
    let tells_early = shape.statement && !a.asks();
    a.set(
        Act::Arrival,
        (tells_early && msg.has("arrival") && !shape.about_other && !shape.about_you)
            || msg.cat.contains("arrival_bare", msg.padded.trim()),
    );
    a.set(Act::Ack, tells_early && msg.has("ack"));
    // "Beautiful is better than ugly." compares; it praises no one. "You were amazing
    // tonight!" praises the reader as well as "You look great!" does: a statement about
    // the reader with good words only, not a prediction ("You'll love it"), news ("you
    // won!") or an opinion to argue ("you are better at chess than me").
    let (good, bad) = polarity(msg);
    let praises_reader = shape.about_you
        && msg.has("reader_praise")
        && !msg.has("comparison")
        && !msg.has("opinion_markers")
        && good > 0
        && bad == 0
        && !msg.has("reader_future")
        && !a.has(Act::Wish);
    // "you look tired" is no praise.
    // "Beautiful day out there!" remarks on the weather; it praises no one.
    let listed = (msg.has("compliment") || (msg.contains(" your ") && msg.has("looks_good")))
        && (shape.about_you || !msg.has("comparison"))
        && bad <= good
        && !a.has(Act::Remark);
    a.set(
        Act::Compliment,
        (listed || praises_reader || praises_yours(msg)) && !a.asks(),
    );
    // "How about you?" asks the same back, "Where should we eat?" a place: they suggest
    // nothing.
    // "Thinking of cutting my hair short. Thoughts?" puts an idea up for approval.
    a.set(
        Act::Suggestion,
        (asks_opinion && msg.has("considering"))
            || (msg.has("suggestion")
                && !msg.has("advice_against")
                && !a.has(Act::Reciprocal)
                && !a.has(Act::WhPlace)
                && !a.has(Act::WhTime)
                && !a.has(Act::AskSchedule)
                && !a.has(Act::Choice))
            || a.has(Act::Invitation)
            || shape.proposes_answer,
    );
}

/// "I'm sorry but pineapple on pizza is honestly elite": a "sorry but" that opens an opinion
/// about something else apologizes for nothing ("Sorry but I have to cancel" and "sorry but
/// you're wrong" still do: their clause is about the sender or the reader).
fn sorry_but_an_opinion(msg: &Msg) -> bool {
    let cat = msg.cat;
    let Some(i) = msg
        .all
        .windows(2)
        .position(|w| w[0] == "sorry" && w[1] == "but")
    else {
        return false;
    };
    let clause = &msg.all[i + 2..];
    clause.first().is_some_and(|w| {
        !cat.contains("self_subjects", w)
            && !cat.contains("you_subjects", w)
            && !cat.contains("openers", w)
    }) && clause.iter().any(|w| w == "is" || w == "are")
        && msg.all.iter().filter(|w| *w == "sorry").count() == 1
}

/// A comic mishap or antic told as a story (lexicon `comic_mishaps`), no one hurt.
fn comic_mishap(a: &Acts, msg: &Msg, shape: &Shape) -> bool {
    // "My manager tore apart the plan in front of everyone. I'm so embarrassed." is bad.
    shape.statement
        && !a.asks()
        && msg.has("comic_mishaps")
        && !msg.has("sick")
        && polarity(msg).1 == 0
}

/// A remark on the weather as it is now (lexicon `weather`), not about oneself ("I'm
/// freezing"), the reader, a forecast or a change of plans.
fn weather_remark(a: &Acts, msg: &Msg, shape: &Shape) -> bool {
    // "is it just me or is it freezing" asks only to be agreed with
    ((shape.statement && !a.asks()) || msg.has("agreement_seekers"))
        && msg.has("weather")
        && !shape.about_me
        && !shape.about_you
        && !future(msg)
        && !msg.has("update")
}

/// Whether the message judges someone or something else, to be agreed with ("the ref
/// today was a joke", "that teacher is so annoying": lexicon `judgements`); not about the
/// sender or the reader ("my boss is useless" is pitied: the sentence that judges opens
/// with neither), and asking nothing.
fn judgement_remark(a: &Acts, msg: &Msg, shape: &Shape) -> bool {
    shape.judges_other && !a.asks() && !future(msg)
}

/// Good and bad words: each sentiment word counts once, flipped by a negator among the
/// two words before it; multi-word good and bad phrases ("got the job", "flat tire") count
/// too; a few idioms decide alone
/// ("could be better" is bad, "not bad" good).
fn polarity(msg: &Msg) -> (usize, usize) {
    polarity_of(msg, false)
}

/// [`polarity`], with the good words of lexicon `weak_good` ("new", "made": what happened,
/// not how it went) left out when `strong_only`.
fn polarity_of(msg: &Msg, strong_only: bool) -> (usize, usize) {
    let skip: &[&str] = if strong_only { &["weak_good"] } else { &[] };
    polarity_without(msg, skip)
}

/// [`polarity`], with the good words of the lexicons `skip` left out.
fn polarity_without(msg: &Msg, skip: &[&str]) -> (usize, usize) {
    polarity_skipping(msg, skip, &[])
}

/// [`polarity`], with the good words of the lexicons `skip_good` and the bad words and
/// phrases of the lexicons `skip_bad` left out.
fn polarity_skipping(msg: &Msg, skip: &[&str], skip_bad: &[&str]) -> (usize, usize) {
    let (cat, all) = (msg.cat, &msg.all);
    let (mut good, mut bad) = (0usize, 0usize);
    for (i, w) in all.iter().enumerate() {
        // "Well, that happened": an opener, not a good word.
        if i == 0 && cat.contains("openers", w) {
            continue;
        }
        let negated = all[i.saturating_sub(2)..i]
            .iter()
            .any(|n| cat.contains("negators", n));
        let g = cat.contains("good", w) && !skip.iter().any(|l| cat.contains(l, w));
        let b = cat.contains("bad", w) && !skip_bad.iter().any(|l| cat.contains(l, w));
        match (g, b, negated) {
            (true, _, false) | (_, true, true) => good += 1,
            (true, _, true) | (_, true, false) => bad += 1,
            _ => {}
        }
    }
    for phrase in cat
        .lexicon("bad")
        .iter()
        .filter(|p| p.contains(' ') && !skip_bad.iter().any(|l| cat.contains(l, p)))
    {
        if msg.contains(&format!(" {phrase} ")) {
            bad += 1;
        }
    }
    for phrase in cat.lexicon("good").iter().filter(|p| p.contains(' ')) {
        if msg.contains(&format!(" {phrase} ")) {
            good += 1;
        }
    }
    let avoided = cat
        .lexicon("avoided")
        .iter()
        .filter(|p| msg.contains(&format!(" {p} ")))
        .count();
    bad = bad.saturating_sub(avoided);
    if good == 0 {
        bad += all
            .iter()
            .filter(|w| cat.contains("bad_unless_good", w))
            .count();
    }
    if msg.has("flip_to_bad") {
        (good, bad) = (0, 1);
    }
    if msg.has("flip_to_good") {
        (good, bad) = (1, 0);
    }
    (good, bad)
}

/// What a statement can be, given the acts read so far.
struct Told {
    /// A statement that asks nothing.
    tells: bool,
    /// Some social act (a greeting, thanks, a wish...): not news or information.
    social: bool,
    /// Said to the reader ("Good luck!", "You're the best!"): its good words tell nothing.
    to_reader: bool,
    /// A comparison ("Tea is better than coffee."): an opinion, not news.
    compares: bool,
    /// A change of arrangements ("Our flight got changed to 9am."): information.
    update: bool,
    good: usize,
    bad: usize,
    /// Good words and phrases other than the weak ones ("new", "made").
    strong_good: usize,
    /// Good words and phrases other than the weak ones and liking ("love", "enjoy").
    beyond_taste: usize,
    /// Bad words and phrases other than changes of arrangements ("delayed", "cancelled").
    bad_beyond_schedule: usize,
}

impl Told {
    fn of(a: &Acts, msg: &Msg, shape: &Shape) -> Told {
        let social = [
            Act::Greeting,
            Act::Thanks,
            Act::Apology,
            Act::Farewell,
            Act::Wish,
            Act::Compliment,
            Act::MissYou,
            Act::Humor,
            Act::Remark,
            Act::Show,
            Act::Late,
            Act::OnTheWay,
            Act::Status,
            Act::Announcement,
            Act::CareRequest,
            Act::Kind,
            Act::Share,
            Act::LookingForward,
            Act::Arrival,
            Act::Ack,
        ]
        .iter()
        // A greeting opening a longer message ("Hi, this is your landlord. The water will be
        // off tomorrow.") keeps what follows from being news or information.
        .any(|x| a.has(*x) && !(*x == Act::Greeting && msg.all.len() > GREETING_MAX_WORDS));
        let to_reader = [
            Act::Greeting,
            Act::Thanks,
            Act::Farewell,
            Act::Wish,
            Act::Compliment,
            Act::MissYou,
            Act::LookingForward,
            Act::Ack,
        ]
        .iter()
        .any(|x| a.has(*x));
        let (good, bad) = polarity(msg);
        let strong_good = if good > 0 {
            polarity_of(msg, true).0
        } else {
            0
        };
        let beyond_taste = if good > 0 {
            polarity_without(msg, &["weak_good", "liking"]).0
        } else {
            0
        };
        let bad_beyond_schedule = if bad > 0 {
            polarity_skipping(msg, &[], &["schedule_changes"]).1
        } else {
            0
        };
        Told {
            bad_beyond_schedule,
            tells: shape.statement && !a.asks(),
            social,
            to_reader,
            compares: msg.has("comparison"),
            update: msg.has("update"),
            good,
            bad,
            strong_good,
            beyond_taste,
        }
    }
}

/// What the message tells: news, then status, plans and reports, then claims about the
/// reader, then opinions, information or a fragment.
fn told_acts(a: &mut Acts, msg: &Msg, shape: &Shape) {
    let t = Told::of(a, msg, shape);
    news_acts(a, msg, shape, &t);
    // "[photo] the dog ate my charger cable again 😐" shows a misfortune: pitied, not
    // "Looks great!".
    if a.has(Act::BadNews) {
        a.remove(Act::Show);
    }
    if a.has(Act::Achievement) {
        // "We're having a baby!" is news to congratulate, not something cute.
        a.remove(Act::Kind);
    }
    if msg.has("sympathy_to_reader") && !a.asks() {
        for x in [Act::BadNews, Act::Sick, Act::Apology, Act::OpinionStmt] {
            a.remove(x);
        }
        a.insert(Act::Kind);
    }
    plan_and_report_acts(a, msg, shape, &t);
    // "Oh amazing, another 'quick sync' at 4:45 on a Friday. Love that for us 🙃": good
    // words ending in an eye-roll are sarcastic, a misfortune to commiserate with.
    if ends_with_eye_roll(msg) && !a.has(Act::Thanks) && (a.has(Act::GoodNews) || t.good > t.bad) {
        for x in [
            Act::GoodNews,
            Act::Plan,
            Act::Achievement,
            Act::Report,
            Act::ReportFun,
        ] {
            a.remove(x);
        }
        a.insert(Act::BadNews);
    }
    // "See you at church tomorrow, I'll save you a seat", "See ya at the Flying J around 9
    // then": a meeting confirmed ("See you then!"), not a trip nor an offer to take up.
    if starts_with_any(&msg.padded, msg.cat.lexicon("meeting_confirmed")) {
        for x in [Act::Trip, Act::Offer, Act::Report] {
            a.remove(x);
        }
        a.insert(Act::Plan);
    }
    // "Are you still coming to my recital on the 18th?" (or "are u coming to the lab tmrw
    // or should i just start without u") checks a plan already made: "I'll be there!", a
    // yes or a no; there is no invitation to accept.
    let coming_or =
        msg.has("coming_asks") && msg.all.iter().any(|w| msg.cat.contains("choice_words", w));
    if (msg.has("plan_checks") || coming_or) && a.has(Act::YesNo) {
        for x in [Act::Invitation, Act::Suggestion] {
            a.remove(x);
        }
        a.insert(Act::Plan);
    }
    reader_acts(a, msg, shape, &t);
    statement_acts(a, msg, shape, &t);
    confirm_acts(a, msg, &t);
    // "My car broke down, can you tell my boss I'll be late?" asks for help: "Of course!",
    // "Oh no!", not "Sorry, I can't." nor "No, sorry.".
    if a.has(Act::Request) && (msg.has("trouble") || msg.has("sick")) {
        a.remove(Act::Request);
        a.remove(Act::YesNo);
        a.insert(Act::Plea);
    }
    // "He's moving to Lisbon next month, can you believe it?" tells news to marvel at.
    if msg.has("surprise_questions") {
        a.remove(Act::YesNo);
        a.remove(Act::Info);
        a.remove(Act::Fragment);
        if ![Act::Remark, Act::BadNews, Act::GoodNews, Act::Achievement]
            .iter()
            .any(|x| a.has(*x))
        {
            a.insert(Act::Report);
        }
    }
    // "What time?" only where no time is named ("Can we meet tomorrow at 5?" has one).
    let timed = has_time(&msg.all);
    a.set(Act::OpenInvitation, a.has(Act::Invitation) && !timed);
    a.set(Act::OpenPlan, a.has(Act::Plan) && !timed);
}

/// Longest confirmation in words ("Of course I am a programmer." has 6; a longer statement
/// after a yes tells something of its own).
const CONFIRM_MAX_WORDS: usize = 6;

/// A short statement opening with a yes or an "I see" ("Yes I am.", "I can see that.",
/// "Of course I am a programmer.") confirms or acknowledges what was said: it is answered
/// with "Okay!" or "Cool!", not asked about ("Tell me more!") nor thanked for as
/// information. News ("Yes, I got the job!"), an opinion or a social act keep their own
/// answers.
fn confirm_acts(a: &mut Acts, msg: &Msg, t: &Told) {
    let confirms = t.tells
        && !t.social
        && msg.all.len() <= CONFIRM_MAX_WORDS
        && starts_with_any(&msg.padded, msg.cat.lexicon("confirm"))
        && ![
            Act::GoodNews,
            Act::BadNews,
            Act::Achievement,
            Act::OpinionStmt,
        ]
        .iter()
        .any(|x| a.has(*x));
    if confirms {
        a.insert(Act::Confirm);
        for x in [Act::Report, Act::PastReport, Act::Info, Act::Fragment] {
            a.remove(x);
        }
    }
}

/// Good and bad news, an achievement, being ill, a challenge to face, a trip.
fn news_acts(a: &mut Acts, msg: &Msg, shape: &Shape, t: &Told) {
    let (tells, good, bad) = (t.tells, t.good, t.bad);
    // Telling of something done, only weak good words ("Went to the new ramen place"):
    // what happened, not that it went well; "How was it?" asks that.
    let done_weakly = (shape.past_led || (shape.about_me && msg.has("past"))) && t.strong_good == 0;
    // "Congratulations on the promotion!" congratulates the reader: thanked for, not news to
    // congratulate back.
    let congratulated = a.has(Act::Wish) && msg.has("congratulating");
    let achievement = tells
        && bad == 0
        && !congratulated
        && ((shape.about_me || shape.ing_led) && msg.has("achievement") || msg.has("big_news"));
    a.set(Act::Achievement, achievement);
    // Something kind ("I made this for you.") is said to the reader: thanked for, not
    // news to praise (unless it is an attainment: "We're having a baby!").
    let kind = a.has(Act::Kind) && !achievement;
    // "I love baseball" tells a taste to share ("Me too!"), not news to praise.
    let taste = shape.about_me && msg.has("likes") && t.beyond_taste == 0;
    // "Don't forget mom's birthday is Thursday" reminds; it brings no news.
    a.set(
        Act::GoodNews,
        tells
            && good > bad
            && !t.to_reader
            && !t.compares
            && !done_weakly
            && !kind
            && !taste
            && !a.has(Act::CareRequest)
            && !msg.has("met_you")
            // "the dog ate the butter and looks so proud" is laughed at, "Beautiful day out
            // there!" agreed with, "Check out the new couch!" looked at
            && !comic_mishap(a, msg, shape)
            && !a.has(Act::Remark)
            && !a.has(Act::Show),
    );
    // "The meeting is cancelled." and "train is delayed 20 min" change arrangements: thanked
    // for as information, not pitied ("my flight got cancelled", "the train is late
    // again" are misfortunes); "Sorry I missed your call" is forgiven, not pitied.
    let arrangement = !shape.about_me && t.bad_beyond_schedule == 0 && !msg.has("grievance");
    a.set(
        Act::BadNews,
        tells
            && bad > good
            && !shape.about_you
            && !arrangement
            && (!shape.judges_other || !a.has(Act::Remark))
            && ![Act::Late, Act::OnTheWay, Act::Wish, Act::Apology]
                .iter()
                .any(|x| a.has(*x)),
    );
    // "She's home from the hospital" is good news, not an illness to wish better.
    a.set(
        Act::Sick,
        tells
            // "Emma has a fever" is no illness of the reader's to wish better ("Feel better
            // soon!")
            && (shape.about_me || (a.has(Act::BadNews) && !shape.about_other))
            && msg.has("sick")
            && !a.has(Act::GoodNews),
    );
    // Something still to face: not one passed or already gone wrong ("I passed my exam!",
    // "We didn't win the game.").
    a.set(
        Act::Challenge,
        tells
            && msg.has("challenge")
            && !a.has(Act::Achievement)
            // "Got my interview tmrw, so nervous": "got" has it still to face
            && (!shape.past_led || (future(msg) && msg.has("nerves")))
            // "Training tonight is cancelled" calls nothing off to face
            && !t.update
            && (future(msg) || (shape.about_me && !a.has(Act::BadNews) && !tells_past(msg)))
            // "Good luck on your exam!" wishes; the exam is the reader's
            && !readers_challenge(msg),
    );
    // "kinda nervous for my driving test tmrw" asks for luck, not pity.
    if a.has(Act::Challenge) && msg.has("nerves") {
        a.remove(Act::BadNews);
    }
    let postcard = msg.has("postcards");
    if postcard {
        a.remove(Act::Greeting);
    }
    a.set(
        Act::Trip,
        postcard
            || tells
            && msg.has("trip")
            && !msg.has("not_trip")
            // "heading to the airport now" leaves its "I" unsaid
            && (future(msg) || shape.about_me || shape.ing_led)
            && !a.has(Act::BadNews)
            && !t.update
            && !shape.past_led
            && !msg.has("past")
            && !a.has(Act::Suggestion)
            && !msg.has("bedtime")
            && !msg.has("called_off"),
    );
}

/// Whether a challenge named is the reader's ("your exam", "your big day").
fn readers_challenge(msg: &Msg) -> bool {
    msg.cat
        .lexicon("challenge")
        .iter()
        .any(|p| msg.contains(&format!(" your {p} ")))
}

/// Whether the message ends with an eye-roll (lexicon `eye_rolls`: the word "ugh" an
/// emoji such as 🙄 or 🙃 is read as).
fn ends_with_eye_roll(msg: &Msg) -> bool {
    msg.all
        .last()
        .is_some_and(|w| msg.cat.contains("eye_rolls", w))
}

/// Whether the message tells of the past ("yesterday", "took", "was").
fn tells_past(msg: &Msg) -> bool {
    msg.has("past") || msg.all.iter().any(|w| msg.cat.contains("past_verbs", w))
}

/// Whether the message speaks of the future ("tomorrow", "I'll", a clock time).
fn future(msg: &Msg) -> bool {
    msg.has("future") || has_time(&msg.all)
}

/// A short status, a plan, a report about oneself (of likes, of something fun or past).
fn plan_and_report_acts(a: &mut Acts, msg: &Msg, shape: &Shape, t: &Told) {
    let tells = t.tells;
    let status = !a.asks() && msg.all.len() <= 7 && msg.has("status");
    a.set(Act::Status, status);
    // "Not much." tells nothing to be glad about: answered in kind ("Same here!").
    let neutral = status && msg.has("status_neutral");
    a.set(Act::StatusNeutral, neutral);
    a.set(Act::StatusGood, status && !neutral && t.bad <= t.good);
    // "Our flight got changed to 9am." and "The store closes at 9 tonight." inform; they
    // propose nothing to agree to ("Sounds like a plan!").
    // "Just to let you know Ella had a small bump... the form will be ready at pick up"
    // informs too.
    let informs = t.update
        || msg.has("info_markers")
        || (shape.about_other && !shape.about_me && msg.has("info_words"));
    // "Heading to Cancun tomorrow!" is the sender's own trip: "Have fun!", not "See you then!".
    a.set(
        Act::Plan,
        tells
            && !informs
            && !msg.has("advice_against")
            && !a.has(Act::Trip)
            && future(msg)
            && !shape.past_led
            && !a.has(Act::BadNews)
            && !status
            && !t.social
            && !a.has(Act::Challenge)
            && !msg.has("called_off"),
    );
    a.set(
        Act::Report,
        tells
            && shape.about_me
            && !a.has(Act::BadNews)
            && !status
            && !t.update
            && ![
                Act::Apology,
                Act::Arrival,
                Act::Compliment,
                // "thanks for covering my shift yesterday" thanks; it reports nothing.
                Act::Thanks,
                Act::MissYou,
                Act::Ack,
                Act::Farewell,
                // What these call for is congratulations, luck, a good trip, patience or
                // thanks, not interest in a report ("I have a presentation tomorrow." ->
                // "Good luck!", "We're having a baby!" -> "Congratulations!").
                Act::Achievement,
                Act::Challenge,
                Act::Trip,
                Act::Late,
                Act::OnTheWay,
                Act::Kind,
                Act::Share,
                // "I need a huge favor" announces what is to come.
                Act::Announcement,
                // A funny story is laughed at, not found interesting.
                Act::Humor,
            ]
            .iter()
            .any(|x| a.has(*x)),
    );
    // "I love your new jacket!" praises the reader; it tells no taste to share.
    a.set(
        Act::ReportLike,
        tells && shape.about_me && msg.has("likes") && !a.has(Act::Compliment),
    );
    a.set(
        Act::ReportFun,
        (a.has(Act::Report) || a.has(Act::Plan)) && (a.has(Act::Trip) || t.good > 0),
    );
    // "How was it?" asks about an experience, not an attainment ("Got the job!").
    a.set(
        Act::PastReport,
        a.has(Act::Report) && (msg.has("past") || shape.past_led) && !a.has(Act::Achievement),
    );
}

/// A complaint about the reader, or another claim about them that is not praise.
///
/// A complaint (something the reader did: "You forgot to pick me up!", "you make me mad")
/// is apologized for; a bad word describing the reader ("you are mean", "you are the
/// worst") is a claim to dispute, not a complaint. A claim is no social act ("Thank you.
/// You too." returns a wish).
fn reader_acts(a: &mut Acts, msg: &Msg, shape: &Shape, t: &Told) {
    let asks = a.asks();
    // "could you turn the music down?" asks to stop a nuisance: apologized for.
    // "Thanks for the 6am voicemail Dad, really appreciated that on my day off 🙃": thanks
    // ending in an eye-roll are a complaint.
    let sarcastic_thanks = a.has(Act::Thanks) && ends_with_eye_roll(msg);
    let complaint = (msg.has("complaint") && !msg.has("not_complaint"))
        || msg.has("nuisance_requests")
        || sarcastic_thanks
        || (shape.about_you && !asks && t.bad > t.good && !msg.has("reader_descriptions"));
    a.set(Act::Complaint, complaint);
    if sarcastic_thanks {
        for x in [Act::Thanks, Act::BadNews] {
            a.remove(x);
        }
    }
    a.set(
        Act::Insult,
        shape.about_you
            && !asks
            && !complaint
            && !msg.has("reader_assignments")
            && !t.social
            && !a.has(Act::Compliment)
            && !a.has(Act::Wish),
    );
}

/// An opinion, information, or (nothing else read, or a short statement about nothing in
/// particular) a fragment.
fn statement_acts(a: &mut Acts, msg: &Msg, shape: &Shape, t: &Told) {
    let tells = t.tells;
    // A claim about the reader ("you are the worst") is disputed, not agreed with; "I
    // think I have the flu" guesses about oneself.
    // "is it just me or is it freezing" asks to be agreed with, not a yes or a no.
    let seeks_agreement = msg.has("agreement_seekers");
    a.set(
        Act::OpinionStmt,
        seeks_agreement
            || (tells
                && !t.social
                && (opinion_marked(msg, shape) || t.compares)
                && !a.has(Act::Plan)
                && !a.has(Act::Insult)
                && !msg.has("self_hedge")),
    );
    if seeks_agreement {
        a.remove(Act::YesNo);
    }
    if a.has(Act::OpinionStmt) {
        // "I think we should leave early." is agreed with, not a report to be interested in;
        // "this is the best pizza in the city" is argued, not news to be glad of.
        for x in [Act::Report, Act::ReportFun, Act::PastReport, Act::GoodNews] {
            a.remove(x);
        }
    }
    // "We're out of toilet paper fyi" informs, though about oneself.
    let marked = msg.has("info_markers");
    let glad_news = a.has(Act::GoodNews) && t.strong_good > 0;
    a.set(
        Act::Info,
        tells
            && !shape.about_you
            && !t.social
            && !a.has(Act::OpinionStmt)
            // "Guess who just got upgraded to business class" is news, not information.
            && !a.has(Act::Achievement)
            // "Tunde has passed his driving test!!!" is news to be glad of
            && !glad_news
            // "Dinner is ready!!" calls the reader; it is not news to thank for.
            && !a.has(Act::Summons)
            // "someone left dishes in the sink AGAIN. can we please keep the kitchen
            // clean" complains; it informs of nothing to thank for.
            && !a.has(Act::Complaint)
            && msg.all.len() >= 3
            && (t.update || marked || (!shape.about_me && msg.has("info_words"))),
    );
    if a.has(Act::Info) && marked {
        for x in [Act::Report, Act::ReportFun, Act::PastReport] {
            a.remove(x);
        }
    }
    if a.is_empty()
        || (tells
            && !t.social
            && msg.all.len() <= 3
            && !shape.about_me
            && !a.has(Act::Info)
            && !a.has(Act::Status)
            && !a.has(Act::OpinionStmt)
            && !a.has(Act::Summons))
    {
        a.insert(Act::Fragment);
    }
}

/// Whether the message marks an opinion (lexicon `opinion_markers`) outside the
/// introduction it opens with ("This is the school nurse." says who writes).
fn opinion_marked(msg: &Msg, shape: &Shape) -> bool {
    let rest = &msg.all[shape.intro_words.min(msg.all.len())..];
    // "Reminder: all drivers must complete the refresher" informs; its "must" is no opinion
    !msg.has("not_opinion")
        && !msg.has("info_markers")
        && msg
            .cat
            .has_any(&format!(" {} ", rest.join(" ")), "opinion_markers")
}

/// A clock time in the message ("at 5", "8pm", "7:30"), which makes a statement a plan.
fn has_time(ws: &[String]) -> bool {
    ws.iter().enumerate().any(|(i, w)| {
        let digits = w.chars().take_while(|c| c.is_ascii_digit()).count();
        let rest = &w[digits..];
        (digits > 0 && matches!(rest, "pm" | "am" | "h"))
            || (digits > 0
                && rest.is_empty()
                && i > 0
                && matches!(ws[i - 1].as_str(), "at" | "to" | "by" | "around" | "until"))
            || matches!(w.as_str(), "noon" | "midnight" | "oclock")
    })
}

/// Sentences of a message, each with its words, whether it ends with a question mark and
/// whether a comma or a colon ended the one before. A comma ends one too: texting joins clauses with
/// commas ("game night friday, bring snacks if you can", "new couch, what do you think?"),
/// each with its own shape.
fn sentences(text: &str) -> Vec<(Vec<String>, bool, bool)> {
    let mut out: Vec<(Vec<String>, bool, bool)> = Vec::new();
    let mut cur = String::new();
    let mut after_comma = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // "Big news: we're expecting" is two clauses; "at 4:12" is a time.
        let colon = c == ':' && !chars.peek().is_some_and(char::is_ascii_digit);
        if colon || matches!(c, '.' | '!' | '?' | '\n' | ';' | ',') {
            let ws = words(&cur);
            if !ws.is_empty() {
                out.push((ws, c == '?', after_comma));
                after_comma = c == ',' || colon;
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
        out.push((ws, false, after_comma));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texting_spellings_are_read_as_words() {
        let c = Catalog::builtin().unwrap();
        for e in c.lexicon("texting") {
            let (short, full) = e
                .split_once(':')
                .unwrap_or_else(|| panic!("{e}: not short:full"));
            assert!(
                !short.is_empty() && !full.is_empty() && !short.contains(' '),
                "{e}"
            );
        }
        assert_eq!(
            spelled_out("could u send me the pics tmrw, thx!", c),
            "could you send me the pics tomorrow, thanks!"
        );
        // whole words only; unknown and ambiguous spellings stay
        assert_eq!(spelled_out("Usually ur late", c), "Usually ur late");
        let a = Acts::of("could u send me the pics from last night", c);
        assert!(a.has(Act::Request), "{:?}", a.names());
        let a = Acts::of("r u coming tonight", c);
        assert!(!a.has(Act::Fragment), "{:?}", a.names());
        // typographic apostrophes, stretched letters, contractions that read as other words
        assert_eq!(
            spelled_out("We\u{2019}re sooo hungry, whaaat", c),
            "we are so hungry, what"
        );
        assert_eq!(spelled_out("goood, sleeeep, zzz", c), "good, sleep, z");
        let a = Acts::of("We're moving to Portland in March", c);
        assert!(!a.has(Act::PastReport), "{:?}", a.names());
        // a noun's "'s" as "is" or "has"; a possessive and "it's" as written
        assert_eq!(
            spelled_out("Dinner's in the oven, Tom's been out", c),
            "Dinner is in the oven, Tom has been out"
        );
        assert_eq!(
            spelled_out("Sarah's car is here, it's late", c),
            "Sarah's car is here, it's late"
        );
    }

    fn acts(m: &str) -> Acts {
        Acts::of(m, Catalog::builtin().unwrap())
    }

    #[test]
    fn commas_split_clauses_of_two_words_or_more() {
        // the imperative after a comma asks; a one-word opener or tag joins its clause
        assert!(acts("game night at mine friday, bring snacks if u can").has(Act::Request));
        assert!(!acts("Sure, ask away.").has(Act::Request));
        assert!(acts("Yesterday was the 13th, right?").has(Act::YesNo));
        let a = acts("Sending you a pic of the new couch, what do you think?");
        assert!(
            a.has(Act::OpinionQ) && !a.has(Act::YesNo),
            "{:?}",
            a.names()
        );
        // a wish anywhere in the message keeps an imperative from being a favour to decline
        assert!(!acts("Have a great trip, send pics").has(Act::Request));
    }

    #[test]
    fn showing_arrangements_reminders_and_trips() {
        let a = acts("look at this view!!");
        assert!(a.has(Act::Show) && !a.has(Act::Request), "{:?}", a.names());
        // a changed arrangement of something else is information; a grievance or one's own
        // misfortune is bad news
        for m in ["The meeting is cancelled.", "train is delayed 20 min"] {
            let a = acts(m);
            assert!(!a.has(Act::BadNews), "{m}: {:?}", a.names());
        }
        for m in ["The train is late again.", "My flight got cancelled."] {
            assert!(acts(m).has(Act::BadNews), "{m}: {:?}", acts(m).names());
        }
        assert!(!acts("Sorry I missed your call, was in a meeting").has(Act::BadNews));
        assert!(!acts("Don't forget mom's birthday is Thursday").has(Act::GoodNews));
        assert!(acts("heading up to the lake with the kids this weekend").has(Act::Trip));
        assert!(!acts("We went to the beach yesterday.").has(Act::Trip));
        assert!(!acts("We could go to the lake next weekend.").has(Act::Trip));
        assert!(acts("Movie at 8 tonight, u in?").has(Act::Invitation));
        assert!(!acts("see you in a bit").has(Act::Invitation));
        assert!(acts("Morning! How'd you sleep?").has(Act::HowAreYou));
        assert!(acts("need a favor").has(Act::Announcement));
    }

    #[test]
    fn opinions_asked_activities_and_schedules() {
        let a = acts("Thinking of cutting my hair short. Thoughts?");
        assert!(a.has(Act::OpinionQ) && a.has(Act::Suggestion) && !a.has(Act::YesNo));
        let a = acts("Just sent you a pic of the new sofa, thoughts?");
        assert!(a.has(Act::OpinionQ) && a.has(Act::Show) && !a.has(Act::YesNo));
        assert!(acts("drinks after work?").has(Act::Invitation));
        let a = acts("having a few people over on Sunday, would love for you and Sam to come");
        assert!(
            a.has(Act::Invitation) && !a.has(Act::Kind),
            "{:?}",
            a.names()
        );
        let a = acts("Drinks at the Crown after work, come along if you fancy it");
        assert!(
            a.has(Act::Invitation) && !a.has(Act::Request),
            "{:?}",
            a.names()
        );
        // the reader's own schedule is checked; a time to meet is proposed
        for m in ["When do you land?", "What time does your train get in?"] {
            let a = acts(m);
            assert!(
                a.has(Act::AskSchedule) && !a.has(Act::WhTime),
                "{m}: {:?}",
                a.names()
            );
        }
        for m in [
            "When are you free?",
            "what time should we leave for the airport",
        ] {
            assert!(acts(m).has(Act::WhTime), "{m}");
        }
        assert!(acts("Big news: we're expecting twins in the spring").has(Act::Achievement));
        assert!(acts("Baby girl arrived at 4:12 this morning").has(Act::Achievement));
        assert!(!acts("My cat just knocked my coffee onto my laptop lol").has(Act::Report));
        assert!(acts("Got home safe").has(Act::StatusGood));
    }

    #[test]
    fn check_ins_updates_and_coming() {
        for m in [
            "everything ok? haven't heard from u in a while",
            "You okay?",
        ] {
            assert!(acts(m).has(Act::HowAreYou), "{m}: {:?}", acts(m).names());
        }
        assert!(!acts("Are you okay with pizza?").has(Act::HowAreYou));
        for m in [
            "The store closes at 9 tonight.",
            "Our flight got changed to 9am.",
        ] {
            let a = acts(m);
            assert!(
                a.has(Act::Info) && !a.has(Act::Plan),
                "{m}: {:?}",
                a.names()
            );
        }
        assert!(acts("Dinner at 8 tomorrow.").has(Act::Plan));
        let a = acts("you coming?");
        assert!(
            a.has(Act::YesNo) && !a.has(Act::Invitation),
            "{:?}",
            a.names()
        );
    }

    /// Asserts that message `m` performs act `x`.
    fn has(m: &str, x: Act) {
        let a = acts(m);
        assert!(a.has(x), "{m}: {:?}", a.names());
    }

    /// Asserts that message `m` does not perform act `x`.
    fn lacks(m: &str, x: Act) {
        let a = acts(m);
        assert!(!a.has(x), "{m}: {:?}", a.names());
    }

    #[test]
    fn weather_mishaps_notices_pleas_and_surprise() {
        // the weather is remarked on and agreed with, not praised, pitied alone or asked
        has("it's so hot today", Act::Remark);
        has("Beautiful day out there!", Act::Remark);
        lacks("Beautiful day out there!", Act::Compliment);
        lacks("Beautiful day out there!", Act::GoodNews);
        has("ugh this rain", Act::Remark);
        lacks("ugh this rain", Act::Fragment);
        has("is it just me or is it freezing", Act::Remark);
        lacks("is it just me or is it freezing", Act::YesNo);
        has("is it me or is this show getting worse", Act::OpinionStmt);
        lacks("I'm freezing", Act::Remark);
        lacks("It's supposed to snow tomorrow", Act::Remark);
        has(
            "It's snowing here already can you believe it ❄️",
            Act::Remark,
        );
        lacks("It's snowing here already can you believe it", Act::Request);
        // a comic mishap or a laughing emoji is laughed at; someone hurt or a bad day is not
        has(
            "I tripped walking into the meeting and face planted in front of the CEO",
            Act::Humor,
        );
        has(
            "the dog ate a stick of butter and looks so proud",
            Act::Humor,
        );
        lacks(
            "the dog ate a stick of butter and looks so proud",
            Act::GoodNews,
        );
        has("my son asked if the moon is a big lemon 😂", Act::Humor);
        lacks("tripped over the curb and hurt my ankle", Act::Humor);
        lacks(
            "the meeting went terribly, my boss tore the plan apart in front of everyone. so embarrassing",
            Act::Humor,
        );
        // notices: an introduction is no opinion, a greeting opening a notice hides nothing,
        // "call if you need to" offers and asks no favour, "reply to confirm" asks yes or no
        lacks(
            "This is the school nurse. Emma has a slight fever and needs to be picked up.",
            Act::OpinionStmt,
        );
        lacks(
            "This is the school nurse. Emma has a slight fever and needs to be picked up.",
            Act::Sick,
        );
        has("This is the best pizza. Fight me.", Act::OpinionStmt);
        has(
            "Hi, this is your landlord. The water will be shut off tomorrow from 9 to 12.",
            Act::Info,
        );
        let dentist = "Hi, this is Bright Smiles Dental reminding you of your cleaning on \
                       Tuesday at 10am. Please call if you need to reschedule.";
        has(dentist, Act::Info);
        lacks(dentist, Act::Request);
        has(dentist, Act::OpenOffer);
        let rent = "The rent portal is down, so please send payment by check. Let me know \
                    if you have any questions.";
        lacks(rent, Act::OpenOffer);
        has(
            "Your appointment is Thursday at 2:30 PM. Please reply to confirm.",
            Act::YesNo,
        );
        lacks(
            "Your appointment is Thursday at 2:30 PM. Please reply to confirm.",
            Act::Request,
        );
        has("Your gym membership renews next week.", Act::Info);
        lacks(
            "Hi Sam, the invoice will go out first thing tomorrow.",
            Act::Invitation,
        );
        has("We should go out tonight", Act::Invitation);
        // a favour asked out of trouble is a plea, not a request to decline
        has(
            "my car broke down, can you tell my boss I'll be late",
            Act::Plea,
        );
        lacks(
            "my car broke down, can you tell my boss I'll be late",
            Act::Request,
        );
        has("can you send me the slides?", Act::Request);
        let nurse = "Hi, this is the school office. Jamie has a stomach ache. Could you come \
                     pick him up?";
        has(nurse, Act::Plea);
        lacks(nurse, Act::Request);
        // "can you believe it?" marvels; "can we talk?" asks leave to talk, not a plan
        let marvel = "He's moving to Lisbon next month, can you believe it?";
        lacks(marvel, Act::YesNo);
        has(marvel, Act::Report);
        lacks("can we talk?", Act::Invitation);
        has("honestly pineapple on pizza is elite", Act::OpinionStmt);
        // a sighing emoji or a thing broken again is bad news; an all-clear is good news
        has("the printer is not working again 😤", Act::BadNews);
        has("Our heating is down again 🙄", Act::BadNews);
        lacks("Our heating is down again 🙄", Act::Report);
        has(
            "Took the cat to the vet, she's totally fine, just a hairball",
            Act::GoodNews,
        );
    }

    #[test]
    fn instructions_summons_set_events_and_shifted_times() {
        // a notice's instruction is done, not declined; a plain favour is still a request
        let moved = "The meeting moved to 4pm. Please update your calendars.";
        has(moved, Act::Instruction);
        lacks(moved, Act::Request);
        has(
            "Reminder: please arrive 15 minutes early for check-in.",
            Act::Instruction,
        );
        let slip = "Dear parents, the permission slip is due Friday. Please sign it and \
                    return it. Thank you!";
        has(slip, Act::Instruction);
        lacks(slip, Act::Thanks);
        let pickup = "Hi, this is the school office. Max has a fever. Could you come pick \
                      him up?";
        lacks(pickup, Act::Instruction);
        let confirm = "Your appointment is Monday at 9am. Please reply to confirm.";
        lacks(confirm, Act::Instruction);
        has(confirm, Act::YesNo);
        has("Please send me the report by Friday.", Act::Request);
        lacks("Please send me the report by Friday.", Act::Instruction);
        // being called to come is answered "Coming!", not taken as a favour
        has("Dinner's ready come downstairs", Act::Summons);
        lacks("Dinner's ready come downstairs", Act::Request);
        has("Dinner is ready!!", Act::Summons);
        lacks("Dinner is ready!!", Act::Info);
        lacks("lunch is ready", Act::Fragment);
        lacks(
            "can you come downstairs and help me lift this",
            Act::Summons,
        );
        // the time of a set event is checked, not proposed; "when should we go?" proposes
        has("what time does the party start", Act::AskSchedule);
        lacks("what time does the party start", Act::WhTime);
        has("when should we go?", Act::WhTime);
        has("what time tomorrow?", Act::WhTime);
        has("what time should I pick you up?", Act::WhTime);
        // a time put later is running late; someone else's later time is not
        has(
            "traffic is terrible, gonna be there around 8 instead of 7:30",
            Act::Late,
        );
        lacks(
            "the concert starts at 9 instead of 8, the band is delayed",
            Act::Late,
        );
        lacks("Dinner moved to 8 instead of 7:30", Act::Late);
        // a photo shown is looked at, not congratulated; a baby's first steps are big news
        has("heres a pic of the lasagna I made!", Act::Show);
        lacks("heres a pic of the lasagna I made!", Act::GoodNews);
        has("Leo took his first steps today!!", Act::Achievement);
    }

    #[test]
    fn sad_emojis_praise_of_things_welcomes_and_arrangements() {
        // a crying emoji or being yelled at is bad news (families of the session-19 blind9
        // read, tested on other messages)
        has("my phone just fell in the toilet 😭", Act::BadNews);
        has("you were incredible up there 😭😭", Act::Compliment);
        has("the teacher screamed at my son today", Act::BadNews);
        // how it went, said of someone else's ordeal
        has("Dad's knee operation went well this morning", Act::GoodNews);
        // praise of the reader's things; the weather's looks praise no one
        has("your new glasses look great!", Act::Compliment);
        lacks("the weather looks great for saturday", Act::Compliment);
        // a welcome is thanked for
        has("welcome aboard, glad to have you!", Act::Wish);
        // congratulations are thanked for, not returned
        has("congrats on the new job!! you earned it", Act::Wish);
        lacks("congrats on the new job!! you earned it", Act::Achievement);
        has("We're engaged!!", Act::Achievement);
        // someone coming over is told, not proposed; the reader coming is still asked
        let visit = "the plumber is coming to fix the sink on Monday";
        lacks(visit, Act::Invitation);
        has("are you coming to the bbq saturday?", Act::Invitation);
        // moving a meeting asks leave ("Sure!", "No problem!"), not a date
        let moved = "could we move our call to Friday?";
        lacks(moved, Act::Invitation);
        has(moved, Act::Permission);
        // a time clause is no complaint; leaving the door open is
        lacks("did you turn off the oven before you left?", Act::Complaint);
        has("you left the back door open again", Act::Complaint);
        // a mediocre verdict is an opinion to argue
        has("honestly that album was pretty mid", Act::OpinionStmt);
    }

    #[test]
    fn injuries_nerves_avoided_traffic_and_plans_called_off() {
        // families of the session-19 blind10 read, tested on other messages
        let hurt = "broke my wrist skateboarding lmao, in a cast for a month";
        lacks(hurt, Act::Humor);
        has(hurt, Act::BadNews);
        has(
            "my uncle fell asleep at the table and started snoring lol",
            Act::Humor,
        );
        // nerves before one's own challenge ask for luck; the reader's challenge is wished
        let nerves = "so anxious about my interview tomorrow";
        has(nerves, Act::Challenge);
        lacks(nerves, Act::BadNews);
        lacks("Best of luck at your interview today!", Act::Challenge);
        has("Best of luck at your interview today!", Act::Wish);
        // a bad word in what is avoided
        lacks("we should head out at 6 to avoid the traffic", Act::BadNews);
        has("the traffic on the bridge is awful", Act::BadNews);
        // a trip called off is no trip
        lacks("not going to the concert anymore", Act::Trip);
        has("going to the concert tomorrow!!", Act::Trip);
        // on the way home; a payment sent is kind; a called-off plan and the address
        has("leaving work now, home in 15", Act::OnTheWay);
        has("just venmo'd you for the tickets", Act::Kind);
        has("what's the address again?", Act::WhPlace);
        lacks(
            "Thanks for your patience while we fix the elevator.",
            Act::Thanks,
        );
        has(
            "my grandpa tried to facetime me from the microwave 💀",
            Act::Humor,
        );
        has("Emma lost her first tooth!!", Act::GoodNews);
        lacks("Emma lost her first tooth!!", Act::BadNews);
        has("can we move our dinner to Sunday?", Act::Permission);
    }

    #[test]
    fn feelings_being_congratulated_divorce_and_either_or_doubts() {
        // families of the session-19 blind11 read, tested on other messages
        let relief = "he finally slept through the night, I feel like a new person";
        lacks(relief, Act::OpinionStmt);
        has(relief, Act::GoodNews);
        has("I feel like we should leave now", Act::OpinionStmt);
        // being congratulated without the word
        let happy = "heard you got into law school!! so happy for you";
        has(happy, Act::Wish);
        lacks(happy, Act::Achievement);
        has(
            "my sister and her husband are getting divorced",
            Act::BadNews,
        );
        // "or am I" doubts oneself; it offers no choice
        let doubt = "did you move my keys or am i going crazy";
        lacks(doubt, Act::Choice);
        has(doubt, Act::YesNo);
        has("Tea or coffee?", Act::Choice);
        has(
            "what's your new address? I want to mail you something",
            Act::WhPlace,
        );
        has("2 more weeks till i see you!!", Act::LookingForward);
    }

    /// `m` is read with every act of `with` and none of `without`.
    fn reads_as(m: &str, with: &[Act], without: &[Act]) {
        with.iter().for_each(|x| has(m, *x));
        without.iter().for_each(|x| lacks(m, *x));
    }

    #[test]
    fn postcards_pains_notices_meetings_and_awaited_readers() {
        use Act::*;
        // families of the session-21 blind13 and blind14 sets, tested on other messages
        let school = "Hello, this is Mr. Jones from Oak Primary. Lily read beautifully in \
                      assembly today and we were all very proud. Just wanted to share!";
        let vet = "Hi, this is Lisa at Valley Vets. Bella is due for her booster. Would you \
                   like to book an appointment?";
        let schedule = "Here's the schedule for next week: Tue 9-5, Thu 9-5. Let me know if \
                        there are any problems";
        for (m, with, without) in [
            // a greeting sent from a trip tells the trip
            (
                "greetings from rome!! the gelato is unreal",
                &[Trip][..],
                &[Greeting][..],
            ),
            // leaving, its "I" unsaid
            (
                "heading to the station now, see you in a week!",
                &[Trip, Farewell],
                &[],
            ),
            // the weather making one want something invites no one
            (
                "this rain makes me want to stay in all day",
                &[Remark],
                &[Invitation],
            ),
            // a personal record, an offer got
            ("bro I just hit a new deadlift pr", &[Achievement], &[]),
            (
                "got an offer from the hospital in leeds!!",
                &[Achievement],
                &[],
            ),
            // a body part "killing me" hurts; a hangover and food poisoning are illnesses
            (
                "skipping football tonight, my knee is killing me",
                &[Sick, BadNews],
                &[Plan],
            ),
            ("morning! so hungover", &[Sick], &[]),
            // a machine's noise again is a misfortune
            (
                "the washing machine is making a weird noise again",
                &[BadNews],
                &[],
            ),
            // an introduction opening a longer message greets no one; what it shares is thanked
            (school, &[Share], &[Greeting]),
            (
                "Hi, it's Sam from the climbing gym, great meeting you!",
                &[Greeting],
                &[],
            ),
            // glad to have met: a greeting, not news
            (
                "so lovely meeting you at the party :)",
                &[Greeting],
                &[GoodNews],
            ),
            // a service offered is an offer, not an invitation
            (vet, &[Offer], &[Invitation]),
            (
                "Hi, it's Mike from the garage, your van is ready to pick up. We're open till 6",
                &[Info],
                &[Greeting],
            ),
            // a notice: its subject a noun, its instruction done
            (
                "Staff slots are now open for booking. Please choose a time on the app.",
                &[Instruction],
                &[Request],
            ),
            (
                "just to let you know the gate code changed to 4512",
                &[Info],
                &[],
            ),
            // "any problems" supposed, not told
            (schedule, &[], &[BadNews]),
            // awaited: "On my way!", not an address
            ("film starts in 10 where r u", &[Summons], &[WhPlace]),
            // a choice between things shown, no "or"
            ("which one should I get [photo] [photo]", &[Choice], &[]),
            // doing it again proposes
            (
                "that was amazing last night, we have to do that again",
                &[Invitation],
                &[],
            ),
            // a favour asked of a group, its "if anyone can"
            (
                "Night shift short tonight, extra pay if anyone can come in",
                &[Request],
                &[],
            ),
            ("Good morning! Hope the new job is going well", &[Wish], &[]),
            // a challenge called off is information, no luck to wish
            (
                "The match tonight is cancelled, the pitch is flooded",
                &[Info],
                &[Challenge],
            ),
            // sympathy for the reader's bad news is kind, no apology nor the sender's woe
            (
                "heard about your flat flooding, so sorry",
                &[Kind],
                &[Apology, BadNews],
            ),
            // a name put down invites no one
            (
                "sorry I never put your name down for the trip",
                &[Apology],
                &[Invitation],
            ),
            // "sorry but" opening an opinion of something else apologizes for nothing
            (
                "sorry but this new album is so boring",
                &[OpinionStmt],
                &[Apology],
            ),
            ("sorry but I can't make it tonight", &[Apology], &[]),
            ("sorry but you're wrong about that", &[Apology], &[]),
            // "going to" before a verb is no trip; before a place it is
            ("honestly going to quit the gym", &[], &[Trip]),
            ("going to the lake on sunday!", &[Trip], &[]),
            // which of two facts holds: checked, not yes or no
            ("is the party at 7 or 8", &[AskSchedule], &[YesNo, Choice]),
            ("is it me or is it loud in here", &[], &[AskSchedule]),
            // a business's change of prices is information
            (
                "Hi, it's Jo from Green Farm, we're putting prices up 5% next month",
                &[Info],
                &[Report],
            ),
            // put down for a turn; asked if one fancies something
            (
                "you're down for the school run on Tuesday",
                &[],
                &[Invitation],
            ),
            ("fancy a curry on friday?", &[Invitation], &[]),
            // the reader addressed before a wh-question; "guess what" is no name
            ("SAM WHERE ARE MY HEADPHONES", &[WhPlace], &[Info]),
            (
                "Jo, when's good for me to drop the ladder back?",
                &[WhTime],
                &[],
            ),
            ("guess what happened at work", &[Announcement], &[Wh]),
            // a child's tooth lost is no misfortune; a part got, trials to face
            (
                "i lost my first tooth today and got a pound!!",
                &[GoodNews],
                &[BadNews],
            ),
            (
                "i got the part of the wolf in the play!!",
                &[Achievement],
                &[],
            ),
            (
                "trials tomorrow and im bricking it",
                &[Challenge],
                &[BadNews],
            ),
            ("Look who's crawling!! [photo]", &[Show], &[Fragment]),
            // the asker offering to cook
            ("when are you home? thought i'd cook", &[Offer], &[]),
            // offering to act, not for the reader: leave asked too
            (
                "the sink's blocked again, shall I ring the plumber?",
                &[Offer, Permission],
                &[],
            ),
            ("Shall I save you a seat?", &[Offer], &[Permission]),
            ("should I bring anything?", &[Offer], &[Permission]),
            // blind16's families: a good night with a word of address, thanks said
            // "cheers", an operation needed, going out as an obligation
            ("Dinner's done, night hun xx", &[Farewell], &[]),
            ("MUM I PASSED MY THEORY TEST", &[Achievement], &[Fragment]),
            // no word of address: a verb before "I", an errand before "me"
            (
                "feeling awful, think I've got flu. won't be in tomorrow",
                &[Sick],
                &[Report],
            ),
            (
                "rent is due tmrw btw, venmo me ur half when u can",
                &[Info],
                &[Report],
            ),
            ("5-a-side thursday 7pm, who's in?", &[Invitation], &[]),
            ("cheers for sorting the tickets 👍", &[Thanks], &[]),
            (
                "our mum needs a new knee, she's so fed up",
                &[BadNews],
                &[GoodNews],
            ),
            (
                "is the engineer still coming? I have to go out at 3",
                &[YesNo],
                &[Invitation, Farewell],
            ),
            // a greeting opening a question how something went
            (
                "Hi love, how did the interview go? Did they say when they'd let you know?",
                &[HowWas],
                &[Greeting],
            ),
            // session 22, blind16's remaining families: a choice named with "which
            // suits", a time asked as the best one, a thing of the reader's praised,
            // "had the ..." told, a debt or a wrong thing given complained of
            (
                "The call could be Mon or Thurs, which suits you best?",
                &[Choice],
                &[OpinionQ],
            ),
            ("Which works for you, tea or coffee?", &[Choice], &[]),
            (
                "whats a good time to ring you tomorrow?",
                &[WhTime],
                &[OpinionQ],
            ),
            ("[photo] new sofa, what u reckon", &[OpinionQ], &[]),
            (
                "ngl ur speech last night was insane",
                &[Compliment],
                &[Info],
            ),
            ("that goal of yours was unreal mate", &[Compliment], &[]),
            (
                "your cake yesterday was absolutely delicious",
                &[Compliment],
                &[],
            ),
            ("your parcel was left with number 12", &[], &[Compliment]),
            (
                "Your pies are honestly the best in town",
                &[Compliment],
                &[OpinionStmt],
            ),
            (
                "The van is fixed, you can collect it any time after 2. Kelly's Garage",
                &[],
                &[Insult],
            ),
            ("is your brother's van still sick?", &[YesNo], &[Compliment]),
            (
                "Had the 20 week scan, everything looks perfect",
                &[GoodNews],
                &[YesNo],
            ),
            ("Had the kids eaten when you got there?", &[YesNo], &[]),
            ("had they left already", &[YesNo], &[]),
            (
                "you still owe me a tenner from the pub",
                &[Complaint],
                &[Insult],
            ),
            // blind17's families: a judgement of someone else agreed with (not pitied or
            // laughed at), a place or time asked then proposed, a notice of a fixture
            // called off, an attachment shown, bringing one's own, a question passed on
            (
                "the referee last night was an absolute joke",
                &[Remark],
                &[Humor, BadNews],
            ),
            (
                "Watching the match, United defending like a sunday league team",
                &[Remark],
                &[BadNews],
            ),
            ("my boss is so annoying", &[BadNews], &[Remark]),
            ("ugh dad is being so annoying about the car", &[], &[Remark]),
            ("your brother is useless at darts", &[], &[Remark]),
            (
                "Where do you want to eat? Nandos?",
                &[WhPlace, Suggestion],
                &[YesNo],
            ),
            ("What time? 7?", &[Suggestion], &[YesNo]),
            (
                "where shall we meet, mine or yours?",
                &[Choice],
                &[Suggestion],
            ),
            ("Where are you? Still at work?", &[YesNo], &[Suggestion]),
            (
                "Hi all, tonight's training is OFF due to the storm. New date to follow.",
                &[Info],
                &[Remark],
            ),
            (
                "[photo] the dog asleep in the laundry basket",
                &[Show],
                &[Fragment],
            ),
            (
                "Can I bring my son to the appointment? he'll be quiet",
                &[Permission],
                &[Offer],
            ),
            ("can I bring anything?", &[Offer], &[]),
            ("Hows things? long time no speak", &[HowAreYou], &[]),
            // blind18's families: "'s" as a verb, a fall, a rota naming the reader
            ("Tea's on the table", &[Info], &[Fragment]),
            (
                "Your grandad's had a fall, he's fine but they're keeping him in",
                &[BadNews],
                &[Fragment],
            ),
            (
                "You're on the late shift Friday, handover at 14:00.",
                &[],
                &[Insult],
            ),
            (
                "Caterer just rang, they've double booked our date",
                &[BadNews],
                &[Fragment],
            ),
            (
                "The boiler you fitted is making that noise again. Not happy to be honest.",
                &[Complaint],
                &[OpinionQ],
            ),
            ("be honest, does this top suit me?", &[OpinionQ], &[]),
            ("u took my hoodie again didnt u", &[Complaint], &[Insult]),
            (
                "my sister's boyfriend proposed at the weekend",
                &[GoodNews],
                &[Fragment],
            ),
            ("We came 3rd in the pub quiz!!", &[Achievement], &[]),
            (
                "The interview went horribly. Never again.",
                &[BadNews],
                &[Remark],
            ),
            (
                "you looked really pretty at the party btw",
                &[Compliment],
                &[Insult],
            ),
            ("Happy Sunday love, God bless", &[WishBack], &[GoodNews]),
            ("Whit time are ye coming round", &[AskSchedule], &[]),
            // blind19's families: a name before "would you", an automated alert, a call
            // asked for
            (
                "Mum would you rather the pasta or the curry tonight",
                &[Choice],
                &[YesNo, Request],
            ),
            (
                "Sarah can you grab milk on the way",
                &[Request],
                &[Fragment],
            ),
            (
                "Campus alert: the library is closed until further notice. Do not reply.",
                &[],
                &[Apology, Complaint],
            ),
            (
                "Mum give me a ring when you're free, nothing bad, just about Easter",
                &[CareRequest],
                &[GoodNews],
            ),
            ("Whit time's yer bus getting in", &[AskSchedule], &[Wh]),
            ("dad mum says do u want a cuppa", &[Offer], &[Fragment]),
            ("mum says she's running late", &[], &[YesNo, Offer]),
            (
                "Sam's got a temp so I'm keeping him home, don't worry about pick up",
                &[Sick],
                &[Achievement],
            ),
            (
                "could you let me know which room you're in (4 or 5)?",
                &[CareRequest],
                &[Choice],
            ),
            (
                "Dad's asking if we're having lunch at the pub or at home",
                &[Choice],
                &[Info],
            ),
            (
                "Could we swap our shifts next week? I've got a dentist appointment",
                &[Permission],
                &[Invitation],
            ),
            (
                "Mum's knee is playing up again so we might not come Saturday",
                &[BadNews],
                &[],
            ),
            ("I think you sent me the wrong invoice", &[Complaint], &[]),
        ] {
            reads_as(m, with, without);
        }
    }

    #[test]
    fn readers_own_alternatives_meetings_mind_asks_and_news_after_guess_what() {
        use Act::*;
        // families of the session-23 blind20 and blind21 reads, tested on other messages
        for (m, with, without) in [
            // the reader's own doings as alternatives: a fact asked, no choice to leave
            (
                "are you still doing the 10k sunday or is your knee too sore?",
                &[YesNo][..],
                &[Choice, Invitation][..],
            ),
            (
                "Dad's asking if you're eating with us tonight or going to Sam's",
                &[YesNo],
                &[Choice],
            ),
            ("Are you free Friday or Saturday?", &[Choice], &[YesNo]),
            ("do we need eggs or are we ok", &[], &[Choice]),
            ("do we have milk or bread", &[AskSchedule], &[Choice]),
            // a meeting confirmed
            (
                "See you at the station at 6, I'll grab us coffees",
                &[Plan],
                &[Offer, Trip],
            ),
            ("see ya at the gym tmrw", &[Plan], &[Trip]),
            // let off beforehand, not asked a favour
            (
                "Would you be mad if I skipped the party on Saturday?",
                &[Apology],
                &[YesNo, Request],
            ),
            // nerves before something still to come, its "I have" said as "got"
            (
                "Got my driving test on Friday, so nervous",
                &[Challenge],
                &[BadNews],
            ),
            // a school grade to be glad of, sobbing for joy
            ("Mia got an A in her maths exam!! 😭", &[GoodNews], &[BadNews]),
            // a misfortune shown is pitied
            ("[photo] the cat knocked my plant over again 😐", &[BadNews], &[Show]),
            // the check-in only opens the question
            (
                "Hi Tom, just checking in, did you get a chance to read the contract?",
                &[YesNo],
                &[HowAreYou, Show],
            ),
            // "guess what" then the news
            ("guess what i found a tenner in my coat", &[Report], &[Announcement]),
            ("Guess what happened", &[Announcement], &[]),
            // a warning of what to avoid informs
            ("avoid the m6 tonight, lorry fire near junction 10", &[Info], &[Fragment]),
            // a hot take is argued
            ("snowboarding is way harder than skiing, fight me", &[OpinionStmt], &[Info]),
            // "you guys" is "you"
            ("Hope you guys are having a lovely holiday!", &[Wish], &[Info, GoodNews]),
            // a wh-question after "pls" is no favour
            ("pls what time is your train", &[], &[Request, Plea]),
            // a plan already made, checked
            (
                "Gran wants to know if you're still coming to the quiz tonight",
                &[Plan, YesNo],
                &[Invitation],
            ),
            (
                "u coming to the match sat or working again?",
                &[Plan, YesNo],
                &[Invitation, Choice],
            ),
            // the sender's own doing as the other possibility: the offer stands
            ("Do you want the last slice or should I bin it?", &[Offer], &[YesNo]),
            // an unsaid "I"
            ("think im gonna learn the guitar", &[Report], &[Fragment]),
            // thanks with an eye-roll complain
            (
                "thanks for eating the last yoghurt, really appreciated 🙄",
                &[Complaint],
                &[Thanks],
            ),
            ("Your nephew says you're famous now lol", &[Compliment], &[]),
            // blind22's families: a fact of a thing told before the "or"
            (
                "does anyone know if the pool is shut on monday or just sunday?",
                &[AskSchedule],
                &[Choice],
            ),
            ("the blue one or the red?", &[Choice], &[]),
            // a call asked for
            ("Mam ring me asap when you get this", &[CareRequest], &[Fragment]),
            // a notice with its marker informs, though it names a time to come
            (
                "Just to let you know the bins go out Tuesday this week instead, we'll collect them at 7",
                &[Info],
                &[Plan],
            ),
            // the question is whether the reader still does it; the fallback is no offer
            (
                "are you still ok to drive on sunday or shall I ask Tom?",
                &[YesNo, Plan],
                &[Offer],
            ),
            // the reader's address asked for
            ("send me your new postcode when you get a sec", &[WhPlace], &[Request]),
            ("hows the craic?", &[WhatsUp], &[]),
            // when the reader comes is asked; nothing to accept
            ("Nana I miss you, when are you coming to visit?", &[MissYou], &[Invitation]),
            // the Irish plural "ye" after an auxiliary
            ("would ye like to come for dinner sunday?", &[Invitation], &[]),
            ("u good? not seen u in ages", &[HowAreYou], &[]),
            ("Have a blessed week brother", &[Wish, WishBack], &[Info]),
            ("big race tmrw, wish me luck!!", &[Challenge], &[]),
            // good words ending in an eye-roll are sarcastic
            (
                "Great, another meeting at 5pm on a Friday. Love that 🙄",
                &[BadNews],
                &[GoodNews, Plan],
            ),
            // a reminder's "must" informs
            (
                "Reminder: all staff must complete the fire training by Friday",
                &[Info],
                &[OpinionStmt],
            ),
            // a condition is no misfortune
            (
                "The electrician is coming Monday at 9. Let me know if that doesn't work",
                &[],
                &[BadNews],
            ),
            // someone else's attainment is news to be glad of, not information
            ("Mum has passed her citizenship test!!!", &[GoodNews], &[Info]),
            // a courtesy before a question asks to be excused
            ("Is it too late to change my order?", &[Apology], &[YesNo]),
            // an event to come to, its answer asked
            (
                "Book club at mine Weds 7pm, bring a bottle, please RSVP",
                &[Invitation],
                &[],
            ),
        ] {
            reads_as(m, with, without);
        }
    }

    #[test]
    fn group_favours_indirect_questions_nuisances_and_favours_done() {
        use Act::*;
        // families of the session-20 blind12 read, tested on other messages
        let parcel =
            "Hi it's Sam from 4B, your parcel was delivered to ours, I'll bring it up later";
        for (m, with, without) in [
            // a favour asked of a group: offered or declined, not a choice or a fact
            (
                "can anyone grab napkins or plates on the way?",
                &[Request][..],
                &[Choice][..],
            ),
            ("who could take the 7am shift on Friday?", &[Request], &[Wh]),
            // a fact asked as whether the reader knows it: checked, not "Yes, I do."
            (
                "do u know if the library is open on Monday?",
                &[AskSchedule],
                &[YesNo],
            ),
            (
                "anyone know where the spare charger went",
                &[AskSchedule],
                &[],
            ),
            ("do you know how to change a tire?", &[YesNo], &[]),
            // a nuisance to stop: apologized for and done, never declined or accepted
            (
                "hey could you keep it down a bit? it's 1am",
                &[Instruction, Complaint],
                &[Request, Invitation],
            ),
            // a vote asked: the choice, not a favour
            ("Thai or pizza tonight? reply pls", &[Choice], &[Request]),
            // an offer of something, its alternative the sender's own act
            (
                "do you want the rest of the soup or should i freeze it?",
                &[Offer],
                &[Choice],
            ),
            // a favour done for the reader: thanked for
            ("dropped your keys in your mailbox on my way", &[Kind], &[]),
            (parcel, &[Kind], &[Greeting]),
            // "going down for maintenance" invites no one; "pop over" does
            (
                "the wifi is going down for an update at noon",
                &[],
                &[Invitation],
            ),
            (
                "having a few friends round saturday, feel free to pop over",
                &[Invitation],
                &[],
            ),
            (
                "is it cool if I bring my cousin to the party",
                &[Permission],
                &[],
            ),
            ("the heat today is brutal", &[Remark], &[]),
            ("outside", &[Arrival], &[]),
            (
                "I had such a lovely time with you today",
                &[LookingForward],
                &[],
            ),
            ("how's married life treating you?", &[HowAreYou], &[]),
            // a reminder's "Thanks!" is polite
            (
                "Friendly reminder: the bins go out tonight. Thanks!",
                &[Info],
                &[Thanks],
            ),
        ] {
            reads_as(m, with, without);
        }
    }

    #[test]
    fn agreement_sought_amounts_owed_and_problems_only_supposed() {
        use Act::*;
        // families still failing in the tuned blind sets (session 20), on messages of their own
        for (m, with, without) in [
            (
                "the new menu is awful. anyone else??",
                &[OpinionStmt][..],
                &[YesNo][..],
            ),
            (
                "do you know anyone who fixes bikes?",
                &[AskSchedule],
                &[YesNo],
            ),
            ("how much do I owe you for dinner?", &[AskSchedule], &[Wh]),
            ("I should apologize to my sister", &[], &[Apology]),
            ("Sorry but I have to cancel tonight", &[Apology], &[]),
            ("are you still coming tonight?", &[YesNo], &[OnTheWay]),
            ("my boss scheduled a call for 6pm, ugh", &[BadNews], &[Info]),
            ("yes I'm still coming, 10 min", &[OnTheWay], &[]),
            (
                "The plumber comes Monday at 9. Let me know if there's a problem with that.",
                &[],
                &[BadNews],
            ),
            (
                "The school trip is scheduled for May 3. Please sign up for a chaperone slot.",
                &[Instruction],
                &[Invitation, Request],
            ),
        ] {
            reads_as(m, with, without);
        }
    }

    #[test]
    fn praise_sharing_how_it_went_and_polite_thanks() {
        // praise of the reader, not news about them, a prediction or a claim
        has("you were amazing tonight!! that solo", Act::Compliment);
        has("you did a great job today", Act::Compliment);
        lacks("you won the raffle!", Act::Compliment);
        lacks("You're going to love it", Act::Compliment);
        lacks("you look tired", Act::Compliment);
        has("You're right", Act::Ack);
        // passing something on, showing it, asking how it went
        has(
            "here's the link to that recipe I told you about",
            Act::Share,
        );
        lacks(
            "here's the link to that recipe I told you about",
            Act::Fragment,
        );
        has("check out the view from our hotel!!", Act::Show);
        lacks("check out the view from our hotel!!", Act::Request);
        has("what do you think of this couch?", Act::Show);
        has("how was the trip?", Act::HowWas);
        has("how'd the interview go??", Act::HowWas);
        lacks("how was the trip?", Act::OpinionQ);
        has("just checking in, hope you're doing ok", Act::HowAreYou);
        // thanks closing a request is polite; thanks for something is thanks
        lacks(
            "Please sign the permission slip and return it by Friday. Thank you!",
            Act::Thanks,
        );
        has(
            "Thanks for the invite! Let me know what to bring",
            Act::Thanks,
        );
        lacks(
            "thanks for covering my shift yesterday, I owe you one",
            Act::Report,
        );
        // offers, warnings, venting, looking forward
        has(
            "I can drop the kids off at school tomorrow if that helps",
            Act::Offer,
        );
        has("Want the leftover pizza? about to toss it", Act::Offer);
        has(
            "The ceremony starts at 4 sharp, don't be late!",
            Act::CareRequest,
        );
        lacks("The ceremony starts at 4 sharp, don't be late!", Act::Late);
        has("running late, be there in 10", Act::Late);
        lacks(
            "Ugh, today was the worst. I just want to crawl into bed.",
            Act::Invitation,
        );
        has("Don't want to go alone, wanna come?", Act::Invitation);
        lacks(
            "The payment hasn't come through yet. Could you look into it?",
            Act::Invitation,
        );
        let advice = acts("honestly I don't think you should go to that party tonight");
        assert!(advice.has(Act::OpinionStmt), "{:?}", advice.names());
        assert!(!advice.has(Act::Suggestion) && !advice.has(Act::Plan));
        has("can't wait to see you!", Act::LookingForward);
        has("We're out of toilet paper fyi", Act::Info);
        let a = acts("Guess who just got upgraded to business class");
        assert!(
            a.has(Act::Achievement) && !a.has(Act::Info),
            "{:?}",
            a.names()
        );
        has("my sister had her baby!! 7 lbs 2 oz", Act::Achievement);
        let a = acts("this is the best pizza in the city, change my mind");
        assert!(
            a.has(Act::OpinionStmt) && !a.has(Act::GoodNews),
            "{:?}",
            a.names()
        );
        has("omw, 5 min", Act::OnTheWay);
        has("whatcha up to", Act::WhatsUp);
        let a = acts("It was so good to see you today!");
        assert!(
            a.has(Act::LookingForward) && !a.has(Act::Greeting),
            "{:?}",
            a.names()
        );
        lacks(
            "I feel like nobody at work takes me seriously",
            Act::Invitation,
        );
        has(
            "Great work on the client presentation today",
            Act::Compliment,
        );
        lacks(
            "Please note the HOA meeting has been moved to Monday at 7pm",
            Act::Request,
        );
        has(
            "Please note the HOA meeting has been moved to Monday at 7pm",
            Act::Info,
        );
        has("Ok so the meeting went terribly.", Act::BadNews);
        has("guess who I ran into at the store", Act::Announcement);
        has("Nailed the interview!", Act::Achievement);
        lacks("well that happened", Act::GoodNews);
        lacks("omw, 5 min", Act::Late);
        has("lmk if you need a ride", Act::OpenOffer);
        lacks("lmk if you need a ride", Act::Offer);
        has("I'm so done with my job rn", Act::BadNews);
        lacks("We're out of toilet paper fyi", Act::Report);
        has(
            "Mom wants to know if you're coming home this year",
            Act::YesNo,
        );
        has("I need a huge favor", Act::Announcement);
        has("idk what to get mom for xmas any ideas", Act::OpinionQ);
        has("My thesis defense is tomorrow at 9", Act::Challenge);
        lacks(
            "My coworker took credit for my entire presentation today. Unbelievable.",
            Act::Challenge,
        );
        lacks(
            "Heads up, the water will be shut off Thursday. Sorry for the inconvenience.",
            Act::Apology,
        );
        lacks("can't wait to see you!", Act::Farewell);
        has(
            "you would NOT believe what just happened",
            Act::Announcement,
        );
        lacks(
            "my grandma's doing much better, she's home from the hospital",
            Act::Sick,
        );
    }

    #[test]
    fn news_to_come_short_greetings_errands() {
        let a = acts("bro you will NOT believe what happened at work today");
        assert!(a.has(Act::Announcement), "{:?}", a.names());
        assert!(acts("morning sunshine").has(Act::Greeting));
        assert!(!acts("Morning meeting moved to 10").has(Act::Greeting));
        assert!(acts("Do we need anything from Costco? I'm going after work").has(Act::Offer));
        assert!(acts("She said yes!!!!").has(Act::Achievement));
        assert!(acts("hey stranger, how've you been?").has(Act::HowAreYou));
    }

    #[test]
    fn greetings_in_passing_trips_and_pets() {
        let a = acts("Hi all, team lunch is Thursday at 12:30. Please RSVP by tomorrow.");
        assert!(!a.has(Act::Greeting), "{:?}", a.names());
        let a = acts("Hello, a quick heads up that the water will be shut off this Thursday from 9am to noon");
        assert!(!a.has(Act::Greeting), "{:?}", a.names());
        assert!(acts("Hi! How are you?").has(Act::Greeting));
        assert!(acts("Hi, it's Dana from the gym, got your number from Kim").has(Act::Greeting));
        let a = acts("Heading to Cancun tomorrow!!!");
        assert!(a.has(Act::Trip) && !a.has(Act::Plan), "{:?}", a.names());
        let a = acts("Just brought home a puppy!!! Her name is Biscuit");
        assert!(
            a.has(Act::Achievement) && !a.has(Act::Kind),
            "{:?}",
            a.names()
        );
    }

    #[test]
    fn questions_without_a_question_mark() {
        for m in [
            "do u still have that drill i lent u",
            "is the new marvel movie worth seeing or nah",
            "could you send me the pics from last night when you get home",
        ] {
            assert!(acts(m).has(Act::YesNo), "{m}: {:?}", acts(m).names());
        }
        assert!(!acts("Do not lie").has(Act::YesNo));
    }

    fn msg(m: &str) -> Msg<'static> {
        Msg {
            cat: Catalog::builtin().unwrap(),
            all: words(m),
            padded: padded_key(m),
        }
    }

    #[test]
    fn sentence_pass_reads_question_kinds_and_who_a_statement_is_about() {
        let cat = Catalog::builtin().unwrap();
        let mut a = Acts::default();
        let shape = sentence_acts(&mut a, "So I went out. You okay?", cat);
        assert!(shape.statement && shape.about_me && !shape.about_you && !shape.wh_led);
        assert!(a.has(Act::YesNo));
        let mut a = Acts::default();
        let shape = sentence_acts(&mut a, "The package arrived. Want some cake?", cat);
        assert!(shape.about_other && shape.offer_opening);
        let mut a = Acts::default();
        let shape = sentence_acts(&mut a, "Send me the file.", cat);
        assert!(a.has(Act::Request) && shape.statement);
        let mut a = Acts::default();
        sentence_acts(&mut a, "Take care!", cat);
        assert!(!a.has(Act::Request));
    }

    #[test]
    fn wh_questions_by_their_opening() {
        let cat = Catalog::builtin().unwrap();
        let kind = |m: &str| {
            let mut a = Acts::default();
            let s = words(m);
            wh_question(&mut a, &s, &format!(" {} ", s.join(" ")), cat);
            a.names()
        };
        assert_eq!(kind("What time works"), ["wh_time"]);
        assert_eq!(kind("Where do we meet"), ["wh_place"]);
        assert_eq!(kind("Which one is better"), ["opinion_q"]);
        assert_eq!(kind("How about we go"), ["invitation"]);
        assert_eq!(kind("Who wrote it"), ["wh"]);
        assert!(kind("How are you").is_empty());
    }

    #[test]
    fn asks_and_social_stages() {
        let m = msg("Would you like some tea?");
        let mut a = Acts::default();
        a.insert(Act::YesNo);
        ask_acts(&mut a, &m, &Shape::default());
        assert!(a.has(Act::Offer) && !a.has(Act::YesNo));
        let m = msg("Tell me about your trip");
        let mut a = Acts::default();
        a.insert(Act::Request);
        ask_acts(&mut a, &m, &Shape::default());
        assert!(a.has(Act::TellAbout) && !a.has(Act::Request));
        let m = msg("Hey, what's up?");
        let mut a = Acts::default();
        a.insert(Act::Wh);
        social_acts(&mut a, &m, &Shape::default());
        assert!(a.has(Act::Greeting) && a.has(Act::WhatsUp) && !a.has(Act::Wh));
    }

    #[test]
    fn polarity_counts_flips_and_idioms() {
        assert_eq!(polarity(&msg("I had a great day")), (1, 0));
        assert_eq!(polarity(&msg("The day was not good")), (0, 1));
        assert_eq!(polarity(&msg("not bad")), (1, 0));
        assert_eq!(polarity(&msg("Could be better.")), (0, 1));
        assert_eq!(polarity(&msg("I didn't get the job")).1, 1);
    }

    #[test]
    fn told_stages() {
        let told = |m: &str, shape: Shape| {
            let mg = msg(m);
            let mut a = Acts::default();
            told_acts(&mut a, &mg, &shape);
            a
        };
        let me = Shape {
            statement: true,
            about_me: true,
            ..Shape::default()
        };
        assert!(told("I passed my exam!", me).has(Act::Achievement));
        assert!(told("I have an interview tomorrow", me).has(Act::Challenge));
        let a = told("We went to the lake yesterday", me);
        assert!(a.has(Act::Report) && a.has(Act::PastReport));
        let you = Shape {
            statement: true,
            about_you: true,
            ..Shape::default()
        };
        assert!(told("you are mean", you).has(Act::Insult));
        let other = Shape {
            statement: true,
            about_other: true,
            ..Shape::default()
        };
        assert!(told("The train is delayed.", other).has(Act::Info));
        assert!(told("Tea is better than coffee.", other).has(Act::OpinionStmt));
        assert_eq!(
            told("lord of the rings", Shape::default()).names(),
            ["fragment"]
        );
    }

    #[test]
    fn question_kinds() {
        assert!(acts("Do you like pizza?").has(Act::YesNo));
        assert!(acts("do you eat").has(Act::YesNo));
        assert!(acts("What time works?").has(Act::WhTime));
        assert!(!acts("What time works?").has(Act::YesNo));
        assert!(acts("Where do we meet?").has(Act::WhPlace));
        assert!(acts("What do you think of the logo?").has(Act::OpinionQ));
        assert!(acts("How are you doing?").has(Act::HowAreYou));
        assert!(acts("What's up?").has(Act::WhatsUp));
        assert!(acts("Not much, how about you?").has(Act::Reciprocal));
    }

    #[test]
    fn asks() {
        assert!(acts("Would you like some tea?").has(Act::Offer));
        assert!(acts("Can I ask you something?").has(Act::Permission));
        assert!(!acts("How can I reach you?").has(Act::Permission));
        assert!(acts("Could you send me the file?").has(Act::Request));
        assert!(acts("Want to grab lunch tomorrow?").has(Act::Invitation));
        assert!(acts("Text me when you land").has(Act::CareRequest));
    }

    #[test]
    fn social_and_news() {
        assert!(acts("Good luck tomorrow!").has(Act::Wish));
        assert!(acts("Happy anniversary!").has(Act::Wish));
        assert!(acts("Thanks for dinner!").has(Act::Thanks));
        assert!(!acts("Fine, thanks.").has(Act::Thanks));
        assert!(acts("Sorry I'm late").has(Act::Apology));
        assert!(acts("I got the job!").has(Act::Achievement));
        assert!(acts("My car broke down.").has(Act::BadNews));
        assert!(acts("The train is delayed.").has(Act::Info));
        // a changed arrangement is information to acknowledge, not a plan to agree to
        let a = acts("Dinner moved to 8.");
        assert!(a.has(Act::Info) && !a.has(Act::Plan), "{:?}", a.names());
        assert!(acts("I have a job interview tomorrow").has(Act::Challenge));
        assert!(acts("I started a pottery class.").has(Act::Report));
        assert!(acts("We went to the lake yesterday.").has(Act::PastReport));
        assert!(acts("you are a coward").has(Act::Insult));
        assert!(acts("Very well, thanks.").has(Act::StatusGood));
        assert!(acts("ray bradbury").has(Act::Fragment));
    }

    #[test]
    fn wishes_and_farewells_are_not_news_or_requests() {
        for m in [
            "Good luck tomorrow!",
            "Happy birthday!",
            "Good night!",
            "Have a safe flight!",
        ] {
            let a = acts(m);
            assert!(!a.has(Act::GoodNews), "{m}: {:?}", a.names());
            assert!(
                a.has(Act::Wish) || a.has(Act::Farewell),
                "{m}: {:?}",
                a.names()
            );
        }
        for m in ["Get well soon!", "Take care!", "Rest up and get well!"] {
            assert!(!acts(m).has(Act::Request), "{m}: {:?}", acts(m).names());
        }
        assert!(acts("Take the bus.").has(Act::Request));
        assert!(!acts("Hope your cold goes away soon.").has(Act::BadNews));
        assert!(acts("You're the best!").has(Act::Compliment));
        assert!(!acts("You're the best!").has(Act::GoodNews));
    }

    #[test]
    fn care_requests_are_not_plain_requests() {
        for m in [
            "Text me when you land.",
            "Let me know when you're home.",
            "Keep me posted!",
        ] {
            let a = acts(m);
            assert!(a.has(Act::CareRequest), "{m}");
            assert!(
                !a.has(Act::Request) && !a.decision(),
                "{m}: {:?}",
                a.names()
            );
        }
        assert!(acts("Message me once you arrive.").has(Act::CareRequest));
        // Asked as a question, it is answered yes ("Yes, I can."), not declined: a call
        // back or a text home is no favour to turn down.
        let a = acts("Can you call me when you're free?");
        assert!(
            a.has(Act::YesNo) && a.has(Act::CareRequest),
            "{:?}",
            a.names()
        );
        assert!(!a.has(Act::Request), "{:?}", a.names());
    }

    #[test]
    fn arrival() {
        for m in [
            "I'm outside.",
            "I'm here.",
            "Just parked.",
            "We're downstairs!",
        ] {
            let a = acts(m);
            assert!(a.has(Act::Arrival), "{m}: {:?}", a.names());
            assert!(
                !a.has(Act::Report) && !a.has(Act::Fragment),
                "{m}: {:?}",
                a.names()
            );
        }
        assert!(!acts("The package just arrived.").has(Act::Arrival));
        assert!(!acts("Are you outside?").has(Act::Arrival));
    }

    #[test]
    fn negated_attainment_is_bad_news() {
        for m in [
            "I didn't get the job.",
            "I didn't pass the bar exam.",
            "We didn't win.",
        ] {
            let a = acts(m);
            assert!(a.has(Act::BadNews), "{m}: {:?}", a.names());
            assert!(!a.has(Act::Achievement) && !a.has(Act::Report), "{m}");
        }
        // Nothing left to face once it has gone wrong or is done.
        assert!(!acts("I failed my driving test.").has(Act::Challenge));
        assert!(!acts("I passed my exam!").has(Act::Challenge));
        assert!(acts("I have an exam tomorrow and I'm nervous.").has(Act::Challenge));
        // "I'll" is not "ill".
        assert!(!acts("I'll call you.").has(Act::Sick));
    }

    #[test]
    fn a_bare_you_is_not_the_same_asked_back() {
        for m in [
            "You okay?",
            "Where are you?",
            "When are you free?",
            "You there?",
        ] {
            assert!(!acts(m).has(Act::Reciprocal), "{m}: {:?}", acts(m).names());
        }
        assert!(acts("You?").has(Act::Reciprocal));
        assert!(acts("Good, and you?").has(Act::Reciprocal));
        assert!(acts("When are you free?").has(Act::WhTime));
        assert!(!acts("When are you free?").decision());
    }

    #[test]
    fn acknowledgements_comparisons_offers_updates() {
        for m in [
            "Good to hear!",
            "Glad to hear that.",
            "That's good to hear.",
        ] {
            let a = acts(m);
            assert!(
                a.has(Act::Ack) && !a.has(Act::GoodNews),
                "{m}: {:?}",
                a.names()
            );
            assert!(!a.has(Act::Fragment), "{m}");
        }
        for m in ["Tea is better than coffee.", "Better late than never."] {
            let a = acts(m);
            assert!(
                a.has(Act::OpinionStmt) && !a.has(Act::GoodNews),
                "{m}: {:?}",
                a.names()
            );
        }
        for m in [
            "Want me to pick you up?",
            "Do you want some coffee?",
            "Can I grab you a drink?",
        ] {
            let a = acts(m);
            assert!(a.has(Act::Offer), "{m}: {:?}", a.names());
            assert!(
                !a.has(Act::YesNo) && !a.has(Act::Permission),
                "{m}: {:?}",
                a.names()
            );
        }
        assert!(!acts("Would you like some tea?").has(Act::OpinionQ));
        assert!(acts("Want some of my fries?").has(Act::Offer));
        assert!(acts("Need a hand?").has(Act::Offer));
        assert!(!acts("Want some of my fries").has(Act::Offer));
        assert!(!acts("I want some fries.").has(Act::Offer));
        assert!(!acts("I am doing well, how about you?").has(Act::Suggestion));
        assert!(acts("How about pizza tonight?").has(Act::Suggestion));
        assert!(!acts("What time works for you?").has(Act::Kind));
        assert!(acts("I made this for you.").has(Act::Kind));
        // Reminders are care requests, not requests to decide on.
        let a = acts("Don't forget to lock the door.");
        assert!(
            a.has(Act::CareRequest) && !a.has(Act::Request),
            "{:?}",
            a.names()
        );
        assert!(acts("Tell me about your trip.").has(Act::TellAbout));
        assert!(!acts("Tell me about your trip.").decision());
        assert!(!acts("Tell me when you land.").has(Act::TellAbout));
        assert!(!acts("It is hard to explain.").has(Act::TellAbout));
        let a = acts("Our flight got changed to 9am.");
        assert!(
            a.has(Act::Info) && !a.has(Act::Report) && !a.has(Act::Trip),
            "{:?}",
            a.names()
        );
    }

    #[test]
    fn choices_between_options_are_not_yes_no_or_invitations() {
        for m in [
            "should we book a table or just walk in",
            "tea or coffee?",
            "Want to meet at the cafe or at my place?",
            "beer or wine for the party",
            "Do you want rice or fries?",
        ] {
            let a = acts(m);
            assert!(a.has(Act::Choice), "{m}: {:?}", a.names());
            for x in [Act::YesNo, Act::Invitation, Act::Suggestion, Act::Offer] {
                assert!(!a.has(x), "{m}: {:?}", a.names());
            }
        }
        let cat = Catalog::builtin().unwrap();
        let ch = |m: &str, q: bool| {
            let s = words(m);
            choice(&s, &format!(" {} ", s.join(" ")), q, cat)
        };
        // "or" in a phrase that offers no choice, a statement with a subject or an
        // imperative first, an alternative of fact.
        assert!(!ch("are you coming or not", true));
        assert!(!ch("we could get pizza or something", false));
        assert!(!ch("I will call or text later", false));
        assert!(!ch("call or text me later", false));
        assert!(!ch("is that a definition or an opinion", true));
        assert!(!ch("or", true));
    }

    #[test]
    fn yes_no_questions_without_their_auxiliary() {
        for m in [
            "you watching the game tonight",
            "u free later",
            "you still at the office",
            "anyone home",
            "you coming?",
            "ya awake",
        ] {
            let a = acts(m);
            assert!(a.has(Act::YesNo), "{m}: {:?}", a.names());
            assert!(
                !a.has(Act::Insult) && !a.has(Act::Fragment),
                "{m}: {:?}",
                a.names()
            );
        }
        // A claim about the reader stays one.
        assert!(!acts("you forgot my birthday").has(Act::YesNo));
        assert!(acts("you are mean").has(Act::Insult));
        let cat = Catalog::builtin().unwrap();
        assert!(!dropped_aux(&words("you look great"), cat));
        assert!(!dropped_aux(&words("I am free later"), cat));
    }

    #[test]
    fn offers_of_what_one_can_do() {
        for m in [
            "I can give you a lift if you want",
            "happy to pick you up",
            "I could bring dessert",
            "let me know if you need anything",
            "I can lend you my charger",
        ] {
            let a = acts(m);
            // an open offer names nothing to take now
            let open = m.contains("anything");
            assert!(a.has(Act::Offer) != open, "{m}: {:?}", a.names());
            assert!(a.has(Act::OpenOffer) == open, "{m}: {:?}", a.names());
            assert!(
                !a.has(Act::Report) && !a.has(Act::Plan),
                "{m}: {:?}",
                a.names()
            );
        }
        let cat = Catalog::builtin().unwrap();
        let off = |m: &str| {
            let s = words(m);
            offer_statement(&s, &format!(" {} ", s.join(" ")), cat)
        };
        // What one can do for oneself offers nothing.
        assert!(!off("I can get there by 5"));
        assert!(!off("I could eat a horse"));
        assert!(!off("I can swim"));
        assert!(off("I can take you to the airport"));
    }

    #[test]
    fn life_events_are_good_news_to_congratulate() {
        for m in [
            "We're expecting a baby!",
            "We're having a baby!",
            "just got engaged",
            "I got the promotion",
            "Moving into our new place this weekend",
            "Passed my driving test",
            "We're getting married",
            "We closed on our first house today",
        ] {
            let a = acts(m);
            assert!(
                a.has(Act::GoodNews) && a.has(Act::Achievement),
                "{m}: {:?}",
                a.names()
            );
            assert!(
                !a.has(Act::Info) && !a.has(Act::Kind) && !a.has(Act::PastReport),
                "{m}: {:?}",
                a.names()
            );
        }
        // Multi-word good phrases count.
        assert_eq!(polarity(&msg("we are having a baby")), (2, 0));
        assert!(!acts("The gym is closed on Sunday.").has(Act::GoodNews));
    }

    #[test]
    fn good_nights_and_going_offline_are_farewells() {
        for m in [
            "Ok heading to bed, night!",
            "gnight",
            "nighty night",
            "off to sleep",
            "signing off for today",
            "night!",
            "gonna hit the sack",
        ] {
            let a = acts(m);
            assert!(a.has(Act::Farewell), "{m}: {:?}", a.names());
            for x in [Act::Fragment, Act::Trip, Act::Report] {
                assert!(!a.has(x), "{m}: {:?}", a.names());
            }
        }
        assert!(!acts("I saw a great movie last night.").has(Act::Farewell));
        assert!(!acts("Movie night on Friday?").has(Act::Farewell));
    }

    #[test]
    fn a_past_verb_first_is_a_report_not_a_request() {
        for m in [
            "Went hiking on Saturday",
            "Just finished the marathon",
            "Saw the new Bond film last night",
            "Tried the climbing gym yesterday",
            "Watched the whole series in one weekend",
        ] {
            let a = acts(m);
            // Told of oneself: a report, or (attained) an achievement to congratulate.
            assert!(
                a.has(Act::Report) || a.has(Act::Achievement),
                "{m}: {:?}",
                a.names()
            );
            for x in [
                Act::Request,
                Act::Plan,
                Act::Trip,
                Act::Challenge,
                Act::Fragment,
            ] {
                assert!(!a.has(x), "{m}: {:?}", a.names());
            }
        }
        assert!(acts("Went hiking on Saturday").has(Act::PastReport));
        assert!(acts("Saw the new Bond film last night").has(Act::PastReport));
        // An imperative stays a request.
        assert!(acts("Take the bus.").has(Act::Request));
        // a participle first is no request either: one's own outing ahead
        let a = acts("Hiking on Saturday!");
        assert!(a.has(Act::Trip) && !a.has(Act::Request), "{:?}", a.names());
        assert!(acts("Dinner with Sam on Saturday!").has(Act::Plan));
    }

    #[test]
    fn weak_good_words_in_a_telling_of_something_done_are_no_news() {
        for m in [
            "Went to the new ramen place for lunch",
            "I made pasta last night",
            "We went to the new museum yesterday.",
        ] {
            let a = acts(m);
            assert!(a.has(Act::PastReport), "{m}: {:?}", a.names());
            assert!(!a.has(Act::GoodNews), "{m}: {:?}", a.names());
        }
        // A strong good word still makes it good news; weak ones do outside a telling of
        // something done.
        assert!(acts("I saw a great movie last night.").has(Act::GoodNews));
        assert!(acts("Went to the new ramen place, it was amazing").has(Act::GoodNews));
        assert!(acts("I just bought a new car!").has(Act::GoodNews));
        assert_eq!(polarity_of(&msg("went to the new cafe"), true), (0, 0));
        assert_eq!(polarity_of(&msg("went to the new cafe"), false), (1, 0));
    }

    #[test]
    fn short_confirmations_are_acknowledged_not_asked_about() {
        for m in [
            "Yes I am.",
            "I can see that.",
            "Of course I am a programmer.",
            "Yes it is.",
            "yeah I know",
            "Sure.",
        ] {
            let a = acts(m);
            assert!(a.has(Act::Confirm), "{m}: {:?}", a.names());
            for x in [Act::Report, Act::Info, Act::Fragment] {
                assert!(!a.has(x), "{m}: {:?}", a.names());
            }
        }
        // News, a question, a longer report or a plain statement are not confirmations.
        for m in [
            "Yes, I got the job!",
            "Yes, can you call me?",
            "Yeah I went to the beach with my sister yesterday",
            "I am working on a project",
            "I know a great pizza place downtown",
        ] {
            assert!(!acts(m).has(Act::Confirm), "{m}: {:?}", acts(m).names());
        }
    }

    #[test]
    fn claims_about_the_reader_and_complaints() {
        // A bad word describing the reader is a claim to dispute, not agreed with.
        let a = acts("you are the worst");
        assert!(a.has(Act::Insult), "{:?}", a.names());
        assert!(
            !a.has(Act::Complaint) && !a.has(Act::OpinionStmt),
            "{:?}",
            a.names()
        );
        // Something the reader did is a complaint, to apologize for, not to dispute.
        for m in [
            "you make me mad",
            "You forgot to pick me up!",
            "you keep forgetting",
        ] {
            let a = acts(m);
            assert!(
                a.has(Act::Complaint) && !a.has(Act::Insult),
                "{m}: {:?}",
                a.names()
            );
        }
        // A returned wish is no claim.
        assert!(!acts("Thank you. You too.").has(Act::Insult));
    }

    #[test]
    fn attainments_opinions_luck_trips_lateness_and_kindness_are_not_reports() {
        for (m, x) in [
            ("We're having a baby!", Act::Achievement),
            ("I think we should leave early.", Act::OpinionStmt),
            ("I have a presentation tomorrow.", Act::Challenge),
            ("I'm heading to the beach.", Act::Trip),
            ("I'm running 10 minutes late.", Act::Late),
            ("I made this for you.", Act::Kind),
        ] {
            let a = acts(m);
            assert!(a.has(x) && !a.has(Act::Report), "{m}: {:?}", a.names());
        }
        // Something kind is said to the reader: no news to praise.
        assert!(!acts("I made this for you.").has(Act::GoodNews));
        // An offer said with "on my way" is not running late.
        let a = acts("happy to grab you a coffee on my way");
        assert!(a.has(Act::Offer) && !a.has(Act::Late), "{:?}", a.names());
        // Praise of the reader's things tells no taste to share.
        let a = acts("I love your new jacket!");
        assert!(
            a.has(Act::Compliment) && !a.has(Act::ReportLike),
            "{:?}",
            a.names()
        );
        // A comparison praises no one.
        let a = acts("Beautiful is better than ugly.");
        assert!(
            a.has(Act::OpinionStmt) && !a.has(Act::Compliment),
            "{:?}",
            a.names()
        );
        assert!(acts("You look beautiful").has(Act::Compliment));
    }

    #[test]
    fn statuses_and_guesses_about_oneself() {
        for m in ["Not much.", "Nothing much.", "Same old."] {
            let a = acts(m);
            assert!(a.has(Act::StatusNeutral), "{m}: {:?}", a.names());
            assert!(
                !a.has(Act::StatusGood) && !a.has(Act::Fragment),
                "{m}: {:?}",
                a.names()
            );
        }
        let a = acts("Could be better.");
        assert!(
            a.has(Act::BadNews) && !a.has(Act::Fragment),
            "{:?}",
            a.names()
        );
        assert!(acts("I'm doing well.").has(Act::StatusGood));
        let a = acts("I think I have the flu.");
        assert!(
            a.has(Act::Sick) && !a.has(Act::OpinionStmt),
            "{:?}",
            a.names()
        );
        assert!(acts("I think we should leave early.").has(Act::OpinionStmt));
    }

    #[test]
    fn wanting_to_do_something_is_an_invitation() {
        for m in [
            "Do you want to play tennis on Sunday?",
            "Would you like to join us for dinner?",
            "Want to grab lunch tomorrow?",
        ] {
            let a = acts(m);
            assert!(a.has(Act::Invitation), "{m}: {:?}", a.names());
            assert!(
                !a.has(Act::YesNo) && !a.has(Act::Offer),
                "{m}: {:?}",
                a.names()
            );
        }
        assert!(acts("Would you like some tea?").has(Act::Offer));
        assert!(acts("Do you want rice or fries?").has(Act::Choice));
        assert!(!acts("What do you want to eat?").has(Act::Invitation));
        // What time is worth asking only when no time is named.
        assert!(acts("Want to grab lunch tomorrow?").has(Act::OpenInvitation));
        let a = acts("Can we meet tomorrow at 5?");
        assert!(
            a.has(Act::Invitation) && !a.has(Act::OpenInvitation),
            "{:?}",
            a.names()
        );
    }

    #[test]
    fn a_taste_is_shared_not_praised() {
        for m in [
            "I love baseball",
            "I love to read novels.",
            "I enjoy painting",
        ] {
            let a = acts(m);
            assert!(
                a.has(Act::ReportLike) && !a.has(Act::GoodNews),
                "{m}: {:?}",
                a.names()
            );
        }
        assert!(acts("I love my new job, it's amazing").has(Act::GoodNews));
    }

    #[test]
    fn a_wish_is_returned_unless_it_names_the_readers_own_occasion() {
        for m in ["Have a nice day!", "Happy Friday!", "Enjoy your weekend!"] {
            assert!(acts(m).has(Act::WishBack), "{m}: {:?}", acts(m).names());
        }
        for m in [
            "Have a great trip!",
            "Enjoy your flight",
            "Good luck tomorrow!",
            "Have a good interview",
        ] {
            let a = acts(m);
            assert!(
                a.has(Act::Wish) && !a.has(Act::WishBack),
                "{m}: {:?}",
                a.names()
            );
        }
    }
}
