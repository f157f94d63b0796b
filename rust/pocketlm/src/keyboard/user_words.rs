//! The user dictionary: words the person added or that were learned from what they typed
//! (names, slang, words the model does not know), offered beside the model's words.
//!
//! Learning is count-based and deterministic: every word the caller reports as typed in full
//! (in a field where learning is allowed) advances a clock; a word the model would not have
//! offered at that point is counted, and becomes a user word once counted
//! [`UserWordOptions::learn_after`] times. Counts of learned words halve every
//! [`UserWordOptions::half_life_words`] reported words without the word, and a learned word whose
//! count decays to zero is forgotten. Added words never decay.
//!
//! The dictionary is stored by the app: [`UserDictionary::export`] gives bytes in a small
//! versioned format, [`UserDictionary::import`] validates them (hostile bytes give a typed
//! error, never a panic). The SDK writes no files.

use super::text;
use std::collections::HashMap;

/// Learning and ranking settings of the user dictionary (policy; the defaults say what set them).
#[derive(Debug, Clone, PartialEq)]
pub struct UserWordOptions {
    /// Typings in full (each time one the model would not have offered) before a word is
    /// learned. 2: a name typed twice is offered the third time (the user-words evaluation of
    /// `eval-keyboard --user-words` measures the second occurrence's savings with learning on).
    pub learn_after: u32,
    /// Reported words after which a learned word's count halves (about a week of messages).
    pub half_life_words: u64,
    /// Most words kept (added and learned together); bounds memory (~100 bytes a word).
    pub max_words: usize,
    /// Most a user word's score is raised over the model's estimate of it (natural log): a
    /// model word more than this much likelier stays above it.
    pub max_boost: f32,
    /// Learn from typed words at all.
    pub learning: bool,
}

impl Default for UserWordOptions {
    fn default() -> Self {
        Self {
            learn_after: 2,
            half_life_words: 2000,
            max_words: 2000,
            // e^4 ≈ 55×: enough to lift a learned name over the model's guesses for a rare
            // prefix, not over a word the model finds clearly likely ("the" after "in ").
            max_boost: 4.0,
            learning: true,
        }
    }
}

impl UserWordOptions {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.learn_after == 0 || self.learn_after > 100 {
            return Err(format!(
                "user_words.learn_after must be between 1 and 100, got {}",
                self.learn_after
            ));
        }
        if self.half_life_words == 0 {
            return Err("user_words.half_life_words must be at least 1".into());
        }
        if self.max_words == 0 || self.max_words > MAX_ENTRIES {
            return Err(format!(
                "user_words.max_words must be between 1 and {MAX_ENTRIES}, got {}",
                self.max_words
            ));
        }
        if !(0.0..=10.0).contains(&self.max_boost) {
            return Err(format!(
                "user_words.max_boost must be between 0 and 10, got {}",
                self.max_boost
            ));
        }
        Ok(())
    }
}

/// The kind of text field, as the caller knows it (Android `inputType`, iOS text traits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Ordinary text with suggestions: words may be learned.
    Text,
    /// A password (or any secure entry): never learned from.
    Password,
    /// Suggestions off (no-suggestions flag, e-mail, URL, numbers): never learned from.
    NoSuggestions,
}

/// What [`super::WordPredictor::learn_typed_word`] did with a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearnOutcome {
    /// Not learned from: password or no-suggestion field, or learning is off.
    FieldNotLearned,
    /// Not a word (punctuation, digits only, too long) or a blocked word.
    NotAWord,
    /// The model would have offered it: nothing to learn.
    ModelOffers,
    /// Counted; not yet a user word.
    Counted,
    /// Now (or still) a user word.
    Learned,
    /// The dictionary is full of added words.
    DictionaryFull,
}

impl LearnOutcome {
    /// A stable name for logs and JSON, e.g. `learned` or `model_offers`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FieldNotLearned => "field_not_learned",
            Self::NotAWord => "not_a_word",
            Self::ModelOffers => "model_offers",
            Self::Counted => "counted",
            Self::Learned => "learned",
            Self::DictionaryFull => "dictionary_full",
        }
    }
}

