//! Per-model token tables, built once when a predictor is created: what each token does to a
//! word (starts one, continues one, ends one), its lower-cased bytes, and an index sorted by
//! those bytes so "tokens consistent with what was typed" is a binary search, never a scan with
//! allocation.

use super::text::{is_apostrophe, is_word_char};
use crate::kernels::OutputRows;
use crate::Model;
use std::sync::Arc;

/// What a token does to the word being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ends the current word without being part of it: whitespace other than a lone space,
    /// punctuation, symbols, control and end-of-generation tokens.
    Boundary,
    /// Exactly one space: may precede a word piece.
    Space,
    /// One space and word characters (" Hello"): starts a new word.
    WordStart,
    /// Word characters only ("llo", "'s"): starts a word where no space is needed, or continues
    /// the current one.
    Piece,
    /// Word characters followed by other characters ("ing,", " you?"): finishes a word. `space`
    /// tells whether it starts with one space; the word part is `word_len` bytes after it.
    Finisher { space: bool, word_len: u16 },
}

impl Kind {
    /// Whether this token continues a word that has begun (no leading space).
    pub fn continues(self) -> bool {
        matches!(self, Kind::Piece | Kind::Finisher { space: false, .. })
    }
}

/// The token tables of one model.
pub struct Vocab {
    kinds: Vec<Kind>,
    /// Lower-cased token bytes, concatenated; `offs[i]..offs[i + 1]` is token i.
    lower: Vec<u8>,
    offs: Vec<u32>,
    /// The model, whose tokenizer holds the bytes each token writes (not copied here: with
    /// a cache directory they are a mapped file's pages, 2.7 MiB for Gemma 3's 262k tokens).
    model: Arc<Model>,
    /// Ids of every token that can be part of a word (not `Boundary`), sorted by lower bytes.
    sorted: Vec<u32>,
    /// Ids of the tokens that continue a word.
    pub continuing: Vec<u32>,
    /// Ids of the tokens that may start a word (after a space, or with no space needed).
    pub starting: Vec<u32>,
    /// The output-head rows computed (`None`: all): `continuing` and `starting` only hold
    /// tokens among them.
    pub head: Option<Arc<OutputRows>>,
    /// With a restricted head: each token's column in the logits, `u32::MAX` if left out.
    slots: Vec<u32>,
}

/// Lower-cases token bytes: full Unicode lower-casing for valid UTF-8, ASCII-only otherwise
/// (a token may hold part of a multi-byte character).
/// Typographic apostrophes are folded to `'` (as `text::fold` folds what was typed).
fn lower_bytes(b: &[u8], out: &mut Vec<u8>) {
    match std::str::from_utf8(b) {
        Ok(s) => out.extend_from_slice(
            s.to_lowercase()
                .replace(super::text::TYPOGRAPHIC_APOSTROPHE, "'")
                .as_bytes(),
        ),
        Err(_) => out.extend(b.iter().map(|c| c.to_ascii_lowercase())),
    }
}

/// Length in bytes of the leading run of word bytes: word characters, apostrophes followed by a
/// word character (or at the start of a continuation, or at the token's end where the next
/// token may go on with the word: SentencePiece vocabularies spell "don't" as "don", "'",
/// "t"), and bytes of an incomplete UTF-8 sequence (part of a character split across tokens,
/// assumed to be a letter).
fn word_prefix_len(b: &[u8], at_word_start: bool) -> usize {
    let mut i = 0;
    while i < b.len() {
        let c0 = b[i];
        let need = match c0 {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => {
                // Continuation byte of a character that began in an earlier token.
                i += 1;
                continue;
            }
        };
        if i + need > b.len() {
            // Incomplete character at the end: part of the next token.
            return b.len();
        }
        let Some(c) = std::str::from_utf8(&b[i..i + need])
            .ok()
            .and_then(|s| s.chars().next())
        else {
            return i;
        };
        if is_word_char(c) {
            i += need;
        } else if is_apostrophe(c) {
            // An apostrophe continues a word when a word character follows it ("'s", "n't"),
            // never as the first character of a word that starts here.
            if at_word_start && i == 0 {
                return 0;
            }
            let next_is_word = std::str::from_utf8(&b[i + need..])
                .ok()
                .and_then(|s| s.chars().next())
                .is_some_and(is_word_char);
            if next_is_word || i + need == b.len() {
                i += need;
            } else {
                return i;
            }
        } else {
            return i;
        }
    }
    i
}

