//! Byte-level BPE (GPT-2 style, `tokenizer.ggml.model = "gpt2"`), following llama.cpp's
//! `llm_tokenizer_bpe_session`: within each pre-tokenized word, start from one symbol per byte
//! and repeatedly merge the adjacent pair with the lowest merge rank (ties: leftmost first).
//!
//! Symbols carry token ids instead of strings: the vocabulary's byte-level text of a byte `b` is
//! the token `byte_tokens[b]`, and every merge was resolved at load time to
//! `(left id, right id) -> rank` and `rank -> merged id`.

use super::pretok::{self, SplitScratch};
use super::Tokenizer;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

pub(crate) const NO_TOKEN: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Sym {
    len: u32,
    prev: i32,
    next: i32,
    id: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bigram {
    rank: u32,
    left: u32,
    right: u32,
    left_len: u32,
    right_len: u32,
}

impl Ord for Bigram {
    /// `BinaryHeap` pops the maximum: make that the lowest rank, then the leftmost pair.
    fn cmp(&self, o: &Self) -> Ordering {
        o.rank.cmp(&self.rank).then(o.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Reusable buffers for BPE encoding.
#[derive(Debug, Default)]
pub(crate) struct BpeScratch {
    syms: Vec<Sym>,
    heap: BinaryHeap<Bigram>,
    encoded: Vec<u8>,
    escaped: String,
    split: SplitScratch,
}

/// Encodes one raw-text fragment (no special tokens inside) and appends the ids to `out`.
pub(crate) fn encode_fragment(tok: &Tokenizer, text: &str, s: &mut BpeScratch, out: &mut Vec<u32>) {
    let mut split = std::mem::take(&mut s.split);
    if tok.escape_spaces {
        // SentencePiece-style BPE (Gemma 4): spaces are "▁" before splitting and merging.
        let mut escaped = std::mem::take(&mut s.escaped);
        escaped.clear();
        for (i, part) in text.split(' ').enumerate() {
            if i > 0 {
                escaped.push('\u{2581}');
            }
            escaped.push_str(part);
        }
        pretok::split(&escaped, tok.pre, &mut split, |r| {
            encode_word(tok, &escaped.as_bytes()[r], s, out)
        });
        s.escaped = escaped;
    } else {
        pretok::split(text, tok.pre, &mut split, |r| {
            encode_word(tok, &text.as_bytes()[r], s, out)
        });
    }
    s.split = split;
}

fn encode_word(tok: &Tokenizer, word: &[u8], s: &mut BpeScratch, out: &mut Vec<u32>) {
    if word.is_empty() {
        return;
    }
    if tok.ignore_merges && tok.byte_level {
        // Llama 3: a word that is itself a token is taken whole.
        s.encoded.clear();
        let mut buf = [0u8; 4];
        for &b in word {
            s.encoded
                .extend_from_slice(pretok::byte_to_char(b).encode_utf8(&mut buf).as_bytes());
        }
        if let Some(id) = tok.map.get(&s.encoded, &tok.pieces) {
            out.push(id);
            return;
        }
    }
    s.syms.clear();
    if tok.byte_level {
        // One symbol per byte: its byte-level character's token.
        let n = word.len();
        s.syms.extend(word.iter().enumerate().map(|(i, &b)| Sym {
            len: 1,
            prev: i as i32 - 1,
            next: if i + 1 == n { -1 } else { i as i32 + 1 },
            id: tok.byte_tokens[b as usize],
        }));
    } else {
        // Raw UTF-8 (Gemma 4): a run of newlines that is a token is taken whole (llama.cpp's
        // fix for Gemma 4); otherwise one symbol per character.
        if tok.ignore_merges || word.iter().all(|&b| b == b'\n') {
            if let Some(id) = tok.map.get(word, &tok.pieces) {
                out.push(id);
                return;
            }
        }
        let mut off = 0usize;
        while off < word.len() {
            let len = utf8_len(word[off]).min(word.len() - off);
            let i = s.syms.len() as i32;
            s.syms.push(Sym {
                len: len as u32,
                prev: i - 1,
                next: if off + len == word.len() { -1 } else { i + 1 },
                id: tok
                    .map
                    .get(&word[off..off + len], &tok.pieces)
                    .unwrap_or(NO_TOKEN),
            });
            off += len;
        }
    }
    let n = s.syms.len();
    s.heap.clear();
    for i in 1..n {
        push_pair(tok, &s.syms, &mut s.heap, i as i32 - 1, i as i32);
    }
    while let Some(b) = s.heap.pop() {
        let (l, r) = (b.left as usize, b.right as usize);
        // Skip pairs made stale by an earlier merge (either side changed).
        if s.syms[l].len != b.left_len || s.syms[r].len != b.right_len {
            continue;
        }
        let right = s.syms[r];
        let left = &mut s.syms[l];
        left.len += right.len;
        left.id = tok.merges.merged(b.rank);
        left.next = right.next;
        s.syms[r].len = 0;
        if right.next >= 0 {
            s.syms[right.next as usize].prev = l as i32;
        }
        let (prev, next) = (s.syms[l].prev, s.syms[l].next);
        push_pair(tok, &s.syms, &mut s.heap, prev, l as i32);
        push_pair(tok, &s.syms, &mut s.heap, l as i32, next);
    }
    let mut i = 0i32;
    let mut start = 0usize;
    while i >= 0 {
        let sym = s.syms[i as usize];
        let bytes = &word[start..start + sym.len as usize];
        if sym.id != NO_TOKEN {
            out.push(sym.id);
        } else if tok.byte_level {
            // A byte whose byte-level character is not in the vocabulary: llama.cpp looks up
            // each byte of that character's UTF-8 as a one-byte token text.
            out.extend_from_slice(&tok.byte_fallback[bytes[0] as usize]);
        } else {
            // A character that is not a token: its bytes as `<0xXX>` tokens (skipping any the
            // vocabulary lacks, as llama.cpp does).
            out.extend(
                bytes
                    .iter()
                    .map(|&b| tok.byte_tokens[b as usize])
                    .filter(|&id| id != NO_TOKEN),
            );
        }
        start += sym.len as usize;
        i = sym.next;
    }
}

#[inline]
fn utf8_len(lead: u8) -> usize {
    match lead >> 4 {
        0xc | 0xd => 2,
        0xe => 3,
        0xf => 4,
        _ => 1,
    }
}

#[inline]
fn push_pair(tok: &Tokenizer, syms: &[Sym], heap: &mut BinaryHeap<Bigram>, l: i32, r: i32) {
    if l < 0 || r < 0 {
        return;
    }
    let (a, b) = (syms[l as usize], syms[r as usize]);
    if a.id == NO_TOKEN || b.id == NO_TOKEN {
        return;
    }
    if let Some(rank) = tok.merges.get(a.id, b.id) {
        heap.push(Bigram {
            rank,
            left: l as u32,
            right: r as u32,
            left_len: a.len,
            right_len: b.len,
        });
    }
}
