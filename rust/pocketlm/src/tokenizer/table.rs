//! Allocation-free lookup tables built once at load: a byte arena for token texts, an
//! open-addressing map from a token's bytes to its id, and a map from a BPE merge pair to its
//! rank. They replace `HashMap<String, u32>` (one heap string per token) so that loading a
//! 262k-token vocabulary costs a few flat allocations, and each is one or two flat arrays
//! ([`Flat`]) that can live in a cache file's map instead of the heap (`tables_file.rs`).

use memmap2::Mmap;
use std::ops::Deref;
use std::sync::Arc;

/// The storage of one flat table: built on the heap, or a range of a mapped cache file (clean
/// file pages, not the process's anonymous memory).
#[derive(Debug, Clone)]
pub(crate) enum Flat<T: bytemuck::Pod> {
    Heap(Vec<T>),
    Mapped {
        map: Arc<Mmap>,
        /// Byte offset of the first element (a multiple of `T`'s alignment; the map starts on
        /// a page).
        start: usize,
        len: usize,
    },
}

impl<T: bytemuck::Pod> Default for Flat<T> {
    fn default() -> Self {
        Self::Heap(Vec::new())
    }
}

impl<T: bytemuck::Pod> Flat<T> {
    /// `len` elements of `map` from byte `start`, if they are inside it and aligned.
    pub(crate) fn mapped(map: &Arc<Mmap>, start: usize, len: usize) -> Option<Self> {
        let end = len
            .checked_mul(std::mem::size_of::<T>())
            .and_then(|b| b.checked_add(start))?;
        let bytes = map.get(start..end)?;
        bytemuck::try_cast_slice::<u8, T>(bytes).ok()?;
        Some(Self::Mapped {
            map: Arc::clone(map),
            start,
            len,
        })
    }

    /// The elements to change, moved to the heap first if they were mapped.
    pub(crate) fn vec_mut(&mut self) -> &mut Vec<T> {
        if let Self::Mapped { .. } = self {
            *self = Self::Heap(self.to_vec());
        }
        match self {
            Self::Heap(v) => v,
            Self::Mapped { .. } => unreachable!("moved to the heap above"),
        }
    }

    /// Whether the elements live in a mapped file.
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Self::Mapped { .. })
    }
}

impl<T: bytemuck::Pod> Deref for Flat<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Self::Heap(v) => v,
            // In range and aligned: checked by `Flat::mapped`, and the map never changes.
            Self::Mapped { map, start, len } => {
                bytemuck::cast_slice(&map[*start..*start + *len * std::mem::size_of::<T>()])
            }
        }
    }
}

/// Multiplicative hash over 8-byte words (FxHash-style). The table index takes the *high* bits,
/// which a multiply mixes well.
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    h
}

/// Variable-length byte strings stored back to back; string `i` is `bytes[offs[i]..offs[i+1]]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arena {
    bytes: Flat<u8>,
    offs: Flat<u32>,
}

impl Arena {
    pub(crate) fn with_capacity(n_items: usize, n_bytes: usize) -> Self {
        let mut offs = Vec::with_capacity(n_items + 1);
        offs.push(0);
        Self {
            bytes: Flat::Heap(Vec::with_capacity(n_bytes)),
            offs: Flat::Heap(offs),
        }
    }

    /// An arena over stored parts, if they form one of `n` strings: `n + 1` offsets from 0,
    /// never decreasing, the last at the end of the bytes.
    pub(crate) fn from_parts(bytes: Flat<u8>, offs: Flat<u32>, n: usize) -> Option<Self> {
        let ok = offs.len() == n + 1
            && offs.first() == Some(&0)
            && offs.windows(2).all(|w| w[0] <= w[1])
            && offs.last().map(|&e| e as usize) == Some(bytes.len());
        ok.then_some(Self { bytes, offs })
    }

    /// The stored parts: the bytes and the `len() + 1` offsets.
    pub(crate) fn parts(&self) -> (&Flat<u8>, &Flat<u32>) {
        (&self.bytes, &self.offs)
    }

    /// Appends bytes to the string being built (finish it with [`Arena::end_item`]).
    #[inline]
    pub(crate) fn extend(&mut self, b: &[u8]) {
        self.bytes.vec_mut().extend_from_slice(b);
    }

