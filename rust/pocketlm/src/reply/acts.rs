//! The dialogue acts of an incoming message (question kinds, offer, permission, request,
//! invitation, thanks, wishes, reports...): the vocabulary the catalog's ACTS column and the
//! drafter share. What a message does is not read by rules here: the reading head's act
//! outputs learn it from the labelled messages' act labels (`tests/fixtures/reply-acts.tsv`,
//! [`super::reading_head::ReadingHead::acts`]; docs/reply.md, "Acts, learned").

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

impl Act {
    /// An act that asks for a decision: yes and no both fit.
    pub fn decision_act(self) -> bool {
        matches!(
            self,
            Act::YesNo | Act::Offer | Act::Permission | Act::Request | Act::Invitation
        )
    }
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
        self.iter().any(Act::decision_act)
    }
}

/// Test messages and the acts the session-42 act rules read in them (every act, none
/// ignored): the catalog's and the selection's tests take a message's acts as given.
#[cfg(test)]
pub(crate) fn read(message: &str) -> Acts {
    const READ: &[(&str, &[&str])] = &[
        ("Do you like pizza?", &["yes_no", "opinion_q"]),
        ("Are you coming?", &["yes_no"]),
        ("I'm outside.", &["arrival"]),
        ("I'm at work.", &["report"]),
        ("ok heading to bed", &["farewell"]),
        ("gnight", &["farewell"]),
        ("night!", &["farewell"]),
        ("off to sleep", &["farewell"]),
        ("Bye, see you Monday", &["farewell"]),
        ("tea or coffee?", &["choice"]),
        ("you are arrogant", &["insult", "fragment"]),
        ("you need a psychiatrist", &["insult"]),
        ("You forgot to pick me up!", &["complaint"]),
        ("you make me mad", &["complaint"]),
        ("Have a nice day!", &["wish", "wish_back", "remark"]),
        ("Enjoy your weekend!", &["wish", "wish_back"]),
        ("Have a lovely evening!", &["wish", "wish_back"]),
        ("Have a great trip!", &["wish"]),
        ("Have a safe flight!", &["wish"]),
        ("Good luck on your exam!", &["wish"]),
        ("Tell me about your dreams", &["tell_about"]),
        ("Where should we eat tonight?", &["wh_place"]),
        ("When are you free this week?", &["wh_time"]),
        ("How long until you get here?", &["wh_time"]),
        ("who wrote the hobbit", &["wh"]),
        ("Tea is better than coffee.", &["opinion_stmt"]),
        ("Not much.", &["status", "status_neutral"]),
        ("Yes I am.", &["confirm"]),
        ("I'm doing well.", &["good_news", "status", "status_good"]),
        (
            "Lunch tomorrow?",
            &["invitation", "suggestion", "open_invitation"],
        ),
        ("Good morning, how are you?", &["greeting", "how_are_you"]),
        ("what time does the concert start?", &["ask_schedule"]),
        ("I went hiking yesterday.", &["report", "past_report"]),
        ("Do you like jazz?", &["yes_no", "opinion_q"]),
        (
            "Can you have Sam Saturday afternoon?",
            &["yes_no", "request"],
        ),
        (
            "Do you want to go to the mall tomorrow?",
            &["invitation", "suggestion", "open_invitation"],
        ),
        ("I went to the mall today.", &["report", "past_report"]),
        ("Thanks!", &["thanks"]),
    ];
    let (_, names) = READ
        .iter()
        .find(|(m, _)| *m == message)
        .unwrap_or_else(|| panic!("no acts listed for {message:?}"));
    let mut a = Acts::default();
    for n in names.iter() {
        a.insert(Act::parse(n).expect("an act name"));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_of_acts_adds_removes_and_asks() {
        let mut a = Acts::default();
        assert!(a.is_empty() && !a.asks() && !a.decision());
        a.insert(Act::Thanks);
        a.insert(Act::Wh);
        assert!(a.has(Act::Thanks) && a.asks() && !a.decision());
        assert_eq!(a.names(), vec!["wh", "thanks"], "declaration order");
        a.set(Act::Invitation, true);
        assert!(a.decision());
        let mut b = Acts::default();
        b.insert(Act::Invitation);
        assert!(a.intersects(&b) && a.contains_all(&b));
        a.remove_all(&b);
        assert!(!a.decision() && !a.intersects(&b));
        a.remove(Act::Wh);
        assert_eq!(a.names(), vec!["thanks"]);
        for act in Act::ALL {
            assert_eq!(Act::parse(act.as_str()), Some(*act));
        }
        assert_eq!(Act::parse("nope"), None);
    }
}
