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

/// What the table knows of one entity.
pub(crate) struct Item {
    /// Key, display name and id, one allocation: `key` then `name` then `id`.
    text: Box<str>,
    /// Where the name starts in `text`.
    name_at: u16,
    /// Where the id starts in `text`.
    id_at: u16,
    /// `ln(1 + popularity)`.
    pub pop: f32,
    pub kind: EntityType,
    pub markets: Option<Box<[u16]>>,
    pub features: Box<[u64]>,
    /// Deleted or replaced: its base entries are skipped until the next merge drops them.
    pub dead: bool,
}

impl Item {
    fn of(e: &Entity) -> Option<Item> {
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
        let mut text = String::with_capacity(key.len() + e.name.len() + e.id.len());
        text.push_str(&key);
        text.push_str(&e.name);
        text.push_str(&e.id);
        Some(Item {
            text: text.into(),
            name_at: key.len() as u16,
            id_at: (key.len() + e.name.len()) as u16,
            pop: e.popularity.unwrap_or(0.0).max(0.0).ln_1p() as f32,
            kind: e.entity_type(),
            markets: e.markets.as_ref().map(|m| m.iter().map(|c| market_code(c)).collect()),
            features: features.into(),
            dead: false,
        })
    }

    /// The folded key.
    pub fn key(&self) -> &str {
        &self.text[..self.name_at as usize]
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.text[self.name_at as usize..self.id_at as usize]
    }

    /// The entity id.
    pub fn id(&self) -> &str {
        &self.text[self.id_at as usize..]
    }

    /// Sold in `market` (entities without markets are everywhere).
    pub fn in_market(&self, market: Option<u16>) -> bool {
        match (&self.markets, market) {
            (Some(ms), Some(m)) => ms.contains(&m),
            _ => true,
        }
    }
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Table {
    /// By ordinal; `None` once a merge dropped a dead item.
    pub items: Vec<Option<Item>>,
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

impl Table {
    /// The key of an entry.
    pub fn key(&self, e: Entry) -> &[u8] {
        match &self.items[e.ord as usize] {
            Some(it) => &it.key().as_bytes()[e.off as usize..],
            None => b"",
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
        self.items.shrink_to_fit();
        self.reblock();
    }

    /// The ordinal of a live entity.
    fn find(&self, id: &str) -> Option<u32> {
        let h = id_hash(id);
        let live = |o: &u32| {
            self.items[*o as usize]
                .as_ref()
                .is_some_and(|it| !it.dead && it.id() == id)
        };
        self.by_id
            .get(&h)
            .copied()
            .filter(live)
            .or_else(|| self.collided.get(&h)?.iter().copied().find(live))
    }

    /// Insert or replace an entity; `sorted`: keep the delta in order at once (single
    /// changes), or leave it to [`Table::finish_batch`] (many changes: one sort).
    pub fn upsert(&mut self, e: &Entity, sorted: bool) {
        if let Some(ord) = self.find(&e.id) {
            let Some(new) = Item::of(e) else {
                self.kill(ord);
                return;
            };
            let same_key = self.items[ord as usize]
                .as_ref()
                .is_some_and(|old| old.key() == new.key());
            if same_key {
                self.max_pop = self.max_pop.max(new.pop);
                let pop = new.pop;
                self.items[ord as usize] = Some(new);
                self.raise(ord, pop);
                return;
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
        let Some(item) = Item::of(e) else { return };
        let ord = self.items.len() as u32;
        self.max_pop = self.max_pop.max(item.pop);
        let starts: Vec<u16> = std::iter::once(0)
            .chain(item.key().match_indices(' ').map(|(i, _)| i as u16 + 1))
            .filter(|&o| (o as usize) < item.key().len())
            .take(MAX_STARTS)
            .collect();
        let h = id_hash(&e.id);
        match self.by_id.get(&h) {
            Some(_) => self.collided.entry(h).or_default().push(ord),
            None => {
                self.by_id.insert(h, ord);
            }
        }
        self.items.push(Some(item));
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
        let Some(item) = self.items[ord as usize].as_mut() else {
            return;
        };
        if item.dead {
            return;
        }
        item.dead = true;
        let (h, spaces) = (id_hash(item.id()), item.key().matches(' ').count());
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
        let Some(item) = self.items[ord as usize].as_ref() else {
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

    /// One linear merge of the live base with the delta.
    pub fn merge(&mut self) {
        let base = std::mem::take(&mut self.base);
        let delta = std::mem::take(&mut self.delta);
        let mut out = Vec::with_capacity(base.len() + delta.len());
        {
            let delta = delta
                .into_iter()
                .filter(|e| self.items[e.ord as usize].as_ref().is_some_and(|it| !it.dead));
            let live = |e: &Entry| self.items[e.ord as usize].as_ref().is_some_and(|it| !it.dead);
            let (mut a, mut b) = (base.into_iter().filter(live).peekable(), delta.into_iter().peekable());
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
        for it in &mut self.items {
            if it.as_ref().is_some_and(|i| i.dead) {
                *it = None;
            }
        }
        self.base = out;
        self.dead_entries = 0;
        self.reblock();
    }

    fn reblock(&mut self) {
        self.block_max = self
            .base
            .chunks(BLOCK)
            .map(|c| {
                c.iter()
                    .filter_map(|e| {
                        self.items[e.ord as usize]
                            .as_ref()
                            .filter(|it| !it.dead)
                            .map(|it| it.pop)
                    })
                    .fold(0.0, f32::max)
            })
            .collect();
    }

    /// Live entities.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.collided.values().map(Vec::len).sum::<usize>()
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let items: usize = self
            .items
            .iter()
            .flatten()
            .filter(|it| !it.dead)
            .map(|it| it.text.len() + it.features.len() * 8 + it.markets.as_ref().map_or(0, |m| m.len() * 2))
            .sum();
        items
            + self.items.capacity() * std::mem::size_of::<Option<Item>>()
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
