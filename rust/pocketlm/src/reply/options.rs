//! Option chips: the two options an either/or question names, as replies that pick one
//! ("pizza or thai tonight?" → "Pizza!" / "Thai!"; "Is it the 4th or 5th you're booked in?"
//! → "The 4th." / "The 5th."). The catalog can only say "Either is fine!" or "I'm not sure."
//! to such a question, and SmolLM2-135M's own texts name an option rarely and seldom well
//! ("Tuesday." to "Wednesday or Thursday?"), so the options are read off the message.
//!
//! Mechanism only, the words are data: an option is the run of words next to the "or"
//! (`choice_words`) of a question sentence, at most [`MAX_OPTION_WORDS`], ended by
//! punctuation or by a word of the catalog lexicon `option_bounds` (verbs of asking,
//! pronouns, prepositions: "do you want", "for", "at"); the second mirrors the first's
//! length. A question that offers no options (`not_choice`: "or not", "or should I") gives
//! none; the reader's and the sender's words swap (`option_flips`: "mine or yours?" →
//! "Yours!" / "Mine!"). Sentence-final particles (`option_particles`: "March or June ah?")
//! end a word like punctuation and are dropped. A verb of the lexicon `option_bounds` first
//! after the "or" makes the alternative a clause ("take the job in Seattle or stay here",
//! "bring cupcakes or help at the stand"), whose words beside the "or" are no options: none.
//!
//! Options are parallel ([`parallel`]): an article inside the left run opens the option ("the
//! staff night out the 12th or the 19th" → "the 12th"), and a day or a month (`option_times`)
//! is a kind of option like a number, so a left run longer than the right that ends in one
//! ("this year March or June") is cut to it, and one beside an option of another kind
//! ("Sunday home or away", "trifle or cheesecake Sunday") is left out.

use super::catalog::Catalog;
use super::filter;

/// Longest option, in words ("the green dress").
pub const MAX_OPTION_WORDS: usize = 3;
/// Longest option, in characters.
const MAX_OPTION_CHARS: usize = 28;

/// A word of the message as written, with what surrounds it.
struct Word<'a> {
    /// The word without the punctuation around it ("11:30", "Mildred's").
    core: &'a str,
    /// Its key ([`filter::key`]): lowercase, no apostrophes.
    key: String,
    /// Punctuation ends it ("Tues," "window?" "(A").
    closes: bool,
    /// Punctuation opens it ("(A").
    opens: bool,
}

fn is_edge(c: char) -> bool {
    !(c.is_alphanumeric() || c == '\'' || c == '’')
}

/// The words of `sentence`; a particle of `option_particles` ("ah", "lah", "leh") is dropped
/// and ends the word before it, as a question mark would: "March or June ah?" reads as
/// "March or June?".
fn split_words<'a>(sentence: &'a str, cat: &Catalog) -> Vec<Word<'a>> {
    let mut out: Vec<Word<'a>> = Vec::new();
    for w in words_of(sentence) {
        if cat.contains("option_particles", &w.key) {
            if let Some(prev) = out.last_mut() {
                prev.closes = true;
            }
        } else {
            out.push(w);
        }
    }
    out
}

fn words_of(sentence: &str) -> impl Iterator<Item = Word<'_>> {
    sentence.split_whitespace().map(|raw| {
        let core = raw.trim_matches(is_edge);
        let closes = raw
            .trim_end_matches(['\'', '’'])
            .ends_with(|c: char| is_edge(c) && !c.is_whitespace());
        Word {
            core,
            key: filter::key(core),
            closes,
            opens: raw.starts_with(|c: char| is_edge(c)),
        }
    })
}

/// The question sentences of `message` (each ends with "?").
fn questions(message: &str) -> impl Iterator<Item = &str> {
    message
        .split_inclusive(['?', '!', '.', '\n'])
        .filter(|s| s.trim_end().ends_with('?'))
}

/// The two options named by the first either/or question of `message`, as written (the
/// reader's and sender's words swapped), or `None` when it names none.
pub fn alternatives(message: &str, cat: &Catalog) -> Option<[String; 2]> {
    questions(message).find_map(|q| in_question(q, cat))
}