fn classify(bytes: &[u8], special: bool) -> Kind {
    if special || bytes.is_empty() {
        return Kind::Boundary;
    }
    if bytes == b" " {
        return Kind::Space;
    }
    let (space, rest) = match bytes.strip_prefix(b" ") {
        Some(r) => (true, r),
        None => (false, bytes),
    };
    if rest.is_empty() || rest[0].is_ascii_whitespace() {
        return Kind::Boundary;
    }
    let n = word_prefix_len(rest, space);
    if n == 0 {
        return Kind::Boundary;
    }
    if n == rest.len() {
        return if space { Kind::WordStart } else { Kind::Piece };
    }
    Kind::Finisher {
        space,
        word_len: n.min(u16::MAX as usize) as u16,
    }
}

impl Vocab {
    pub fn new(model: &Arc<Model>, n_vocab: usize) -> Self {
        let tok = model.tokenizer();
        let mut kinds = Vec::with_capacity(n_vocab);
        let mut lower = Vec::new();
        let mut offs = Vec::with_capacity(n_vocab + 1);
        offs.push(0u32);
        for id in 0..n_vocab as u32 {
            let special = id as usize >= tok.vocab_size()
                || tok.is_control(id)
                || tok.is_end_of_generation(id)
                || tok.is_user_defined(id);
            let b = if id as usize >= tok.vocab_size() {
                &[][..]
            } else {
                tok.token_bytes(id)
            };
            let kind = classify(b, special);
            kinds.push(kind);
            lower_bytes(b, &mut lower);
            offs.push(lower.len() as u32);
        }
        let mut v = Vocab {
            kinds,
            lower,
            offs,
            model: Arc::clone(model),
            sorted: Vec::new(),
            continuing: Vec::new(),
            starting: Vec::new(),
            head: None,
            slots: Vec::new(),
        };
        let mut sorted: Vec<u32> = (0..n_vocab as u32)
            .filter(|&t| v.kind(t) != Kind::Boundary)
            .collect();
        sorted.sort_by(|&a, &b| v.lower(a).cmp(v.lower(b)).then(a.cmp(&b)));
        v.sorted = sorted;
        v.continuing = (0..n_vocab as u32)
            .filter(|&t| v.kind(t).continues())
            .collect();
        v.starting = (0..n_vocab as u32)
            .filter(|&t| {
                matches!(
                    v.kind(t),
                    Kind::WordStart | Kind::Piece | Kind::Finisher { .. } | Kind::Space
                )
            })
            .collect();
        v
    }

    /// Restricts the logits to the output-head rows `head` (`None`: all rows).
    pub fn with_head(mut self, head: Option<OutputRows>) -> Self {
        if let Some(h) = &head {
            let mut slots = vec![u32::MAX; self.kinds.len()];
            for (i, &t) in h.ids().iter().enumerate() {
                if let Some(s) = slots.get_mut(t as usize) {
                    *s = i as u32;
                }
            }
            self.continuing.retain(|&t| slots[t as usize] != u32::MAX);
            self.starting.retain(|&t| slots[t as usize] != u32::MAX);
            self.slots = slots;
        }
        self.head = head.map(Arc::new);
        self
    }

