//! A message as the reply drafter reads it: texting spelled out. Typographic apostrophes
//! made plain, stretched letters squeezed, texting spellings and ambiguous contractions
//! written out (the catalog's `texting` lexicon), emoji named (`emoji_words`), so the
//! catalog's cues, the gate and the word prior read "could u send me the pics tmrw" as
//! "could you send me the pics tomorrow".

use super::catalog::Catalog;

/// `message` as the drafter reads it: typographic apostrophes made plain (iOS keyboards
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
        // typographic apostrophes, stretched letters, contractions that read as other words
        assert_eq!(
            spelled_out("We\u{2019}re sooo hungry, whaaat", c),
            "we are so hungry, what"
        );
        assert_eq!(spelled_out("goood, sleeeep, zzz", c), "good, sleep, z");
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
}