fn in_question(question: &str, cat: &Catalog) -> Option<[String; 2]> {
    if cat.has_any(&filter::padded_key(question), "not_choice") {
        return None;
    }
    let ws = split_words(question, cat);
    let i = ws
        .iter()
        .position(|w| cat.contains("choice_words", &w.key))?;
    if i == 0 || i + 1 >= ws.len() || ws[i].opens {
        return None;
    }
    let bound = |w: &Word| w.core.is_empty() || cat.contains("option_bounds", &w.key);
    let article = |w: &&Word| cat.contains("option_articles", &w.key);
    let content = |ws: &[&Word]| ws.iter().filter(|w| !article(w)).count();
    // Left of "or": back to punctuation or a bound; a bound word alone first in the
    // sentence is an option itself ("in or out?").
    let mut first: Vec<&Word> = Vec::new();
    for j in (0..i).rev() {
        let w = &ws[j];
        if (j + 1 < i && w.closes) || content(&first) == MAX_OPTION_WORDS {
            break;
        }
        if bound(w) && !(j == 0 && first.is_empty() && !w.core.is_empty()) {
            break;
        }
        first.insert(0, w);
        if w.opens {
            break;
        }
    }
    // Right of "or": a preposition repeated from before the first option is not part of
    // the second ("at the cafe or at my place").
    let before = i.checked_sub(first.len() + 1).map(|j| &ws[j]);
    let mut k = i + 1;
    if let (Some(b), Some(w)) = (before, ws.get(k)) {
        if w.key == b.key && bound(w) {
            k += 1;
        }
    }
    // Up to punctuation ("the duck egg blue?"); cut short by a bound, as long as the first
    // ("curry goat or oxtail for Sunday").
    let mut second: Vec<&Word> = Vec::new();
    let mut closed = false;
    for w in &ws[k..] {
        let alone = second.is_empty() && k + 1 == ws.len() && i == 1;
        if (bound(w) && !alone) || content(&second) == MAX_OPTION_WORDS {
            break;
        }
        second.push(w);
        if w.closes {
            closed = true;
            break;
        }
    }
    if !closed {
        while content(&second) > content(&first).max(1) {
            second.pop();
        }
    }
    if first.is_empty() || second.is_empty() {
        return None;
    }
    let (first, second) = parallel(first, second, cat);
    // Like with like: a number against a number ("10 or 11:30"), not against a day; options
    // that open alike (a day against a day: "Friday morning 9ish or Monday after dinner") are
    // alike whatever they end with.
    let numeric = |ws: &[&Word]| {
        ws.last()
            .is_some_and(|w| kind(w, cat) == Some(Kind::Number))
    };
    let opens_alike = kind(first[0], cat).is_some() && kind(first[0], cat) == kind(second[0], cat);
    if numeric(&first) != numeric(&second) && !opens_alike {
        return None;
    }
    let (mut a, mut b) = (phrase(&first, cat), phrase(&second, cat));
    // "the 4th or 5th": both with the article (not "the italian place or thai").
    match (
        a.to_lowercase().starts_with("the "),
        b.to_lowercase().starts_with("the "),
    ) {
        (true, false) if first.len() == 2 && second.len() == 1 => b = format!("the {b}"),
        (false, true) if second.len() == 2 && first.len() == 1 => a = format!("the {a}"),
        _ => {}
    }
    let fits = |s: &str| s.chars().count() <= MAX_OPTION_CHARS;
    (fits(&a) && fits(&b) && filter::key(&a) != filter::key(&b)).then_some([a, b])
}

/// What kind of option a word makes: a number ("10", "11:30", "4th"), a day or month
/// (`option_times`), or neither.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Time,
}

fn kind(w: &Word, cat: &Catalog) -> Option<Kind> {
    if w.key.chars().any(|c| c.is_ascii_digit()) {
        Some(Kind::Number)
    } else if cat.contains("option_times", &w.key) {
        Some(Kind::Time)
    } else {
        None
    }
}