/// Why a user-dictionary call failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserWordsError {
    /// The text is not one word (1 to 40 letters or digits, no spaces).
    #[error("not a word for the dictionary: {0:?} (1 to 40 letters or digits, no spaces)")]
    InvalidWord(String),
    /// The dictionary holds `max_words` added words (learned words make room by themselves).
    #[error("the user dictionary is full ({0} words); remove some words first")]
    Full(usize),
    /// Bytes given to import are not an exported dictionary (truncated, corrupt, hostile).
    #[error("user dictionary bytes are not valid: {0}")]
    InvalidData(String),
    /// Bytes exported by a newer SDK.
    #[error("user dictionary format version {0} is not supported (this SDK reads version 1)")]
    UnsupportedVersion(u8),
}

/// Where a user word came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WordSource {
    /// Added by the person or the app; never decays.
    Added,
    /// Learned from typing; decays.
    Learned,
}

/// One word of the dictionary as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWord {
    /// The spelling offered (the latest added or typed).
    pub word: String,
    /// Added by the person or learned from typing.
    pub source: WordSource,
    /// Typings counted, after decay (0 for added words never typed).
    pub count: u32,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The spelling offered (the latest added or typed).
    word: String,
    source: WordSource,
    count: u32,
    /// Clock when last counted.
    last_seen: u64,
}

/// Format: magic, version, then little-endian fields (see [`UserDictionary::export`]).
const MAGIC: &[u8; 4] = b"PLUW";
const VERSION: u8 = 1;
/// Most entries a file may hold (and most `max_words`).
pub const MAX_ENTRIES: usize = 20_000;
/// Most bytes [`UserDictionary::import`] reads.
pub const MAX_IMPORT_BYTES: usize = 4 << 20;

/// The dictionary: words keyed by their lower-case form.
#[derive(Debug, Clone)]
pub struct UserDictionary {
    opts: UserWordOptions,
    entries: HashMap<String, Entry>,
    /// Words reported so far (the decay clock).
    clock: u64,
}

/// A user word that starts with the typed letters, for the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub word: String,
    /// Boost (natural log) over the model's estimate, at most `max_boost`.
    pub boost: f32,
}

fn valid_word(word: &str) -> Result<&str, UserWordsError> {
    let w = word.trim();
    let n = w.chars().count();
    if n == 0
        || n > text::MAX_WORD_CHARS
        || !text::is_whole_word(w)
        || !w.chars().any(char::is_alphabetic)
    {
        return Err(UserWordsError::InvalidWord(word.chars().take(64).collect()));
    }
    Ok(w)
}

impl UserDictionary {
    pub fn new(opts: UserWordOptions) -> Self {
        Self {
            opts,
            entries: HashMap::new(),
            clock: 0,
        }
    }

    #[cfg(test)]
    pub fn options(&self) -> &UserWordOptions {
        &self.opts
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The count of `e` after decay.
    fn decayed(&self, e: &Entry) -> u32 {
        if e.source == WordSource::Added {
            return e.count;
        }
        let halvings = (self.clock.saturating_sub(e.last_seen) / self.opts.half_life_words).min(32);
        e.count.checked_shr(halvings as u32).unwrap_or(0)
    }

    fn offered(&self, e: &Entry) -> bool {
        e.source == WordSource::Added || self.decayed(e) >= self.opts.learn_after
    }

    /// Adds a word (or marks a learned one as added). Errors for non-words and a full dictionary.
    pub fn add(&mut self, word: &str) -> Result<(), UserWordsError> {
        let w = valid_word(word)?;
        let key = w.to_lowercase();
        if let Some(e) = self.entries.get_mut(&key) {
            e.word = w.to_string();
            e.source = WordSource::Added;
            return Ok(());
        }
        self.make_room()?;
        self.entries.insert(
            key,
            Entry {
                word: w.to_string(),
                source: WordSource::Added,
                count: 0,
                last_seen: self.clock,
            },
        );
        Ok(())
    }

    /// Removes a word (any case); whether it was there.
    pub fn remove(&mut self, word: &str) -> bool {
        self.entries.remove(&word.trim().to_lowercase()).is_some()
    }

    /// The words offered as suggestions (added, and learned ones past the threshold), sorted
    /// case-insensitively.
    pub fn list(&self) -> Vec<UserWord> {
        let mut v: Vec<UserWord> = self
            .entries
            .values()
            .filter(|e| self.offered(e))
            .map(|e| UserWord {
                word: e.word.clone(),
                source: e.source,
                count: self.decayed(e),
            })
            .collect();
        v.sort_by(|a, b| {
            a.word
                .to_lowercase()
                .cmp(&b.word.to_lowercase())
                .then_with(|| a.word.cmp(&b.word))
        });
        v
    }

    #[cfg(test)]
    /// Whether `word` (any case) is offered now.
    pub fn contains(&self, word: &str) -> bool {
        self.entries
            .get(&word.trim().to_lowercase())
            .is_some_and(|e| self.offered(e))
    }

    /// Forgets every word.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.clock = 0;
    }