    #[inline]
    pub(crate) fn push_byte(&mut self, b: u8) {
        self.bytes.vec_mut().push(b);
    }

    #[inline]
    pub(crate) fn end_item(&mut self) {
        let end = self.bytes.len() as u32;
        self.offs.vec_mut().push(end);
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        match (self.offs.get(i), self.offs.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.bytes[a as usize..b as usize],
            _ => &[],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.offs.len() - 1
    }

    pub(crate) fn total_bytes(&self) -> usize {
        self.bytes.len()
    }
}

const EMPTY: u64 = u64::MAX;

/// Slots per entry: a load factor of 2/3 keeps probe runs short while touching little fresh
/// memory at load (page faults, not hashing, dominate building a 262k-entry table).
#[inline]
fn capacity_for(n: usize) -> usize {
    (n.max(4) * 3 / 2).max(8)
}

/// Maps a 64-bit hash onto `[0, cap)` with a multiply (no power-of-two table needed).
#[inline]
fn reduce(h: u64, cap: usize) -> usize {
    (((h >> 32) * cap as u64) >> 32) as usize
}

/// Map from a token's bytes (kept in an [`Arena`]) to its id, with linear probing. Each slot
/// packs the low 32 bits of the key's hash with the id, so most misses never touch the arena.
#[derive(Debug, Clone, Default)]
pub(crate) struct PieceMap {
    slots: Flat<u64>,
}

impl PieceMap {
    /// Indexes every string of `arena` (string `i` gets id `i`; of equal strings the first id
    /// wins, like llama.cpp's `emplace`). Returns the map and whether duplicates were seen.
    pub(crate) fn build(arena: &Arena) -> (Self, bool) {
        let n = arena.len();
        let mut slots = vec![EMPTY; capacity_for(n)];
        let mut dup = false;
        for i in 0..n {
            let key = arena.get(i);
            dup |= !Self::insert_hashed(&mut slots, key, hash_bytes(key), i as u32, arena);
        }
        (
            Self {
                slots: Flat::Heap(slots),
            },
            dup,
        )
    }

    /// A map over stored slots, if they can index `n` strings: the table size `build` gives
    /// (so that probing always meets an empty slot) and ids below `n`.
    pub(crate) fn from_parts(slots: Flat<u64>, n: usize) -> Option<Self> {
        let ok = slots.len() == capacity_for(n)
            && slots.iter().filter(|&&s| s != EMPTY).count() <= n
            && slots
                .iter()
                .all(|&s| s == EMPTY || ((s & 0xffff_ffff) as usize) < n);
        ok.then_some(Self { slots })
    }

    /// The stored slots.
    pub(crate) fn parts(&self) -> &Flat<u64> {
        &self.slots
    }