/// The two options made parallel. Coordinated options are phrases of one kind, so where
/// the two runs read beside the "or" are not, the longer one has taken words of the
/// question around them (the left run is read backwards up to a bound, which a time phrase
/// or a subject does not always meet):
/// - an article inside the left run opens the option ("the staff night out the 12th" → "the
///   12th"), the words before it being the question's;
/// - when the right run opens with a day, a month or a number, the left opens with the first
///   word of that kind in it ("come Friday morning or Monday after dinner" → "Friday
///   morning");
/// - when the left run has more words than the right and both end in a day or a month,
///   the left is that word ("this year March or June" → "March"; "the Crab Shack Thursday
///   or Friday" → "Thursday"): "this year" frames the options, it is no part of one;
/// - otherwise days and months at the outer edge of the longer run are dropped when the
///   other run names none ("Sunday home or away" → "home"; "trifle or cheesecake Sunday" →
///   "cheesecake"), a time of the question, not of an option.
///
/// Numbers are left as they are: "half 10 or 11" names "half 10", and a number facing a
/// word is refused later.
fn parallel<'w, 'a>(
    mut first: Vec<&'w Word<'a>>,
    mut second: Vec<&'w Word<'a>>,
    cat: &Catalog,
) -> (Vec<&'w Word<'a>>, Vec<&'w Word<'a>>) {
    let article = |w: &Word| cat.contains("option_articles", &w.key);
    let content = |ws: &[&Word]| ws.iter().filter(|w| !article(w)).count();
    let time = |w: &Word| kind(w, cat) == Some(Kind::Time);
    if let Some(j) = (1..first.len().saturating_sub(1))
        .rev()
        .find(|&j| article(first[j]))
    {
        first.drain(..j);
    }
    // The second option opens with a day, a month or a number: the first opens with its own
    // of that kind, the words before it being the question's ("I can come Friday morning or
    // Monday after dinner" → "Friday morning").
    if let Some(k) = kind(second[0], cat) {
        if let Some(j) = (1..first.len()).find(|&j| kind(first[j], cat) == Some(k)) {
            // With its article ("the 4th or 5th" → "the 4th").
            let j = if article(first[j - 1]) { j - 1 } else { j };
            first.drain(..j);
        }
    }
    let (n1, n2) = (content(&first), content(&second));
    if n1 > n2 {
        let ends_in_time = |ws: &[&Word]| ws.last().is_some_and(|w| time(w));
        if ends_in_time(&first) && ends_in_time(&second) {
            first.drain(..first.len() - 1);
        } else if !second.iter().any(|w| time(w)) {
            while content(&first) > content(&second) && first.first().is_some_and(|w| time(w)) {
                first.remove(0);
            }
        }
    } else if n2 > n1 && !first.iter().any(|w| time(w)) {
        while content(&second) > content(&first) && second.last().is_some_and(|w| time(w)) {
            second.pop();
        }
    }
    (first, second)
}

