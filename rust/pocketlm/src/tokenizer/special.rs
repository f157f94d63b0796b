//! Splitting text around special tokens before BPE/SPM, with llama.cpp's semantics
//! (`tokenizer_st_partition`): special tokens are tried one after another, longest text first;
//! each one takes its leftmost non-overlapping occurrences in the text that no earlier token
//! took. Control and unknown tokens take part only when `parse_special` is set; user-defined
//! tokens (Gemma's "\n\n", "  ", "`<td>`"...) always do.
//!
//! Instead of scanning the text once per special token (Gemma has 6.4k of them), all
//! occurrences are found in one pass over a sorted list of the token texts (a trie laid out as a
//! sorted array), then accepted in priority order.

use super::attr;
use super::table::Arena;

/// A piece of the input: raw text (byte range) or an already-resolved special token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fragment {
    Text(std::ops::Range<usize>),
    Token(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct SpecialMatcher {
    /// Special token ids sorted by their text's bytes.
    ids: Vec<u32>,
    /// Priority of each entry of `ids` (0 = tried first): longer text first, then lower id.
    prio: Vec<u32>,
    /// Whether an entry is control/unknown (only matched when `parse_special`).
    control: Vec<bool>,
    /// Bytes a special token can start with.
    first: [bool; 256],
    has_user_defined: bool,
}

#[derive(Debug, Clone, Copy)]
struct Occurrence {
    prio: u32,
    start: u32,
    len: u32,
    id: u32,
}

/// Reusable buffers for partitioning.
#[derive(Debug, Default)]
pub(crate) struct PartitionScratch {
    occ: Vec<Occurrence>,
    taken: Vec<bool>,
    accepted: Vec<(usize, usize, u32)>,
}

impl SpecialMatcher {
    /// `candidates`: the ids that are special (control, user-defined or unknown) and whose text
    /// is the canonical entry for that text. Texts that are empty or not UTF-8 are skipped (they
    /// could not split a `&str` safely).
    pub(crate) fn new(candidates: Vec<u32>, pieces: &Arena, attrs: &[u8]) -> Self {
        let mut by_prio: Vec<u32> = candidates
            .into_iter()
            .filter(|&id| {
                let t = pieces.get(id as usize);
                !t.is_empty() && std::str::from_utf8(t).is_ok()
            })
            .collect();
        // Longest first; ties in id order (llama.cpp's std::sort leaves ties unspecified).
        by_prio.sort_by(|&a, &b| {
            let (la, lb) = (pieces.get(a as usize).len(), pieces.get(b as usize).len());
            lb.cmp(&la).then(a.cmp(&b))
        });
        let mut prio_of: Vec<(u32, u32)> = by_prio
            .iter()
            .enumerate()
            .map(|(p, &id)| (id, p as u32))
            .collect();
        prio_of.sort_by(|a, b| pieces.get(a.0 as usize).cmp(pieces.get(b.0 as usize)));
        let mut m = SpecialMatcher {
            ids: Vec::with_capacity(prio_of.len()),
            prio: Vec::with_capacity(prio_of.len()),
            control: Vec::with_capacity(prio_of.len()),
            first: [false; 256],
            has_user_defined: false,
        };
        for (id, p) in prio_of {
            let a = attrs[id as usize];
            let control = a & (attr::CONTROL | attr::UNKNOWN) != 0;
            m.has_user_defined |= !control;
            m.first[pieces.get(id as usize)[0] as usize] = true;
            m.ids.push(id);
            m.prio.push(p);
            m.control.push(control);
        }
        m
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Calls `f(entry)` for every special token whose text starts `text` at `p`.
    fn matches_at(&self, pieces: &Arena, text: &[u8], p: usize, mut f: impl FnMut(usize)) {
        let (mut lo, mut hi) = (0usize, self.ids.len());
        let mut d = 0usize;
        let piece = |e: usize| pieces.get(self.ids[e] as usize);
        while p + d < text.len() {
            // Entries in [lo, hi) all start with text[p..p+d]; the one equal to it (if any)
            // sorts first and was reported already.
            while lo < hi && piece(lo).len() == d {
                lo += 1;
            }
            if lo == hi {
                break;
            }
            let b = text[p + d];
            let nlo = lo + self.ids[lo..hi].partition_point(|&id| pieces.get(id as usize)[d] < b);
            let nhi =
                nlo + self.ids[nlo..hi].partition_point(|&id| pieces.get(id as usize)[d] == b);
            lo = nlo;
            hi = nhi;
            d += 1;
            if lo == hi {
                break;
            }
            if piece(lo).len() == d {
                f(lo);
            }
        }
    }

    /// Splits `text` into raw-text and special-token fragments.
    pub(crate) fn partition(
        &self,
        pieces: &Arena,
        text: &str,
        parse_special: bool,
        s: &mut PartitionScratch,
        out: &mut Vec<Fragment>,
    ) {
        out.clear();
        if text.is_empty() {
            return;
        }
        if self.ids.is_empty() || (!parse_special && !self.has_user_defined) {
            out.push(Fragment::Text(0..text.len()));
            return;
        }
        let bytes = text.as_bytes();
        s.occ.clear();
        for p in 0..bytes.len() {
            if !self.first[bytes[p] as usize] {
                continue;
            }
            self.matches_at(pieces, bytes, p, |e| {
                if parse_special || !self.control[e] {
                    s.occ.push(Occurrence {
                        prio: self.prio[e],
                        start: p as u32,
                        len: pieces.get(self.ids[e] as usize).len() as u32,
                        id: self.ids[e],
                    });
                }
            });
        }
        if s.occ.is_empty() {
            out.push(Fragment::Text(0..text.len()));
            return;
        }
        // Token by token in priority order, each taking its occurrences left to right unless
        // they overlap text taken before (by this token or an earlier one).
        s.occ.sort_unstable_by_key(|o| (o.prio, o.start));
        s.taken.clear();
        s.taken.resize(bytes.len(), false);
        s.accepted.clear();
        for o in &s.occ {
            let r = o.start as usize..(o.start + o.len) as usize;
            if s.taken[r.clone()].iter().any(|&t| t) {
                continue;
            }
            s.taken[r.clone()].iter_mut().for_each(|t| *t = true);
            s.accepted.push((r.start, r.end, o.id));
        }
        s.accepted.sort_unstable();
        let mut pos = 0;
        for &(a, b, id) in &s.accepted {
            if a > pos {
                out.push(Fragment::Text(pos..a));
            }
            out.push(Fragment::Token(id));
            pos = b;
        }
        if pos < bytes.len() {
            out.push(Fragment::Text(pos..bytes.len()));
        }
    }
}
