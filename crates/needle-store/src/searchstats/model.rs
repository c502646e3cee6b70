//! The aggregates [`super::SearchStats`] keeps, and the click model's arithmetic.
//!
//! Click model, per (normalized query, item): each listener has at most one **vote**,
//! `w = min(position, MAX_WEIGHTED_POSITION)^η` (the inverse of the examination
//! probability `1/position^η`: a click at position 5 is stronger evidence than one at 1),
//! kept at the strongest position they clicked it at and dated by their last click.
//! Anonymous clicks share one vote. The evidence at time `t` is
//! `E = Σ_votes w · 2^(−(t − ts)/half_life)`; the item's **strength** is
//! `1 − exp(−E / (2·min_users))` ∈ [0, 1), and it is 0 unless at least `min_users` named
//! listeners voted within the window. The search engine multiplies it by its bounded
//! `CLICK_WEIGHT`.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Positions beyond this weigh as this one (a click at 40 is not 40 times the evidence).
pub const MAX_WEIGHTED_POSITION: u32 = 10;
/// Distinct listeners remembered per query (enough to know "k or more").
pub const MAX_QUERY_USERS: usize = 64;
/// Votes kept per (query, item): the most recent (24 votes of weight ≥ 1 saturate the
/// strength at 1 − e^−2.4 ≈ 0.91 with the default `min_users` of 5).
pub const MAX_VOTES: usize = 24;
/// Items with click evidence kept per query: the most clicked.
pub const MAX_ITEMS_PER_QUERY: usize = 20;
/// Click positions counted one by one; later ones share the last slot.
pub const POSITION_SLOTS: usize = 11;
/// The anonymous listeners' shared vote.
pub const ANONYMOUS: u64 = 0;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The hour (since the epoch) of `ts`.
pub fn hour_of(ts: i64) -> i64 {
    ts.div_euclid(HOUR_MS)
}

/// The day (since the epoch) of `ts`.
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS)
}

/// A listener's id as the aggregates keep it (never the id itself; never [`ANONYMOUS`]).
pub fn user_key(user: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(user.as_bytes(), 0x5ea6c4) | 1
}

/// Counts of one hour (all queries).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Searches.
    pub searches: u64,
    /// Searches that found nothing.
    pub zero: u64,
    /// Searches with at least one click.
    pub clicked: u64,
    /// Clicks.
    pub clicks: u64,
    /// Sum of click positions.
    pub pos_sum: u64,
    /// Clicks per position (1..=10, then 11+).
    pub by_pos: [u64; POSITION_SLOTS],
}

impl Bucket {
    /// Add `o` to this one.
    pub fn add(&mut self, o: &Bucket) {
        self.searches += o.searches;
        self.zero += o.zero;
        self.clicked += o.clicked;
        self.clicks += o.clicks;
        self.pos_sum += o.pos_sum;
        for (a, b) in self.by_pos.iter_mut().zip(o.by_pos) {
            *a += b;
        }
    }

    /// Count one click at `position`.
    pub fn click(&mut self, position: u32) {
        self.clicks += 1;
        self.pos_sum += u64::from(position);
        self.by_pos[(position.max(1) as usize - 1).min(POSITION_SLOTS - 1)] += 1;
    }
}

/// Counts of one query on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Day {
    /// Day since the epoch.
    pub day: i64,
    /// Searches.
    pub searches: u32,
    /// Searches that found nothing.
    pub zero: u32,
    /// Searches with a click.
    pub clicked: u32,
    /// Clicks.
    pub clicks: u32,
    /// Sum of click positions.
    pub pos_sum: u64,
}

/// One listener's vote for an item under a query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    /// Position weight, `min(position, 10)^η`.
    pub w: f32,
    /// Last click, epoch ms.
    pub ts: i64,
}

/// Click evidence for one item under one query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemVotes {
    /// Votes by listener key ([`ANONYMOUS`]: every anonymous click).
    pub votes: HashMap<u64, Vote>,
    /// Clicks counted (all of them, repeated ones too).
    pub clicks: u64,
    /// Sum of their positions.
    pub pos_sum: u64,
}

/// Click model parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClickParams {
    /// Named listeners needed before an item's clicks move anything.
    pub min_users: u32,
    /// Half-life of a vote, ms.
    pub half_life_ms: f64,
    /// Votes older than this are dropped, ms.
    pub window_ms: i64,
    /// Position-bias exponent η.
    pub eta: f64,
}

/// The weight of a click at `position` (1-based).
pub fn position_weight(position: u32, eta: f64) -> f32 {
    f64::from(position.clamp(1, MAX_WEIGHTED_POSITION)).powf(eta) as f32
}