/// The words of an option joined, each of `option_flips` swapped ("my place" → "your place").
fn phrase(words: &[&Word], cat: &Catalog) -> String {
    words
        .iter()
        .map(|w| {
            cat.lexicon("option_flips")
                .iter()
                .filter_map(|e| e.split_once(':'))
                .find(|(from, _)| *from == w.key)
                .map_or_else(|| w.core.to_owned(), |(_, to)| to.to_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An option as a reply: capitalised, ending in `end` ("!" for a choice to make, "." for a
/// fact to tell).
pub fn chip(option: &str, end: char) -> String {
    let mut cs = option.chars();
    match cs.next() {
        Some(c) => format!("{}{}{end}", c.to_uppercase(), cs.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alt(m: &str) -> Option<[String; 2]> {
        alternatives(m, Catalog::builtin().unwrap())
    }

    fn pair(a: &str, b: &str) -> Option<[String; 2]> {
        Some([a.to_owned(), b.to_owned()])
    }

    #[test]
    fn options_are_the_words_beside_or() {
        assert_eq!(alt("pizza or thai tonight?"), pair("pizza", "thai"));
        assert_eq!(
            alt("Which day works better for our 1:1 this week, Tues or Thurs? My calendar is a disaster"),
            pair("Tues", "Thurs")
        );
        assert_eq!(
            alt("Which one for Rachel's wedding, the green dress or the black one?"),
            pair("the green dress", "the black one")
        );
        assert_eq!(
            alt("Dad, Mum's asking if you want curry goat or oxtail for Sunday?"),
            pair("curry goat", "oxtail")
        );
        assert_eq!(
            alt("Is it the 4th or 5th you're booked in for?"),
            pair("the 4th", "the 5th")
        );
        assert_eq!(
            alt("What time is mass on Sunday, 10 or 11:30?"),
            pair("10", "11:30")
        );
        assert_eq!(alt("Coorg trip is ON. in or out?"), pair("in", "out"));
        assert_eq!(
            alt("[photo] Which one for the hall Dad, the sage or the duck egg blue?"),
            pair("the sage", "the duck egg blue")
        );
        assert_eq!(
            alt("Mam cash or online payment?"),
            pair("cash", "online payment")
        );
        assert_eq!(
            alt("Should I bring wine or dessert?"),
            pair("wine", "dessert")
        );
        assert_eq!(
            alt("Where should we camp Friday, Big Sur or Pinnacles?"),
            pair("Big Sur", "Pinnacles")
        );
        assert_eq!(
            alt("fancy the italian place or thai tonight?"),
            pair("the italian place", "thai")
        );
    }

    #[test]
    fn the_readers_and_senders_words_swap() {
        assert_eq!(alt("meet at mine or yours?"), pair("yours", "mine"));
        assert_eq!(
            alt("Want to meet at the cafe or at my place?"),
            pair("the cafe", "your place")
        );
    }

    #[test]
    fn questions_that_name_no_options_give_none() {
        for m in [
            "u coming 2 the gym tmrw or nah",
            "Are you coming to the 2pm meeting or should I take notes for you?",
            "Is that 3pm Saturday still free or has someone nabbed it?",
            "Thinking of painting the lounge mustard yellow 😂 yay or nay?",
            "Would Tuesday at 10 or Wednesday at 2 work better?",
            "I'll call or text you later.",
            "Bro you coming today or what?",
        ] {
            assert_eq!(alt(m), None, "{m}");
        }
    }

    #[test]
    fn sentence_final_particles_end_an_option_like_punctuation() {
        assert_eq!(
            alt("Bro ICT this year March or June ah? I never see the letter yet"),
            pair("March", "June")
        );
        assert_eq!(alt("lunch at 12 or 1 lah?"), pair("12", "1"));
        assert_eq!(alt("kopi or teh leh?"), pair("kopi", "teh"));
    }

    #[test]
    fn options_are_parallel() {
        assert_eq!(
            alt("Want to meet for lunch at the Crab Shack Thursday or Friday?"),
            pair("Thursday", "Friday")
        );
        assert_eq!(
            alt("Is the match on Sunday home or away?"),
            pair("home", "away")
        );
        assert_eq!(
            alt("Shall I bring trifle or cheesecake Sunday?"),
            pair("trifle", "cheesecake")
        );
        assert_eq!(
            alt("Is the staff night out the 12th or the 19th?"),
            pair("the 12th", "the 19th")
        );
        assert_eq!(alt("practice at 8 or 9 sat?"), pair("8", "9"));
        assert_eq!(
            alt("I can come Friday morning or Monday after dinner, which suits?"),
            pair("Friday morning", "Monday after dinner")
        );
        assert_eq!(
            alt("I can come Friday morning 9ish or Monday after dinner, which suits?"),
            pair("Friday morning 9ish", "Monday after dinner")
        );
        // Kept: a longer option of another kind, a time on both sides, a number's words.
        assert_eq!(
            alt("Friday night or Saturday?"),
            pair("Friday night", "Saturday")
        );
        assert_eq!(
            alt("What time's the twins' vaccinations tmrw, is it 10 or half 10?"),
            pair("10", "half 10")
        );
        assert_eq!(
            alt("OK HENS vote time: Bath spa weekend or Brighton cocktails??"),
            pair("Bath spa weekend", "Brighton cocktails")
        );
    }

    #[test]
    fn a_clause_after_or_names_no_options() {
        for m in [
            "Hi parents! Could anyone bring cupcakes or help at the stand?",
            "Just wanted to say hi and ask if there's anything I should read or set up beforehand?",
            "Do you think I should take the job in Seattle or stay here? I keep going back and forth",
            "Do you want me to tube him or wait till you're back?",
        ] {
            assert_eq!(alt(m), None, "{m}");
        }
        // A verb alone on each side is still a choice.
        assert_eq!(alt("stay or go?"), pair("stay", "go"));
        assert_eq!(alt("train or drive on friday?"), pair("train", "drive"));
    }

    #[test]
    fn a_chip_is_capitalised_and_ended() {
        assert_eq!(chip("the 4th", '.'), "The 4th.");
        assert_eq!(chip("pizza", '!'), "Pizza!");
    }
}
