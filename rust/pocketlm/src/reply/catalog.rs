//! The reply catalog: every curated response with its tones, semantic cluster, stance, the
//! dialogue acts it answers and its cues, plus the lexicons the texting reading, the gate and the
//! filters read. Policy as data (`catalog.txt`, embedded), parsed and validated at load.

use super::acts::{Act, Acts};
use super::cluster_prior::{self, ClusterPrior};
use super::filter::{has_phrase, key, padded_key};
use super::reader_acceptance::{self, ReaderAcceptance};
use super::sensitive_words::{self, SensitiveWords};
use super::Tone;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The stance of a reply: what it does in the conversation (the selection mixes stances).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stance {
    /// Agrees or accepts.
    Yes,
    /// Declines or disagrees.
    No,
    /// Leaves it open.
    Maybe,
    /// Thanks the other person.
    Thanks,
    /// Answers thanks.
    Welcome,
    /// Answers an apology.
    Forgive,
    /// Apologizes.
    Sorry,
    /// Shows sympathy.
    Sympathy,
    /// Shares good news or joy.
    Happy,
    /// A short reaction ("Wow!").
    React,
    /// Wishes well.
    Wish,
    /// Asks back.
    Question,
    /// Gives information asked for.
    Answer,
    /// Says hello.
    Greet,
    /// Says goodbye.
    Bye,
    /// Laughs along.
    Laugh,
}

impl Stance {
    const ALL: [(Stance, &'static str); 16] = [
        (Stance::Yes, "yes"),
        (Stance::No, "no"),
        (Stance::Maybe, "maybe"),
        (Stance::Thanks, "thanks"),
        (Stance::Welcome, "welcome"),
        (Stance::Forgive, "forgive"),
        (Stance::Sorry, "sorry"),
        (Stance::Sympathy, "sympathy"),
        (Stance::Happy, "happy"),
        (Stance::React, "react"),
        (Stance::Wish, "wish"),
        (Stance::Question, "question"),
        (Stance::Answer, "answer"),
        (Stance::Greet, "greet"),
        (Stance::Bye, "bye"),
        (Stance::Laugh, "laugh"),
    ];

    /// The stance's name in the catalog.
    pub fn as_str(self) -> &'static str {
        Stance::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, n)| *n)
            .expect("every stance is named")
    }

    fn parse(name: &str) -> Option<Stance> {
        Stance::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(s, _)| *s)
    }

    /// A stance that answers a decision ("yes", "no", "maybe"): a yes/no question, offer,
    /// invitation or request gets one yes and one no or maybe where both fit.
    pub fn is_decision(self) -> bool {
        matches!(self, Stance::Yes | Stance::No | Stance::Maybe)
    }

    /// The other side of a decision from "yes": a no or a maybe. A decision is offered both
    /// ways when one chip says yes and another says this.
    pub fn is_no_or_maybe(self) -> bool {
        matches!(self, Stance::No | Stance::Maybe)
    }
}

/// A semantic cluster: responses that say one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub stance: Stance,
    /// Fits almost any question ("I'm not sure."): a last resort unless an opinion is asked.
    pub hedge: bool,
}

/// A curated response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub text: String,
    /// Neutral, casual, formal.
    pub tones: [bool; 3],
    /// Index into [`Catalog::clusters`].
    pub cluster: usize,
    /// The acts it answers.
    pub acts: Acts,
    /// The acts it is a preferred answer to (a subset of `acts`).
    pub preferred: Acts,
    /// Phrases (keys) of which the message must contain one; empty = no cue needed.
    pub needs: Vec<String>,
}

impl Response {
    pub fn has_tone(&self, tone: Tone) -> bool {
        self.tones[tone_index(tone)]
    }
}

fn tone_index(tone: Tone) -> usize {
    match tone {
        Tone::Neutral => 0,
        Tone::Casual => 1,
        Tone::Formal => 2,
    }
}

