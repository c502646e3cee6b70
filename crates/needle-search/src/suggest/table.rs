//! The suggestion table: every entity's folded name key, display name, popularity,
//! markets and taste features by ordinal, and the word-start suffixes of the keys in
//! sorted order (a large `base` run plus a small sorted `delta` of recent changes, merged
//! into the base when it grows), with the largest popularity of each block of the base.
//!
//! Kept current by the engine's writer thread: an upsert whose key is unchanged is
//! updated in place; a changed key gets a new ordinal (the old one is marked dead and its
//! base entries skipped until the next merge); a delete marks the ordinal dead.

use needle_core::{Entity, EntityType};
use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

/// Entries per block of the base (the unit of popularity bounds).
pub(crate) const BLOCK: usize = 64;
/// Word starts of a name that are completed (the first five words).
const MAX_STARTS: usize = 5;
/// Longest key kept, bytes (cut at a character boundary).
const MAX_KEY_BYTES: usize = 128;
/// Taste features kept per entity.
const MAX_FEATURES: usize = 6;

/// One suffix of a key: the entity's ordinal and the byte offset of a word start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub ord: u32,
    pub off: u16,
}

/// The folded key of a text: lowercased, diacritics folded, every run of non-word
/// characters one space, and a trailing space when the text ends a word (`complete`).
pub fn key_of(text: &str, complete: bool) -> String {
    let folded = needle_core::text::fold(text);
    let mut out = String::with_capacity(folded.len() + 1);
    let mut gap = false;
    for c in folded.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    if (complete || gap) && !out.is_empty() {
        out.push(' ');
    }
    out
}

fn cut(mut k: String) -> String {
    if k.len() > MAX_KEY_BYTES {
        let mut end = MAX_KEY_BYTES;
        while !k.is_char_boundary(end) {
            end -= 1;
        }
        k.truncate(end);
    }
    k
}

/// Hash of a taste feature: `i` + item id, `c` + creator id, `t` + folded tag.
pub fn feature(kind: u8, value: &str) -> u64 {
    let mut b = Vec::with_capacity(value.len() + 1);
    b.push(kind);
    b.extend_from_slice(value.as_bytes());
    xxh3_64(&b)
}

fn market_code(m: &str) -> u16 {
    let b = m.as_bytes();
    if b.len() == 2 {
        u16::from_be_bytes([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
    } else {
        0
    }
}

/// Whether a slot's entity is in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Live,
    /// Deleted or replaced: its base entries are skipped until the next merge drops them.
    Dead,
    /// Dropped by a merge: nothing of it is left.
    Gone,
}

/// What the table knows of one entity, by ordinal: where its bytes are in
/// [`Table::bytes`] (key, display name, id, then features as 8-byte and market codes as
/// 2-byte little-endian values), and the fields ranking reads. 24 bytes; one `Item` with
/// its own allocations per entity took about 150 at a million entities (BENCHMARKS §9.4).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// Where the entity's bytes start.
    at: u32,
    /// Ends, from `at`: of the key (where the name starts), the name, the id, the features,
    /// the markets.
    key_end: u16,
    name_end: u16,
    id_end: u16,
    feat_end: u16,
    end: u16,
    /// `ln(1 + popularity)`.
    pop: f32,
    kind: EntityType,
    state: State,
    /// Sold only in the markets stored (else everywhere).
    has_markets: bool,
}

/// One entity of the table, as ranking sees it.
#[derive(Clone, Copy)]
pub(crate) struct Item<'a> {
    slot: &'a Slot,
    bytes: &'a [u8],
    /// `ln(1 + popularity)`.
    pub pop: f32,
    pub kind: EntityType,
    /// Deleted or replaced: its base entries are skipped until the next merge drops them.
    pub dead: bool,
}

impl<'a> Item<'a> {
    fn part(&self, from: u16, to: u16) -> &'a [u8] {
        let at = self.slot.at as usize;
        &self.bytes[at + from as usize..at + to as usize]
    }

    fn text(&self, from: u16, to: u16) -> &'a str {
        // Written from `&str`s cut at character boundaries: never fails.
        std::str::from_utf8(self.part(from, to)).unwrap_or("")
    }

    /// The folded key.
    pub fn key(&self) -> &'a str {
        self.text(0, self.slot.key_end)
    }

    /// The display name.
    pub fn name(&self) -> &'a str {
        self.text(self.slot.key_end, self.slot.name_end)
    }

    /// The entity id.
    pub fn id(&self) -> &'a str {
        self.text(self.slot.name_end, self.slot.id_end)
    }

    /// Its taste features ([`feature`] hashes).
    pub fn features(&self) -> impl Iterator<Item = u64> + 'a {
        self.part(self.slot.id_end, self.slot.feat_end)
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// Sold in `market` (entities without markets are everywhere).
    pub fn in_market(&self, market: Option<u16>) -> bool {
        match market {
            Some(m) if self.slot.has_markets => self
                .part(self.slot.feat_end, self.slot.end)
                .chunks_exact(2)
                .any(|b| u16::from_le_bytes([b[0], b[1]]) == m),
            _ => true,
        }
    }
}