    /// The column of token `id` in a logits row (`None`: its head row is not computed).
    #[inline]
    pub fn slot(&self, id: u32) -> Option<usize> {
        if self.head.is_none() {
            return Some(id as usize);
        }
        match self.slots.get(id as usize) {
            Some(&s) if s != u32::MAX => Some(s as usize),
            _ => None,
        }
    }

    pub fn kind(&self, id: u32) -> Kind {
        self.kinds
            .get(id as usize)
            .copied()
            .unwrap_or(Kind::Boundary)
    }

    /// Whether token `id` is a clitic ending a word after an apostrophe: "'t", "'s", "'m",
    /// "'re", "'ll", "'ve", "'d" (an apostrophe and one to three letters, no space). The
    /// word it ends almost never goes on, so the search may offer "don't" from the
    /// probabilities of "don" and "'t" without evaluating "don't" itself.
    pub fn is_clitic(&self, id: u32) -> bool {
        let l = self.lower(id);
        self.kind(id) == Kind::Piece
            && l.len() >= 2
            && l.len() <= 4
            && l[0] == b'\''
            && l[1..].iter().all(u8::is_ascii_alphabetic)
    }

    /// Lower-cased bytes of a token.
    pub fn lower(&self, id: u32) -> &[u8] {
        let i = id as usize;
        &self.lower[self.offs[i] as usize..self.offs[i + 1] as usize]
    }

    /// Bytes of a token as the model writes them.
    pub fn raw(&self, id: u32) -> &[u8] {
        let tok = self.model.tokenizer();
        if (id as usize) < tok.vocab_size() {
            tok.token_bytes(id)
        } else {
            &[]
        }
    }

    /// Word-capable tokens whose lower-cased bytes start with `prefix` (non-empty).
    pub fn with_prefix(&self, prefix: &[u8]) -> &[u32] {
        let lo = self.sorted.partition_point(|&t| self.lower(t) < prefix);
        let hi = lo + self.sorted[lo..].partition_point(|&t| self.lower(t).starts_with(prefix));
        &self.sorted[lo..hi]
    }

    /// Word-capable tokens whose lower-cased bytes equal `bytes`.
    pub fn exact(&self, bytes: &[u8]) -> &[u32] {
        let lo = self.sorted.partition_point(|&t| self.lower(t) < bytes);
        let hi = lo + self.sorted[lo..].partition_point(|&t| self.lower(t) == bytes);
        &self.sorted[lo..hi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(b" Hello", false), Kind::WordStart);
        assert_eq!(classify(b"llo", false), Kind::Piece);
        assert_eq!(classify(b"'s", false), Kind::Piece);
        assert_eq!(classify(b" 's", false), Kind::Boundary);
        assert_eq!(classify(b" ", false), Kind::Space);
        assert_eq!(classify(b"  ", false), Kind::Boundary);
        assert_eq!(classify(b"\n", false), Kind::Boundary);
        assert_eq!(classify(b",", false), Kind::Boundary);
        assert_eq!(classify(b" ,", false), Kind::Boundary);
        assert_eq!(
            classify(b"ing,", false),
            Kind::Finisher {
                space: false,
                word_len: 3
            }
        );
        assert_eq!(
            classify(b" you?", false),
            Kind::Finisher {
                space: true,
                word_len: 3
            }
        );
        // An apostrophe may go on with the word in the next token ("don", "'", "t"), never
        // start one.
        assert_eq!(classify(b"'", false), Kind::Piece);
        assert_eq!(classify(b" '", false), Kind::Boundary);
        assert_eq!(classify(b"',", false), Kind::Boundary);
        assert_eq!(classify("\u{2019}".as_bytes(), false), Kind::Piece);
        assert_eq!(classify(b"<s>", true), Kind::Boundary);
        assert_eq!(classify("é".as_bytes(), false), Kind::Piece);
        assert_eq!(classify(&"é".as_bytes()[..1], false), Kind::Piece);
        assert_eq!(classify("🍕".as_bytes(), false), Kind::Boundary);
    }
}