/// A catalog line that does not parse or does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reply catalog line {line}: {message}")]
pub struct CatalogError {
    /// 1-based line in the catalog text.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// The lexicons every catalog must define (the texting reading, the gate, the filters and
/// the option chips read them by name).
pub const REQUIRED_LEXICONS: &[&str] = &[
    "texting",
    "show",
    "considering",
    "emoji_words",
    "summons",
    "automated",
    "keyword_verbs",
    "keyword_tails",
    "keyword_not",
    "notice_openings",
    "notice_labels",
    "charity_mentions",
    "wh",
    "aux",
    "you_plurals",
    "offer",
    "permission",
    "invitation",
    "announcement",
    "on_the_way",
    "looking_forward",
    "thanks",
    "wish",
    "miss_you",
    "compliment",
    "humor",
    "kind",
    "status",
    "suggestion",
    "late",
    "arrival",
    "good",
    "achievement",
    "sick",
    "challenge",
    "trip",
    "choice_words",
    "not_choice",
    "option_bounds",
    "option_articles",
    "option_flips",
    "option_particles",
    "option_times",
    "bedtime",
    "night_bare",
    "sensitive_loss",
    "sensitive_despair",
    "sensitive_harm",
    "sensitive_emergency",
    "alarm_body",
    "alarm_symptom",
    "harm_actors",
    "harm_adverbs",
    "harm_acts",
    "harm_games",
    "closing",
    "means",
    "means_amounts",
    "loss_endings",
    "hyperbole",
    "birth_news",
    "medical_relief",
    "relief_undone",
    "volunteer_asks",
    "arrival_bare",
    "markup",
    "assistant_speak",
    "blocked",
    "filler",
];

/// The parsed, validated catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    lexicons: HashMap<String, Vec<String>>,
    /// The clusters, in catalog order (a response's `cluster` indexes them).
    pub clusters: Vec<Cluster>,
    /// Every curated response.
    pub responses: Vec<Response>,
    /// The gate's trained word scorer, read beside the `sensitive_*` lexicons (the builtin
    /// catalog has the builtin table; a parsed catalog has none until
    /// [`Catalog::with_sensitive_words`]).
    pub sensitive_words: Option<SensitiveWords>,
    /// The learned cluster prior the drafter reads beside the acts (the builtin catalog has
    /// the builtin table; a parsed catalog has none until [`Catalog::with_cluster_prior`]).
    pub cluster_prior: Option<ClusterPrior>,
    /// What blind readers send, per cluster (the builtin catalog has the builtin table; a
    /// parsed catalog has none until [`Catalog::with_reader_acceptance`]).
    pub reader_acceptance: Option<ReaderAcceptance>,
}

/// The catalog built into the library (`catalog.txt`, packed by `build.rs`).
const BUILTIN: super::packed::Packed = super::packed::packed!("catalog.txt");