/// The bytes of `e` as a slot stores them, and the slot (its `at` still to be set); `None`
/// when the name has no word to complete.
fn encode(e: &Entity) -> Option<(Vec<u8>, Slot)> {
    let key = cut(key_of(&e.name, true));
    if key.is_empty() {
        return None;
    }
    let mut features: Vec<u64> = e
        .artist_ids
        .iter()
        .chain(e.show_id.iter())
        .chain(e.audiobook_id.iter())
        .map(|c| feature(b'c', c))
        .collect();
    features.extend(
        e.tags
            .iter()
            .map(|t| feature(b't', &needle_core::text::words(t).join(" "))),
    );
    features.truncate(MAX_FEATURES);
    let markets = e.markets.as_deref().unwrap_or_default();
    let mut b = Vec::with_capacity(key.len() + e.name.len() + e.id.len() + features.len() * 8 + markets.len() * 2);
    let end = |b: &Vec<u8>| u16::try_from(b.len()).ok();
    b.extend_from_slice(key.as_bytes());
    let key_end = end(&b)?;
    b.extend_from_slice(e.name.as_bytes());
    let name_end = end(&b)?;
    b.extend_from_slice(e.id.as_bytes());
    let id_end = end(&b)?;
    for f in &features {
        b.extend_from_slice(&f.to_le_bytes());
    }
    let feat_end = end(&b)?;
    for m in markets {
        b.extend_from_slice(&market_code(m).to_le_bytes());
    }
    let all = end(&b)?;
    let slot = Slot {
        at: 0,
        key_end,
        name_end,
        id_end,
        feat_end,
        end: all,
        pop: e.popularity.unwrap_or(0.0).max(0.0).ln_1p() as f32,
        kind: e.entity_type(),
        state: State::Live,
        has_markets: e.markets.is_some(),
    };
    Some((b, slot))
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Table {
    /// By ordinal.
    slots: Vec<Slot>,
    /// The slots' bytes, end to end.
    bytes: Vec<u8>,
    /// Bytes of `bytes` no slot refers to any more (replaced or dropped entities): the
    /// buffer is rewritten without them when they are half of it.
    garbage: usize,
    /// Live ordinal by id hash ([`id_hash`]); ids whose hash another live id holds go to
    /// `collided`.
    by_id: HashMap<u32, u32>,
    collided: HashMap<u32, Vec<u32>>,
    pub base: Vec<Entry>,
    /// Largest `pop` per [`BLOCK`] of `base` (an upper bound: raised, never lowered).
    pub block_max: Vec<f32>,
    pub delta: Vec<Entry>,
    /// Largest `pop` ever seen (normalises popularity).
    pub max_pop: f32,
    /// Entries of dead items still in `base` or `delta` (dropped by the next merge).
    dead_entries: usize,
    /// `delta` received entries out of order (a batch): sorted before any read or merge.
    unsorted: bool,
}

/// Least garbage worth rewriting the byte buffer for.
const MIN_GARBAGE: usize = 1 << 20;

impl Table {
    /// The entity of ordinal `ord`, dead ones included; `None` once a merge dropped it.
    pub fn item(&self, ord: u32) -> Option<Item<'_>> {
        let slot = self.slots.get(ord as usize)?;
        (slot.state != State::Gone).then_some(Item {
            slot,
            bytes: &self.bytes,
            pop: slot.pop,
            kind: slot.kind,
            dead: slot.state == State::Dead,
        })
    }

    fn live(&self, ord: u32) -> Option<Item<'_>> {
        self.item(ord).filter(|it| !it.dead)
    }

    /// The key of an entry.
    pub fn key(&self, e: Entry) -> &[u8] {
        match self.slots.get(e.ord as usize) {
            Some(s) if s.state != State::Gone => {
                let at = s.at as usize;
                self.bytes
                    .get(at + e.off as usize..at + s.key_end as usize)
                    .unwrap_or_default()
            }
            _ => b"",
        }
    }

    /// Add an entity without keeping the order (a build: [`Table::sort_all`] follows).
    pub fn push_unsorted(&mut self, e: &Entity) {
        self.insert_item(e, false);
    }

    /// Sort everything added into the base.
    pub fn sort_all(&mut self) {
        let mut all = std::mem::take(&mut self.delta);
        all.extend(std::mem::take(&mut self.base));
        all.sort_unstable_by(|a, b| self.key(*a).cmp(self.key(*b)));
        all.shrink_to_fit();
        self.base = all;
        self.slots.shrink_to_fit();
        self.bytes.shrink_to_fit();
        self.reblock();
    }

    /// The ordinal of a live entity.
    fn find(&self, id: &str) -> Option<u32> {
        let h = id_hash(id);
        let live = |o: &u32| self.live(*o).is_some_and(|it| it.id() == id);
        self.by_id
            .get(&h)
            .copied()
            .filter(live)
            .or_else(|| self.collided.get(&h)?.iter().copied().find(live))
    }

    /// Store `bytes` for `slot`: its `at`. `None` when the buffer would pass 4 GiB (tens of
    /// millions of entities): the entity is then not suggested.
    fn store(&mut self, bytes: &[u8]) -> Option<u32> {
        let at = u32::try_from(self.bytes.len()).ok()?;
        u32::try_from(self.bytes.len() + bytes.len()).ok()?;
        self.bytes.extend_from_slice(bytes);
        Some(at)
    }

    /// Insert or replace an entity; `sorted`: keep the delta in order at once (single
    /// changes), or leave it to [`Table::finish_batch`] (many changes: one sort).
    pub fn upsert(&mut self, e: &Entity, sorted: bool) {
        if let Some(ord) = self.find(&e.id) {
            let Some((bytes, mut new)) = encode(e) else {
                self.kill(ord);
                return;
            };
            let same_key = self
                .item(ord)
                .is_some_and(|old| old.key().as_bytes() == &bytes[..new.key_end as usize]);
            if same_key {
                let old = self.slots[ord as usize];
                let at = if old.end == new.end {
                    // The same length (a popularity change): in place.
                    let at = old.at as usize;
                    self.bytes[at..at + bytes.len()].copy_from_slice(&bytes);
                    Some(old.at)
                } else {
                    self.store(&bytes)
                };
                if let Some(at) = at {
                    if at != old.at {
                        self.garbage += old.end as usize;
                    }
                    new.at = at;
                    self.max_pop = self.max_pop.max(new.pop);
                    let pop = new.pop;
                    self.slots[ord as usize] = new;
                    self.raise(ord, pop);
                    self.maybe_compact();
                    return;
                }
            }
            self.kill(ord);
        }
        self.insert_item(e, sorted);
        self.maybe_merge();
    }

    /// Put the delta back in order after unsorted upserts.
    pub fn finish_batch(&mut self) {
        if self.unsorted {
            let mut delta = std::mem::take(&mut self.delta);
            delta.sort_by(|a, b| self.key(*a).cmp(self.key(*b)));
            self.delta = delta;
            self.unsorted = false;
        }
    }

    /// Remove an entity.
    pub fn delete(&mut self, id: &str) {
        if let Some(ord) = self.find(id) {
            self.kill(ord);
            self.maybe_merge();
        }
    }

    fn insert_item(&mut self, e: &Entity, sorted: bool) {
        let Some((bytes, mut slot)) = encode(e) else { return };
        let Ok(ord) = u32::try_from(self.slots.len()) else {
            return;
        };
        let Some(at) = self.store(&bytes) else { return };
        slot.at = at;
        self.max_pop = self.max_pop.max(slot.pop);
        self.slots.push(slot);
        let key = &bytes[..slot.key_end as usize];
        let starts: Vec<u16> = std::iter::once(0)
            .chain(
                key.iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b' ')
                    .map(|(i, _)| i as u16 + 1),
            )
            .filter(|&o| (o as usize) < key.len())
            .take(MAX_STARTS)
            .collect();
        let h = id_hash(&e.id);
        match self.by_id.get(&h) {
            Some(_) => self.collided.entry(h).or_default().push(ord),
            None => {
                self.by_id.insert(h, ord);
            }
        }
        for off in starts {
            let en = Entry { ord, off };
            if sorted {
                let k = self.key(en);
                let at = self.delta.partition_point(|x| self.key(*x) < k);
                self.delta.insert(at, en);
            } else {
                self.delta.push(en);
                self.unsorted = true;
            }
        }
    }

    fn kill(&mut self, ord: u32) {
        let Some(item) = self.live(ord) else {
            return;
        };
        let (h, spaces) = (id_hash(item.id()), item.key().matches(' ').count());
        self.slots[ord as usize].state = State::Dead;
        if self.by_id.get(&h) == Some(&ord) {
            self.by_id.remove(&h);
            // Another live id with this hash takes the slot.
            if let Some(v) = self.collided.get_mut(&h) {
                if let Some(o) = v.pop() {
                    self.by_id.insert(h, o);
                }
                if v.is_empty() {
                    self.collided.remove(&h);
                }
            }
        } else if let Some(v) = self.collided.get_mut(&h) {
            v.retain(|&o| o != ord);
            if v.is_empty() {
                self.collided.remove(&h);
            }
        }
        self.dead_entries += spaces.min(MAX_STARTS);
    }

    /// Keep the block bounds of `ord`'s base entries at or above `pop`.
    fn raise(&mut self, ord: u32, pop: f32) {
        let Some(item) = self.item(ord) else {
            return;
        };
        let key = item.key().as_bytes().to_vec();
        let mut offs = vec![0usize];
        offs.extend(key.iter().enumerate().filter(|(_, b)| **b == b' ').map(|(i, _)| i + 1));
        for off in offs.into_iter().filter(|&o| o < key.len()).take(MAX_STARTS) {
            let k = &key[off..];
            let mut i = self.base.partition_point(|x| self.key(*x) < k);
            while i < self.base.len() && self.key(self.base[i]) == k {
                if self.base[i].ord == ord {
                    let b = &mut self.block_max[i / BLOCK];
                    *b = b.max(pop);
                }
                i += 1;
            }
        }
    }

    /// Merge the delta into the base when it is large, or dead entries are many.
    fn maybe_merge(&mut self) {
        let limit = 4096.max(self.base.len() / 16);
        if self.delta.len() > limit || self.dead_entries > limit.max(self.base.len() / 4) {
            self.finish_batch();
            self.merge();
        }
    }

    /// Rewrite the byte buffer without its garbage when that is half of it.
    fn maybe_compact(&mut self) {
        if self.garbage < MIN_GARBAGE || self.garbage * 2 < self.bytes.len() {
            return;
        }
        let mut bytes = Vec::with_capacity(self.bytes.len() - self.garbage);
        for slot in &mut self.slots {
            if slot.state == State::Gone {
                continue;
            }
            let at = slot.at as usize;
            // Smaller than before: always fits in u32.
            let new_at = bytes.len() as u32;
            bytes.extend_from_slice(&self.bytes[at..at + slot.end as usize]);
            slot.at = new_at;
        }
        self.bytes = bytes;
        self.garbage = 0;
    }

    /// One linear merge of the live base with the delta.
    pub fn merge(&mut self) {
        let base = std::mem::take(&mut self.base);
        let delta = std::mem::take(&mut self.delta);
        let mut out = Vec::with_capacity(base.len() + delta.len());
        {
            let live = |e: &Entry| self.live(e.ord).is_some();
            let delta = delta.into_iter().filter(live);
            let (mut a, mut b) = (base.into_iter().filter(live).peekable(), delta.peekable());
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(x), Some(y)) => {
                        if self.key(*x) <= self.key(*y) {
                            a.next()
                        } else {
                            b.next()
                        }
                    }
                    (Some(_), None) => a.next(),
                    (None, Some(_)) => b.next(),
                    (None, None) => break,
                };
                out.extend(next);
            }
        }
        for slot in &mut self.slots {
            if slot.state == State::Dead {
                slot.state = State::Gone;
                self.garbage += slot.end as usize;
            }
        }
        self.base = out;
        self.dead_entries = 0;
        self.reblock();
        self.maybe_compact();
    }

    fn reblock(&mut self) {
        self.block_max = self
            .base
            .chunks(BLOCK)
            .map(|c| {
                c.iter()
                    .filter_map(|e| self.live(e.ord).map(|it| it.pop))
                    .fold(0.0, f32::max)
            })
            .collect();
    }

    /// Live entities.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.collided.values().map(Vec::len).sum::<usize>()
    }

    /// The byte buffer's length and the garbage in it.
    #[cfg(test)]
    pub fn buffer(&self) -> (usize, usize) {
        (self.bytes.len(), self.garbage)
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + (self.base.capacity() + self.delta.capacity()) * std::mem::size_of::<Entry>()
            + self.block_max.capacity() * 4
            + self.by_id.capacity() * 9
    }
}

/// The 32-bit hash the table finds ids by. Half the table of a 64-bit hash (a million
/// entities: 17 MB less); the few ids that share one go to `Table::collided`, and a hit is
/// checked against the id itself.
pub(crate) fn id_hash(id: &str) -> u32 {
    xxh3_64(id.as_bytes()) as u32
}

/// Market code of a request's market parameter.
pub(crate) fn market_of(m: Option<&str>) -> Option<u16> {
    m.map(market_code)
}