    /// Inserts `id` for `key` (hash `h`) into `slots` unless the key is already present.
    /// Returns whether it was inserted.
    fn insert_hashed(slots: &mut [u64], key: &[u8], h: u64, id: u32, arena: &Arena) -> bool {
        let tag = (h ^ (h >> 32)) & 0xffff_ffff;
        let cap = slots.len();
        let mut i = reduce(h, cap);
        loop {
            let s = slots[i];
            if s == EMPTY {
                slots[i] = (tag << 32) | u64::from(id);
                return true;
            }
            if s >> 32 == tag && arena.get((s & 0xffff_ffff) as usize) == key {
                return false;
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, key: &[u8], arena: &Arena) -> Option<u32> {
        self.get_hashed(key, hash_bytes(key), arena)
    }

    /// The slot a lookup of hash `h` starts at (to warm the cache ahead of lookups).
    #[inline]
    pub(crate) fn first_slot(&self, h: u64) -> u64 {
        match self.slots.len() {
            0 => EMPTY,
            cap => self.slots[reduce(h, cap)],
        }
    }

    /// The id in that first slot, if its tag matches `h`.
    #[inline]
    pub(crate) fn first_candidate(&self, h: u64) -> Option<u32> {
        let s = self.first_slot(h);
        (s != EMPTY && s >> 32 == (h ^ (h >> 32)) & 0xffff_ffff).then_some(s as u32)
    }

    /// [`PieceMap::get`] with the key's hash already computed.
    #[inline]
    pub(crate) fn get_hashed(&self, key: &[u8], h: u64, arena: &Arena) -> Option<u32> {
        let cap = self.slots.len();
        if cap == 0 {
            return None;
        }
        let tag = (h ^ (h >> 32)) & 0xffff_ffff;
        let mut i = reduce(h, cap);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if s >> 32 == tag {
                let id = (s & 0xffff_ffff) as u32;
                if arena.get(id as usize) == key {
                    return Some(id);
                }
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }
}

/// Bits of a token id in a [`PairMap`] slot: ids up to 2^21 - 2 (the all-ones id marks an
/// empty slot).
pub(crate) const PAIR_ID_BITS: u32 = 21;
/// Bits of a merge rank in a [`PairMap`] slot.
pub(crate) const PAIR_RANK_BITS: u32 = 64 - 2 * PAIR_ID_BITS;
/// The largest vocabulary a [`PairMap`] indexes.
pub(crate) const PAIR_MAX_VOCAB: usize = (1 << PAIR_ID_BITS) - 1;
/// The most merges a [`PairMap`] holds.
pub(crate) const PAIR_MAX_MERGES: usize = 1 << PAIR_RANK_BITS;

/// Map from a pair of token ids `(left, right)` to the rank of its BPE merge, and from a rank
/// to the merged token. A slot is one `u64` packing the pair and the rank (8 bytes per slot
/// instead of a 16-byte key/value pair: a 280k-merge vocabulary's table takes 3.4 MB, not
/// 6.7 MB); the merged ids sit in a rank-indexed array that is read only when a merge is
/// applied.
#[derive(Debug, Clone, Default)]
pub(crate) struct PairMap {
    slots: Flat<u64>,
    merged: Flat<u32>,
    len: usize,
}

impl PairMap {
    /// Room for `n` merges (at most [`PAIR_MAX_MERGES`], ids below [`PAIR_MAX_VOCAB`]).
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            slots: Flat::Heap(vec![EMPTY; capacity_for(n)]),
            merged: Flat::Heap(Vec::with_capacity(n)),
            len: 0,
        }
    }

    /// A map over stored parts, if they index merges of a `n_vocab`-token vocabulary: the
    /// table size `with_capacity` gives for the merges (so that probing always meets an empty
    /// slot), one slot per distinct pair, ids below `n_vocab` and ranks below the merges.
    pub(crate) fn from_parts(slots: Flat<u64>, merged: Flat<u32>, n_vocab: usize) -> Option<Self> {
        let n = merged.len();
        let id_mask = (1u64 << PAIR_ID_BITS) - 1;
        let mut len = 0;
        for &s in slots.iter().filter(|&&s| s != EMPTY) {
            let rank = s & ((1 << PAIR_RANK_BITS) - 1);
            let (left, right) = (
                s >> (PAIR_RANK_BITS + PAIR_ID_BITS),
                (s >> PAIR_RANK_BITS) & id_mask,
            );
            if rank as usize >= n || left as usize >= n_vocab || right as usize >= n_vocab {
                return None;
            }
            len += 1;
        }
        let ok = (n == 0 && slots.is_empty() || slots.len() == capacity_for(n))
            && len <= n
            && merged.iter().all(|&m| (m as usize) < n_vocab);
        ok.then_some(Self { slots, merged, len })
    }

    /// The stored parts: the slots and the merged token of each rank.
    pub(crate) fn parts(&self) -> (&Flat<u64>, &Flat<u32>) {
        (&self.slots, &self.merged)
    }

    /// The pair's key: the two ids side by side, above the rank's bits.
    #[inline]
    fn key(left: u32, right: u32) -> u64 {
        (u64::from(left) << PAIR_ID_BITS) | u64::from(right)
    }

    #[inline]
    fn start(key: u64, cap: usize) -> usize {
        reduce(key.wrapping_mul(0x9e37_79b9_7f4a_7c15), cap)
    }

    /// The slot a lookup of `(left, right)` starts at (to warm the cache).
    #[inline]
    pub(crate) fn first_slot(&self, left: u32, right: u32) -> u64 {
        match self.slots.len() {
            0 => EMPTY,
            cap => self.slots[Self::start(Self::key(left, right), cap)],
        }
    }

    /// Records merge `rank` of `(left, right)` into `merged`, unless the pair is already
    /// present (the lowest rank wins, as in llama.cpp). Ranks come in order 0, 1, 2...;
    /// the caller keeps ids below [`PAIR_MAX_VOCAB`] and ranks below [`PAIR_MAX_MERGES`].
    pub(crate) fn insert_first(&mut self, left: u32, right: u32, rank: u32, merged: u32) {
        let r = rank as usize;
        let merged_of = self.merged.vec_mut();
        if merged_of.len() <= r {
            merged_of.resize(r + 1, u32::MAX);
        }
        merged_of[r] = merged;
        let key = Self::key(left, right);
        let slots = self.slots.vec_mut();
        let cap = slots.len();
        let mut i = Self::start(key, cap);
        loop {
            let s = slots[i];
            if s == EMPTY {
                slots[i] = (key << PAIR_RANK_BITS) | u64::from(rank);
                self.len += 1;
                return;
            }
            if s >> PAIR_RANK_BITS == key {
                return;
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    /// The rank of the merge of `(left, right)`, if there is one.
    #[inline]
    pub(crate) fn get(&self, left: u32, right: u32) -> Option<u32> {
        let cap = self.slots.len();
        if cap == 0 {
            return None;
        }
        let key = Self::key(left, right);
        let mut i = Self::start(key, cap);
        loop {
            let s = self.slots[i];
            if s == EMPTY {
                return None;
            }
            if s >> PAIR_RANK_BITS == key {
                return Some((s & ((1 << PAIR_RANK_BITS) - 1)) as u32);
            }
            i += 1;
            if i == cap {
                i = 0;
            }
        }
    }

    /// The token merge `rank` makes.
    #[inline]
    pub(crate) fn merged(&self, rank: u32) -> u32 {
        self.merged.get(rank as usize).copied().unwrap_or(u32::MAX)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_map_finds_inserted_and_keeps_first() {
        let mut arena = Arena::with_capacity(4, 16);
        for w in [&b"a"[..], b"hello world!", b"", b"a"] {
            arena.extend(w);
            arena.end_item();
        }
        let (map, dup) = PieceMap::build(&arena);
        assert!(dup);
        assert_eq!(map.get(b"a", &arena), Some(0));
        assert_eq!(map.get(b"hello world!", &arena), Some(1));
        assert_eq!(map.get(b"", &arena), Some(2));
        assert_eq!(map.get(b"b", &arena), None);
    }

    #[test]
    fn built_map_matches_sequential_inserts() {
        let mut arena = Arena::with_capacity(70_000, 0);
        for i in 0..70_000u32 {
            arena.extend(format!("t{}", i % 69_999).as_bytes());
            arena.end_item();
        }
        let (map, dup) = PieceMap::build(&arena);
        assert!(dup);
        for i in 0..69_999u32 {
            assert_eq!(map.get(format!("t{i}").as_bytes(), &arena), Some(i));
        }
        assert_eq!(map.get(b"t70000", &arena), None);
    }

    #[test]
    fn pair_map_keeps_lowest_rank() {
        let mut m = PairMap::with_capacity(3);
        m.insert_first(1, 2, 0, 10);
        m.insert_first(1, 2, 5, 11);
        m.insert_first(2, 1, 1, 12);
        assert_eq!(m.get(1, 2), Some(0));
        assert_eq!(m.merged(0), 10);
        assert_eq!(m.get(2, 1), Some(1));
        assert_eq!(m.merged(1), 12);
        assert_eq!(m.get(3, 1), None);
        assert_eq!(m.len(), 2);
        // the widest ids and ranks a slot holds
        let (id, rank) = (PAIR_MAX_VOCAB as u32 - 1, PAIR_MAX_MERGES as u32 - 1);
        let mut m = PairMap::with_capacity(1);
        m.insert_first(id, id - 1, rank, 7);
        assert_eq!(m.get(id, id - 1), Some(rank));
        assert_eq!(m.get(id - 1, id), None);
        assert_eq!(m.merged(rank), 7);
    }
}