impl Catalog {
    /// The catalog built into the library (`reply/catalog.txt`, its word scorer and its
    /// cluster prior), parsed once.
    pub fn builtin() -> Result<&'static Catalog, CatalogError> {
        static C: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
        C.get_or_init(|| {
            let cat = Catalog::builtin_rules_uncached()?;
            let prior = ClusterPrior::parse(&cluster_prior::BUILTIN.text()?, &cat)?;
            let acceptance = ReaderAcceptance::parse(&reader_acceptance::BUILTIN.text()?, &cat)?;
            Ok(cat
                .with_cluster_prior(prior)
                .with_reader_acceptance(acceptance))
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// The built-in catalog without its cluster prior, parsed once: what the prior is
    /// trained from (`pocketlm train-reply-prior`). Drafters use [`Catalog::builtin`].
    pub fn builtin_rules() -> Result<&'static Catalog, CatalogError> {
        static C: OnceLock<Result<Catalog, CatalogError>> = OnceLock::new();
        C.get_or_init(Catalog::builtin_rules_uncached)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn builtin_rules_uncached() -> Result<Catalog, CatalogError> {
        let words = SensitiveWords::parse(&sensitive_words::BUILTIN.text()?)?;
        Ok(Catalog::parse(&BUILTIN.text()?)?.with_sensitive_words(words))
    }

    /// The catalog with `words` as the gate's word scorer.
    pub fn with_sensitive_words(mut self, words: SensitiveWords) -> Catalog {
        self.sensitive_words = Some(words);
        self
    }

    /// The catalog with `prior` as the drafter's cluster prior (parsed against this
    /// catalog's clusters).
    pub fn with_cluster_prior(mut self, prior: ClusterPrior) -> Catalog {
        self.cluster_prior = Some(prior);
        self
    }

    /// The catalog with `acceptance` as what blind readers send, per cluster.
    pub fn with_reader_acceptance(mut self, acceptance: ReaderAcceptance) -> Catalog {
        self.reader_acceptance = Some(acceptance);
        self
    }

    /// Parses and validates a catalog text (see the header of `catalog.txt`).
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let mut lexicons: HashMap<String, Vec<String>> = HashMap::new();
        let mut clusters: Vec<Cluster> = Vec::new();
        let mut raw: Vec<(usize, &str)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let err = |message: String| CatalogError { line: n, message };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("lexicon ") {
                let (name, list) = rest
                    .split_once('=')
                    .ok_or_else(|| err("a lexicon line is `lexicon NAME = a, b, c`".into()))?;
                let name = name.trim().to_owned();
                let mut entries = Vec::new();
                for p in list.split(',') {
                    // Markup and symbols are matched as lowercase substrings, not as words.
                    let p = p.trim();
                    let k = if p
                        .chars()
                        .any(|c| !(c.is_alphanumeric() || c == '\'' || c == ' '))
                    {
                        p.to_lowercase()
                    } else {
                        key(p)
                    };
                    if k.is_empty() {
                        return Err(err(format!("lexicon {name}: an empty entry")));
                    }
                    entries.push(k);
                }
                if lexicons.insert(name.clone(), entries).is_some() {
                    return Err(err(format!("lexicon {name} is defined twice")));
                }
            } else if let Some(rest) = line.strip_prefix("cluster ") {
                let mut it = rest.split_whitespace();
                let (Some(name), Some(stance), flag, None) =
                    (it.next(), it.next(), it.next(), it.next())
                else {
                    return Err(err("a cluster line is `cluster NAME STANCE [hedge]`".into()));
                };
                let hedge = match flag {
                    None => false,
                    Some("hedge") => true,
                    Some(f) => return Err(err(format!("unknown cluster flag {f:?}"))),
                };
                let stance = Stance::parse(stance)
                    .ok_or_else(|| err(format!("unknown stance {stance:?}")))?;
                if clusters.iter().any(|c| c.name == name) {
                    return Err(err(format!("cluster {name} is defined twice")));
                }
                clusters.push(Cluster {
                    name: name.to_owned(),
                    stance,
                    hedge,
                });
            } else {
                raw.push((n, line));
            }
        }
        let mut responses: Vec<Response> = Vec::new();
        for (n, line) in raw {
            let err = |message: String| CatalogError { line: n, message };
            let fields: Vec<&str> = line.split('|').map(str::trim).collect();
            if !(4..=5).contains(&fields.len()) {
                return Err(err(
                    "a response line is `TEXT | TONES | CLUSTER | ACTS [| NEEDS]`".into(),
                ));
            }
            let text = fields[0];
            if key(text).is_empty() {
                return Err(err("a response without words".into()));
            }
            let mut tones = [false; 3];
            for c in fields[1].chars() {
                match c {
                    'n' => tones[0] = true,
                    'c' => tones[1] = true,
                    'f' => tones[2] = true,
                    _ => return Err(err(format!("unknown tone letter {c:?} (use n, c, f)"))),
                }
            }
            let cluster = clusters
                .iter()
                .position(|c| c.name == fields[2])
                .ok_or_else(|| err(format!("unknown cluster {:?}", fields[2])))?;
            let (mut acts, mut preferred) = (Acts::default(), Acts::default());
            for a in fields[3].split_whitespace() {
                let (name, pref) = match a.strip_suffix('+') {
                    Some(x) => (x, true),
                    None => (a, false),
                };
                let act = Act::parse(name).ok_or_else(|| err(format!("unknown act {name:?}")))?;
                acts.insert(act);
                if pref {
                    preferred.insert(act);
                }
            }
            if acts.is_empty() {
                return Err(err("a response must answer at least one act".into()));
            }
            // A cue `@NAME` stands for every phrase of lexicon NAME.
            let mut needs: Vec<String> = Vec::new();
            for cue in fields.get(4).map(|f| f.split(',')).into_iter().flatten() {
                match cue.trim().strip_prefix('@') {
                    Some(name) => needs.extend(
                        lexicons
                            .get(name)
                            .ok_or_else(|| err(format!("unknown lexicon {name:?} in NEEDS")))?
                            .iter()
                            .cloned(),
                    ),
                    None => needs.extend(Some(key(cue)).filter(|k| !k.is_empty())),
                }
            }
            if fields.len() == 5 && needs.is_empty() {
                return Err(err("an empty NEEDS field (omit it instead)".into()));
            }
            for (t, _) in tones.iter().enumerate().filter(|(_, on)| **on) {
                if responses
                    .iter()
                    .any(|r| r.tones[t] && key(&r.text) == key(text))
                {
                    return Err(err(format!("{text:?} is listed twice for one tone")));
                }
            }
            responses.push(Response {
                text: text.to_owned(),
                tones,
                cluster,
                acts,
                preferred,
                needs,
            });
        }
        let end = text.lines().count();
        for name in REQUIRED_LEXICONS {
            if !lexicons.contains_key(*name) {
                return Err(CatalogError {
                    line: end,
                    message: format!("lexicon {name} is missing"),
                });
            }
        }
        for (i, c) in clusters.iter().enumerate() {
            if !responses.iter().any(|r| r.cluster == i) {
                return Err(CatalogError {
                    line: end,
                    message: format!("cluster {} has no response", c.name),
                });
            }
        }
        Ok(Catalog {
            lexicons,
            clusters,
            responses,
            sensitive_words: None,
            cluster_prior: None,
            reader_acceptance: None,
        })
    }