    /// Frees a slot: drops decayed-out learned words, then the weakest learned word.
    fn make_room(&mut self) -> Result<(), UserWordsError> {
        if self.entries.len() < self.opts.max_words {
            return Ok(());
        }
        self.prune();
        if self.entries.len() < self.opts.max_words {
            return Ok(());
        }
        let weakest = self
            .entries
            .iter()
            .filter(|(_, e)| e.source == WordSource::Learned)
            .min_by(|a, b| {
                (self.decayed(a.1), a.1.last_seen, a.0).cmp(&(
                    self.decayed(b.1),
                    b.1.last_seen,
                    b.0,
                ))
            })
            .map(|(k, _)| k.clone());
        match weakest {
            Some(k) => {
                self.entries.remove(&k);
                Ok(())
            }
            None => Err(UserWordsError::Full(self.opts.max_words)),
        }
    }

    /// Drops learned words whose count decayed to zero.
    pub fn prune(&mut self) {
        let clock = self.clock;
        let half = self.opts.half_life_words;
        self.entries.retain(|_, e| {
            e.source == WordSource::Added
                || e.count
                    .checked_shr(((clock - e.last_seen.min(clock)) / half).min(32) as u32)
                    .unwrap_or(0)
                    > 0
        });
    }

    /// Advances the decay clock by one reported word (every word typed in a learning field).
    pub fn tick(&mut self) {
        self.clock += 1;
        if self.clock.is_multiple_of(self.opts.half_life_words) {
            self.prune();
        }
    }

    /// Counts one typing in full of `word` that the model would not have offered (after
    /// [`Self::tick`]). The word must be valid (see [`Self::add`]).
    pub fn count_typed(&mut self, word: &str) -> LearnOutcome {
        let Ok(w) = valid_word(word) else {
            return LearnOutcome::NotAWord;
        };
        let key = w.to_lowercase();
        let clock = self.clock;
        if !self.entries.contains_key(&key) {
            if self.make_room().is_err() {
                return LearnOutcome::DictionaryFull;
            }
            self.entries.insert(
                key.clone(),
                Entry {
                    word: w.to_string(),
                    source: WordSource::Learned,
                    count: 0,
                    last_seen: clock,
                },
            );
        }
        let Some(e) = self.entries.get(&key) else {
            return LearnOutcome::DictionaryFull;
        };
        let count = self.decayed(e).saturating_add(1);
        let e = self.entries.get_mut(&key).expect("entry present");
        e.count = count;
        e.last_seen = clock;
        e.word = w.to_string();
        if self.offered(&self.entries[&key]) {
            LearnOutcome::Learned
        } else {
            LearnOutcome::Counted
        }
    }

    /// The offered words starting with `typed_lower` (lower case; empty: every word), with
    /// their boosts, longer than what is typed. A word typed more often gets more boost, up to
    /// `max_boost`; an added word gets the full boost.
    pub fn offers(&self, typed_lower: &str) -> Vec<Offer> {
        let mut out: Vec<Offer> = self
            .entries
            .iter()
            .filter(|(k, e)| {
                k.starts_with(typed_lower) && k.len() > typed_lower.len() && self.offered(e)
            })
            .map(|(_, e)| {
                let strength = match e.source {
                    WordSource::Added => 1.0,
                    WordSource::Learned => {
                        let c = self.decayed(e) as f32;
                        let need = self.opts.learn_after as f32;
                        // At the threshold three quarters of the boost, growing to all of it.
                        (0.75 + 0.25 * ((c - need) / need).clamp(0.0, 1.0)).min(1.0)
                    }
                };
                Offer {
                    word: e.word.clone(),
                    boost: self.opts.max_boost * strength,
                }
            })
            .collect();
        out.sort_by(|a, b| a.word.cmp(&b.word));
        out
    }