impl ItemVotes {
    /// Record a click by `voter` at `position`, time `ts`: one vote per listener, kept at
    /// its strongest position and latest time.
    pub fn vote(&mut self, voter: u64, position: u32, ts: i64, eta: f64) {
        self.clicks += 1;
        self.pos_sum += u64::from(position);
        let w = position_weight(position, eta);
        let v = self.votes.entry(voter).or_insert(Vote { w, ts });
        v.w = v.w.max(w);
        v.ts = v.ts.max(ts);
        if self.votes.len() > MAX_VOTES {
            // Drop the oldest named vote (the anonymous one stays: it is one at most).
            if let Some((&k, _)) = self
                .votes
                .iter()
                .filter(|(k, _)| **k != ANONYMOUS)
                .min_by_key(|(_, v)| v.ts)
            {
                self.votes.remove(&k);
            }
        }
    }

    /// The strength at `now`, in [0, 1): 0 below `min_users` named listeners within the
    /// window.
    pub fn strength(&self, now: i64, p: &ClickParams) -> f32 {
        let mut named = 0u32;
        let mut evidence = 0.0f64;
        for (k, v) in &self.votes {
            let age = (now - v.ts).max(0);
            if age > p.window_ms {
                continue;
            }
            if *k != ANONYMOUS {
                named += 1;
            }
            evidence += f64::from(v.w) * (-(age as f64) / p.half_life_ms).exp2();
        }
        if named < p.min_users.max(1) {
            return 0.0;
        }
        let scale = 2.0 * f64::from(p.min_users.max(1));
        (1.0 - (-evidence / scale).exp()).clamp(0.0, 1.0 - f64::EPSILON) as f32
    }

    /// Named listeners who voted within the window.
    pub fn listeners(&self, now: i64, window_ms: i64) -> usize {
        self.votes
            .iter()
            .filter(|(k, v)| **k != ANONYMOUS && now - v.ts <= window_ms)
            .count()
    }

    /// Drop votes older than the window; true when none is left.
    pub fn prune(&mut self, now: i64, window_ms: i64) -> bool {
        self.votes.retain(|_, v| now - v.ts <= window_ms);
        self.votes.is_empty()
    }
}

/// Everything kept about one normalized query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueryStats {
    /// The query as last typed (for display).
    pub display: String,
    /// Decayed search count (for eviction) at `score_ts`.
    pub score: f64,
    /// When `score` was last brought up to date.
    pub score_ts: i64,
    /// Counts per day, oldest first, within the window.
    pub days: Vec<Day>,
    /// Distinct named listeners who typed it (keys, at most [`MAX_QUERY_USERS`]).
    pub users: Vec<u64>,
    /// Searches by anonymous listeners.
    pub anon: u64,
    /// Click evidence per item.
    pub items: HashMap<String, ItemVotes>,
}

impl QueryStats {
    /// The day record of `ts`, created in order.
    pub fn day_mut(&mut self, ts: i64) -> &mut Day {
        let day = day_of(ts);
        let i = match self.days.binary_search_by_key(&day, |d| d.day) {
            Ok(i) => i,
            Err(i) => {
                self.days.insert(i, Day { day, ..Day::default() });
                i
            }
        };
        &mut self.days[i]
    }

    /// The decayed search count at `now`.
    pub fn score_at(&self, now: i64, half_life_ms: f64) -> f64 {
        self.score * (-((now - self.score_ts).max(0) as f64) / half_life_ms).exp2()
    }

    /// Count one search at `ts` by `user` (a key, or [`ANONYMOUS`]).
    pub fn searched(&mut self, ts: i64, user: u64, zero: bool, half_life_ms: f64) {
        let now = ts.max(self.score_ts);
        self.score = self.score_at(now, half_life_ms) + 1.0;
        self.score_ts = now;
        let d = self.day_mut(ts);
        d.searches += 1;
        d.zero += u32::from(zero);
        if user == ANONYMOUS {
            self.anon += 1;
        } else if let Err(i) = self.users.binary_search(&user) {
            if self.users.len() < MAX_QUERY_USERS {
                self.users.insert(i, user);
            }
        }
    }

    /// Keep the [`MAX_ITEMS_PER_QUERY`] items with the most clicks.
    pub fn cap_items(&mut self) {
        if self.items.len() <= MAX_ITEMS_PER_QUERY {
            return;
        }
        let mut by: Vec<(u64, String)> = self.items.iter().map(|(k, v)| (v.clicks, k.clone())).collect();
        by.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
        for (_, k) in by.into_iter().take(self.items.len() - MAX_ITEMS_PER_QUERY) {
            self.items.remove(&k);
        }
    }
}