    /// A lexicon by name (empty if the catalog has none of that name; [`Catalog::parse`]
    /// guarantees the [`REQUIRED_LEXICONS`]).
    pub fn lexicon(&self, name: &str) -> &[String] {
        self.lexicons.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `padded` (see [`padded_key`]) contains one of the lexicon's phrases.
    pub fn has_any(&self, padded: &str, lexicon: &str) -> bool {
        self.lexicon(lexicon).iter().any(|p| has_phrase(padded, p))
    }

    /// Whether a single word is in the lexicon.
    pub fn contains(&self, lexicon: &str, word: &str) -> bool {
        self.lexicon(lexicon).iter().any(|w| w == word)
    }

    /// The responses of a tone, in catalog order.
    pub fn responses_for(&self, tone: Tone) -> impl Iterator<Item = (usize, &Response)> {
        self.responses
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.has_tone(tone))
    }

    /// Whether response `i` answers a message with these acts and words: one of its acts
    /// holds and, if it needs a cue, the message has one.
    pub fn fits(&self, i: usize, acts: &Acts, message: &str) -> bool {
        self.responses[i].acts.intersects(acts) && self.has_cue(i, message)
    }

    /// Whether the message has a cue response `i` needs (or it needs none).
    pub fn has_cue(&self, i: usize, message: &str) -> bool {
        let r = &self.responses[i];
        if r.needs.is_empty() {
            return true;
        }
        let padded = padded_key(message);
        r.needs.iter().any(|p| has_phrase(&padded, p))
    }