    /// The dictionary as bytes for the app to store:
    /// `"PLUW"`, version `1`, clock (u64), entry count (u32), then per entry: source (u8, 0
    /// added, 1 learned), count (u32), last seen (u64), word length (u8) and UTF-8 bytes; then
    /// an FNV-1a 32-bit checksum of everything before it. Integers are little-endian.
    pub fn export(&self) -> Vec<u8> {
        let mut keys: Vec<&String> = self.entries.keys().collect();
        keys.sort();
        let mut b = Vec::with_capacity(17 + keys.len() * 24 + 4);
        b.extend_from_slice(MAGIC);
        b.push(VERSION);
        b.extend_from_slice(&self.clock.to_le_bytes());
        b.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in keys {
            let e = &self.entries[k];
            b.push(match e.source {
                WordSource::Added => 0,
                WordSource::Learned => 1,
            });
            b.extend_from_slice(&e.count.to_le_bytes());
            b.extend_from_slice(&e.last_seen.to_le_bytes());
            b.push(e.word.len() as u8);
            b.extend_from_slice(e.word.as_bytes());
        }
        let sum = fnv1a(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b
    }

    /// Replaces the dictionary with the one in `bytes` (from [`Self::export`]). Nothing changes
    /// on error. More words than `max_words`: the strongest are kept.
    pub fn import(&mut self, bytes: &[u8]) -> Result<usize, UserWordsError> {
        let bad = |m: &str| UserWordsError::InvalidData(m.to_string());
        if bytes.len() > MAX_IMPORT_BYTES {
            return Err(bad("larger than 4 MiB"));
        }
        if bytes.len() < 4 + 1 + 8 + 4 + 4 || &bytes[..4] != MAGIC {
            return Err(bad("not a PocketLM user dictionary (bad header)"));
        }
        if bytes[4] != VERSION {
            return Err(UserWordsError::UnsupportedVersion(bytes[4]));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 4);
        if fnv1a(body) != u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]) {
            return Err(bad("checksum mismatch (truncated or corrupted)"));
        }
        let mut r = Reader { b: body, at: 5 };
        let clock = r.u64().ok_or_else(|| bad("truncated header"))?;
        let n = r.u32().ok_or_else(|| bad("truncated header"))? as usize;
        if n > MAX_ENTRIES {
            return Err(bad("too many entries"));
        }
        let mut entries: HashMap<String, Entry> = HashMap::with_capacity(n.min(4096));
        for _ in 0..n {
            let source = match r.u8().ok_or_else(|| bad("truncated entry"))? {
                0 => WordSource::Added,
                1 => WordSource::Learned,
                _ => return Err(bad("unknown word source")),
            };
            let count = r.u32().ok_or_else(|| bad("truncated entry"))?;
            let last_seen = r.u64().ok_or_else(|| bad("truncated entry"))?;
            if last_seen > clock {
                return Err(bad("entry seen after the dictionary's clock"));
            }
            let len = r.u8().ok_or_else(|| bad("truncated entry"))? as usize;
            let raw = r.take(len).ok_or_else(|| bad("truncated word"))?;
            let word = std::str::from_utf8(raw).map_err(|_| bad("word is not UTF-8"))?;
            if valid_word(word).ok() != Some(word) {
                return Err(bad("entry is not a valid word"));
            }
            let key = word.to_lowercase();
            if entries
                .insert(
                    key,
                    Entry {
                        word: word.to_string(),
                        source,
                        count,
                        last_seen,
                    },
                )
                .is_some()
            {
                return Err(bad("duplicate word"));
            }
        }
        if r.at != body.len() {
            return Err(bad("trailing bytes after the entries"));
        }
        self.entries = entries;
        self.clock = clock;
        self.prune();
        while self.entries.len() > self.opts.max_words {
            if self.make_room().is_err() {
                // Only added words left: keep the first `max_words` in order.
                let mut keys: Vec<String> = self.entries.keys().cloned().collect();
                keys.sort();
                for k in keys.into_iter().skip(self.opts.max_words) {
                    self.entries.remove(&k);
                }
            }
        }
        Ok(self.entries.len())
    }
}

/// The predictor's user-dictionary methods and its hook into the ranking.
impl super::WordPredictor {
    fn dictionary(&self) -> std::sync::MutexGuard<'_, UserDictionary> {
        self.user_words.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a word to the user dictionary (offered from now on; never decays).
    pub fn add_user_word(&self, word: &str) -> Result<(), UserWordsError> {
        self.dictionary().add(word)
    }