    /// Whether response `i` is a preferred answer to these acts (and fits).
    pub fn preferred(&self, i: usize, acts: &Acts, message: &str) -> bool {
        self.responses[i].preferred.intersects(acts) && self.fits(i, acts, message)
    }

    /// The response whose words equal `text`'s, in any tone.
    pub fn find(&self, text: &str) -> Option<usize> {
        let k = key(text);
        self.responses.iter().position(|r| key(&r.text) == k)
    }

    /// The cluster index of a reply text (a curated response, or generated text with the
    /// same words).
    pub fn cluster_of(&self, text: &str) -> Option<usize> {
        self.find(text).map(|i| self.responses[i].cluster)
    }

    /// The index of the cluster named `name`.
    pub fn cluster_by_name(&self, name: &str) -> Option<usize> {
        self.clusters.iter().position(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_every_key_resolves() {
        let c = Catalog::builtin().expect("the built-in catalog is valid");
        assert!(c.responses.len() > 150, "{}", c.responses.len());
        for name in REQUIRED_LEXICONS {
            assert!(!c.lexicon(name).is_empty(), "lexicon {name}");
        }
        // No cluster is empty (checked at parse; restated here per tone: neutral covers all).
        for (i, cl) in c.clusters.iter().enumerate() {
            assert!(
                c.responses.iter().any(|r| r.cluster == i),
                "cluster {}",
                cl.name
            );
        }
        // A reply's cluster is found by its words (`cluster_of`), so responses with the same
        // words are in the same cluster (casual "nice!" and neutral "Nice!" were not).
        for r in &c.responses {
            let i = c.find(&r.text).unwrap();
            assert_eq!(c.responses[i].cluster, r.cluster, "{}", r.text);
        }
        // Every response's preferred acts are acts it answers.
        for r in &c.responses {
            assert!(r.acts.contains_all(&r.preferred), "{}", r.text);
        }
        // Every tone has responses for greetings, thanks and a yes/no question.
        for tone in [Tone::Neutral, Tone::Casual, Tone::Formal] {
            for act in [Act::Greeting, Act::Thanks, Act::YesNo, Act::Request] {
                assert!(
                    c.responses_for(tone).any(|(_, r)| r.acts.has(act)),
                    "{tone:?} {act:?}"
                );
            }
        }
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let base = Catalog::builtin().unwrap();
        let _ = base;
        let e = Catalog::parse("cluster yes yes\nSure! | n | nope | yes_no\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown cluster"), "{e}");
        let e = Catalog::parse("cluster yes yes\nSure! | n | yes | frobnicate\n").unwrap_err();
        assert!(e.message.contains("unknown act"), "{e}");
        let e = Catalog::parse("cluster yes maybeish\n").unwrap_err();
        assert!(e.message.contains("unknown stance"), "{e}");
        let e = Catalog::parse("cluster yes yes\ncluster no no\nSure! | n | yes | yes_no\n")
            .unwrap_err();
        assert!(
            e.message.contains("lexicon") || e.message.contains("no response"),
            "{e}"
        );
        let e = Catalog::parse("cluster yes yes\nSure! | x | yes | yes_no\n").unwrap_err();
        assert!(e.message.contains("tone"), "{e}");
        let e = Catalog::parse("cluster yes yes\nSure! | n | yes | yes_no | @nope\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown lexicon"), "{e}");
    }