    /// Removes a word (any case) from the user dictionary; whether it was there.
    pub fn remove_user_word(&self, word: &str) -> bool {
        self.dictionary().remove(word)
    }

    /// The words the dictionary offers now, sorted.
    pub fn user_words(&self) -> Vec<UserWord> {
        self.dictionary().list()
    }

    /// Forgets every user word and every count.
    pub fn clear_user_words(&self) {
        self.dictionary().clear()
    }

    /// The user dictionary (with counts of words being learned) as bytes for the app to store.
    pub fn export_user_words(&self) -> Vec<u8> {
        self.dictionary().export()
    }

    /// Replaces the user dictionary with exported bytes; the number of words read. Nothing
    /// changes on error.
    pub fn import_user_words(&self, bytes: &[u8]) -> Result<usize, UserWordsError> {
        self.dictionary().import(bytes)
    }

    /// Learns from a word the person typed in full (not picked from the strip) after
    /// `text_before_word`, in a field of kind `field`. A word the model would have offered
    /// after half of its letters was in its easy reach and is not counted. Password and
    /// no-suggestion fields are never learned from. Costs one suggestion call (usually cached:
    /// those letters were just typed).
    pub fn learn_typed_word(
        &self,
        text_before_word: &str,
        word: &str,
        field: FieldKind,
    ) -> Result<LearnOutcome, super::KeyboardError> {
        if field != FieldKind::Text || !self.opts.user_words.learning {
            return Ok(LearnOutcome::FieldNotLearned);
        }
        let Ok(w) = valid_word(word) else {
            return Ok(LearnOutcome::NotAWord);
        };
        if self.blocklist.blocks(w) {
            return Ok(LearnOutcome::NotAWord);
        }
        self.dictionary().tick();
        let text_before_word = crate::input_bounds::keyboard_text(text_before_word);
        let n = w.chars().count();
        let half: String = w.chars().take(n.div_ceil(2)).collect();
        let lower = w.to_lowercase();
        let model = self.suggest_with(&format!("{text_before_word}{half}"), false)?;
        if model.items.iter().any(|s| s.word.to_lowercase() == lower) {
            return Ok(LearnOutcome::ModelOffers);
        }
        Ok(self.dictionary().count_typed(w))
    }

    /// The ranking hook: user words starting with the typed letters as (word, score,
    /// log-probability). The log-probability is the model's for the word's first token (an
    /// upper bound of the word's, free from the context's logits); the score adds the word's
    /// bounded boost, so a model word likelier by more than the boost stays above it.
    pub(super) fn user_word_candidates(
        &self,
        st: &mut super::State,
        ctx: &[u32],
        space: bool,
        typed_lower: &str,
    ) -> Vec<(String, f32, f32)> {
        let offers = self.dictionary().offers(typed_lower);
        if offers.is_empty() {
            return Vec::new();
        }
        if st.user_first_token.len() > 4 * self.opts.user_words.max_words {
            st.user_first_token.clear();
        }
        let tok = self.model.tokenizer();
        let mut out = Vec::with_capacity(offers.len());
        for o in offers {
            let first = *st
                .user_first_token
                .entry((o.word.clone(), space))
                .or_insert_with(|| {
                    let t = if space {
                        format!(" {}", o.word)
                    } else {
                        o.word.clone()
                    };
                    tok.encode(&t, false, false).first().copied()
                });
            let Some(first) = first else { continue };
            let Some(node) = st.engine.node(ctx) else {
                return out;
            };
            let lp = node.lp(&self.vocab, first);
            out.push((o.word, lp + o.boost, lp));
        }
        out
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap_or([0; 4])))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    }
}

fn fnv1a(b: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &x in b {
        h ^= u32::from(x);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict() -> UserDictionary {
        UserDictionary::new(UserWordOptions {
            half_life_words: 10,
            max_words: 4,
            ..UserWordOptions::default()
        })
    }

    #[test]
    fn add_list_remove() {
        let mut d = dict();
        d.add("Zorblat").unwrap();
        d.add("  kthx ").unwrap();
        assert_eq!(
            d.add("two words"),
            Err(UserWordsError::InvalidWord("two words".into()))
        );
        assert!(d.add("1234").is_err());
        assert!(d.add("").is_err());
        let l: Vec<String> = d.list().into_iter().map(|w| w.word).collect();
        assert_eq!(l, ["kthx", "Zorblat"]);
        assert!(d.contains("ZORBLAT"));
        assert!(d.remove("zorblat"));
        assert!(!d.remove("zorblat"));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn learning_needs_the_threshold_and_decays() {
        let mut d = dict();
        d.tick();
        assert_eq!(d.count_typed("Quenby"), LearnOutcome::Counted);
        assert!(!d.contains("Quenby"));
        assert!(d.offers("que").is_empty());
        d.tick();
        assert_eq!(d.count_typed("Quenby"), LearnOutcome::Learned);
        assert!(d.contains("quenby"));
        assert_eq!(d.offers("que").len(), 1);
        // One half-life without it: count 2 → 1, below the threshold, no longer offered.
        for _ in 0..10 {
            d.tick();
        }
        assert!(!d.contains("Quenby"));
        // Another: count 0, forgotten.
        for _ in 0..10 {
            d.tick();
        }
        d.prune();
        assert_eq!(d.len(), 0);
        // Added words never decay.
        d.add("Zorblat").unwrap();
        for _ in 0..100 {
            d.tick();
        }
        assert!(d.contains("Zorblat"));
    }

    #[test]
    fn full_dictionary_evicts_learned_words_then_refuses() {
        let mut d = dict();
        for w in ["aa", "bb", "cc"] {
            d.add(w).unwrap();
        }
        d.tick();
        d.count_typed("dd");
        d.tick();
        assert_eq!(d.len(), 4);
        // A new learned candidate replaces the weakest learned one.
        assert_eq!(d.count_typed("ee"), LearnOutcome::Counted);
        assert_eq!(d.len(), 4);
        d.add("ff").unwrap();
        assert_eq!(d.add("gg"), Err(UserWordsError::Full(4)));
        assert_eq!(d.count_typed("hh"), LearnOutcome::DictionaryFull);
    }

    #[test]
    fn boost_is_bounded_and_offers_need_more_than_the_typed_letters() {
        let mut d = dict();
        d.add("Zorblat").unwrap();
        let o = d.offers("zor");
        assert_eq!(o.len(), 1);
        assert!(o[0].boost <= d.options().max_boost && o[0].boost > 0.0);
        assert!(d.offers("zorblat").is_empty());
        assert!(d.offers("zx").is_empty());
        assert_eq!(d.offers("").len(), 1);
    }

    #[test]
    fn export_import_round_trip() {
        let mut d = dict();
        d.add("Zorblat").unwrap();
        d.add("Ünïcødé").unwrap();
        d.tick();
        d.count_typed("Quenby");
        d.tick();
        d.count_typed("Quenby");
        let bytes = d.export();
        let mut e = dict();
        assert_eq!(e.import(&bytes).unwrap(), 3);
        assert_eq!(e.list(), d.list());
        assert_eq!(e.export(), bytes);
    }

    #[test]
    fn hostile_bytes_are_typed_errors() {
        let mut d = dict();
        d.add("Zorblat").unwrap();
        let good = d.export();
        let mut e = dict();
        e.add("keep").unwrap();
        // Every truncation and every single-byte corruption is rejected without a panic.
        for n in 0..good.len() {
            assert!(e.import(&good[..n]).is_err(), "truncated at {n}");
        }
        for i in 0..good.len() {
            for x in [0x00u8, 0xff, 0x01, 0x80] {
                let mut b = good.clone();
                if b[i] == x {
                    continue;
                }
                b[i] = x;
                assert!(e.import(&b).is_err(), "byte {i} = {x}");
            }
        }
        assert!(matches!(
            e.import(b"nope"),
            Err(UserWordsError::InvalidData(_))
        ));
        let mut v2 = good.clone();
        v2[4] = 2;
        assert_eq!(e.import(&v2), Err(UserWordsError::UnsupportedVersion(2)));
        // A well-formed file that claims a huge count.
        let mut huge = good[..13].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        let s = fnv1a(&huge);
        huge.extend_from_slice(&s.to_le_bytes());
        assert!(e.import(&huge).is_err());
        // Nothing changed.
        assert!(e.contains("keep") && e.len() == 1);
    }
}