    #[test]
    fn needs_cues_gate_a_response() {
        let c = Catalog::builtin().unwrap();
        let i = c.find("Yes, I do.").unwrap();
        let acts = crate::reply::acts::read("Do you like pizza?");
        assert!(c.fits(i, &acts, "Do you like pizza?"));
        let acts = crate::reply::acts::read("Are you coming?");
        assert!(!c.fits(i, &acts, "Are you coming?"));
        // `@arrival` cues: every phrase of the arrival lexicon.
        let i = c.find("Be right there!").unwrap();
        let m = "I'm outside.";
        assert!(c.fits(i, &crate::reply::acts::read(m), m));
        let m = "I'm at work.";
        assert!(!c.fits(i, &crate::reply::acts::read(m), m));
        // Good nights answer going to bed, not any farewell.
        let i = c.find("Sleep well!").unwrap();
        for m in ["ok heading to bed", "gnight", "night!", "off to sleep"] {
            assert!(c.preferred(i, &crate::reply::acts::read(m), m), "{m}");
        }
        assert!(!c.fits(
            i,
            &crate::reply::acts::read("Bye, see you Monday"),
            "Bye, see you Monday"
        ));
        // A choice is answered with "Either works!", not with yes.
        let m = "tea or coffee?";
        assert!(c.preferred(
            c.find("Either works!").unwrap(),
            &crate::reply::acts::read(m),
            m
        ));
        assert!(!c.fits(c.find("Yes!").unwrap(), &crate::reply::acts::read(m), m));
    }

    #[test]
    fn claims_about_the_reader_and_wishes_get_their_own_answers() {
        let c = Catalog::builtin().unwrap();
        let fits = |t: &str, m: &str| c.fits(c.find(t).unwrap(), &crate::reply::acts::read(m), m);
        let pref =
            |t: &str, m: &str| c.preferred(c.find(t).unwrap(), &crate::reply::acts::read(m), m);
        // A claim about the reader is disputed or questioned, not apologized for; a
        // complaint is apologized for.
        for m in ["you are arrogant", "you need a psychiatrist"] {
            assert!(!fits("Sorry about that.", m), "{m}");
            assert!(fits("I disagree.", m), "{m}");
            assert!(pref("What makes you say that?", m), "{m}");
        }
        assert!(pref("Sorry about that.", "You forgot to pick me up!"));
        assert!(fits("Sorry about that.", "you make me mad"));
        // A wish for a shared time is returned; one naming the reader's own occasion is
        // thanked for.
        for m in [
            "Have a nice day!",
            "Enjoy your weekend!",
            "Have a lovely evening!",
        ] {
            assert!(pref("You too!", m), "{m}");
        }
        for m in [
            "Have a great trip!",
            "Have a safe flight!",
            "Good luck on your exam!",
        ] {
            assert!(!fits("You too!", m), "{m}");
            assert!(pref("Thanks!", m), "{m}");
        }
        // Asked to tell about something: three ways of asking what to tell.
        let m = "Tell me about your dreams";
        for t in [
            "What about it?",
            "Like what?",
            "Such as?",
            "Anything in particular?",
        ] {
            assert!(pref(t, m), "{t}");
        }
        // Concrete answers come before not knowing where they fit; not knowing is what a
        // plain wh-question gets.
        assert!(pref("How about my place?", "Where should we eat tonight?"));
        assert!(pref("Tomorrow works!", "When are you free this week?"));
        assert!(pref("Be there soon!", "How long until you get here?"));
        assert!(pref("No idea.", "who wrote the hobbit"));
        assert!(!pref("No idea.", "Where should we eat tonight?"));
        // Opinions are agreed with in several words; "Not much." is answered in kind.
        assert!(pref("You're right.", "Tea is better than coffee."));
        assert!(pref("Same here!", "Not much."));
        assert!(!fits("Glad to hear it!", "Not much."));
        // A short confirmation is acknowledged.
        assert!(pref("Okay!", "Yes I am."));
        assert!(!fits("Tell me more!", "Yes I am."));
        // A good status has three ways of being glad for it.
        let m = "I'm doing well.";
        for t in ["Glad to hear it!", "Good to hear!", "Great to hear!"] {
            assert!(pref(t, m), "{t}");
        }
    }
}
