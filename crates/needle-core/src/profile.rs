//! Taste profiles: per-listener aggregates of listening events with exponential time decay.
//!
//! Scores are kept in "growth" form: an event of weight `w` at time `t` adds
//! `w · 2^((t − T0)/half_life)` to its item's stored score, and the score *as of* time
//! `now` is the stored score times `2^(−(now − T0)/half_life)`. Updates are O(1), events may
//! arrive in any order, and decay never needs a sweep. `T0` is 2000-01-01, so with a
//! half-life of a day or more the growth factor stays far inside f64 for centuries.
//!
//! Every item keeps two such scores: a short-term one (`half_life_days`, 30 by default:
//! what the listener plays now) and a long-term one (`long_half_life_days`, three years:
//! what they have always played). Taste blends the two after normalising each, so three
//! plays today cannot erase years of history, and a listener's current favourites still
//! count even when their history is long (see `docs/personalization.md`).

use crate::event::{Event, EventType};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// 2000-01-01T00:00:00Z in epoch milliseconds.
pub const T0_MS: i64 = 946_684_800_000;
/// Events kept per listener for `history`.
pub const RECENT_LEN: usize = 200;

/// Profile settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileConfig {
    /// Half-life of an event's influence on short-term taste, days.
    pub half_life_days: f64,
    /// Half-life of an event's influence on long-term taste, days.
    pub long_half_life_days: f64,
    /// Share of long-term taste in the blend, in `[0, 1]` (0: short-term only).
    pub long_term_weight: f64,
}

/// Default short-term half-life, days.
pub const DEFAULT_HALF_LIFE_DAYS: f64 = 30.0;
/// Default long-term half-life, days (three years).
pub const DEFAULT_LONG_HALF_LIFE_DAYS: f64 = 1095.0;
/// Default share of long-term taste.
pub const DEFAULT_LONG_TERM_WEIGHT: f64 = 0.5;

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            half_life_days: DEFAULT_HALF_LIFE_DAYS,
            long_half_life_days: DEFAULT_LONG_HALF_LIFE_DAYS,
            long_term_weight: DEFAULT_LONG_TERM_WEIGHT,
        }
    }
}

fn growth_with(half_life_days: f64, ts: i64) -> f64 {
    (((ts - T0_MS) as f64) / (half_life_days.max(1e-3) * 86_400_000.0))
        .clamp(-900.0, 900.0)
        .exp2()
}

impl ProfileConfig {
    /// Growth factor of an event at `ts` (short term).
    pub fn growth(&self, ts: i64) -> f64 {
        growth_with(self.half_life_days, ts)
    }
    /// Growth factor of an event at `ts` (long term).
    pub fn growth_long(&self, ts: i64) -> f64 {
        growth_with(self.long_half_life_days, ts)
    }
    /// Convert a stored short-term score to its value at `now`.
    pub fn value_at(&self, stored: f64, now: i64) -> f64 {
        stored / self.growth(now)
    }
    /// Convert a stored long-term score to its value at `now`.
    pub fn long_value_at(&self, stored_long: f64, now: i64) -> f64 {
        stored_long / self.growth_long(now)
    }
}

/// The weight of one event before decay (`count` included).
pub fn event_weight(e: &Event) -> f64 {
    let n = e.count as f64;
    match e.kind {
        // A play counts fully from 30 s on; shorter plays count for less, never for nothing.
        EventType::Play => {
            n * e
                .ms_played
                .map(|m| (m as f64 / 30_000.0).clamp(0.1, 1.0))
                .unwrap_or(1.0)
        }
        EventType::Skip => -0.5 * n,
        EventType::Save => 3.0,
        EventType::Unsave => -3.0,
        EventType::Follow => 5.0,
        EventType::Unfollow => -5.0,
        EventType::SearchClick => 0.5 * n,
    }
}

/// What one listener did with one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ItemStat {
    /// Short-term decayed score in growth form (see the module doc).
    pub stored: f64,
    /// Long-term decayed score in growth form.
    pub stored_long: f64,
    /// Plays (counts summed).
    pub plays: u64,
    /// Skips.
    pub skips: u64,
    /// Milliseconds played.
    pub ms_played: u64,
    /// Saved now.
    pub saved: bool,
    /// Followed now.
    pub followed: bool,
    /// Search clicks.
    pub clicks: u64,
    /// Newest event time.
    pub last_ts: i64,
    /// Timestamp of the latest save/unsave or follow/unfollow (the newest wins).
    pub flag_ts: i64,
}

/// One event as shown in `history`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecentEvent {
    /// Event type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Item.
    pub item_id: String,
    /// Epoch milliseconds.
    pub ts: i64,
    /// Count.
    pub count: u32,
    /// Milliseconds played.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_played: Option<u64>,
    /// Context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// One listener's profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Per item.
    pub items: HashMap<String, ItemStat>,
    /// Newest events, newest last.
    pub recent: VecDeque<RecentEvent>,
    /// Events applied, by type code.
    pub counts: [u64; 7],
    /// Newest event time seen.
    pub last_ts: i64,
    /// Bumped on every change (cache key for derived data).
    pub version: u64,
}

impl Profile {
    /// Fold one event in.
    pub fn apply(&mut self, e: &Event, cfg: &ProfileConfig) {
        let st = self.items.entry(e.item_id.clone()).or_default();
        let w = event_weight(e);
        st.stored += w * cfg.growth(e.ts);
        st.stored_long += w * cfg.growth_long(e.ts);
        st.last_ts = st.last_ts.max(e.ts);
        match e.kind {
            EventType::Play => {
                st.plays += e.count as u64;
                st.ms_played += e.ms_played.unwrap_or(0) * e.count as u64;
            }
            EventType::Skip => st.skips += e.count as u64,
            EventType::SearchClick => st.clicks += e.count as u64,
            EventType::Save | EventType::Unsave | EventType::Follow | EventType::Unfollow => {
                if e.ts >= st.flag_ts {
                    st.flag_ts = e.ts;
                    match e.kind {
                        EventType::Save => st.saved = true,
                        EventType::Unsave => st.saved = false,
                        EventType::Follow => st.followed = true,
                        _ => st.followed = false,
                    }
                }
            }
        }
        self.counts[e.kind.code() as usize] += e.count as u64;
        self.last_ts = self.last_ts.max(e.ts);
        self.version += 1;
        let pos = self
            .recent
            .iter()
            .rposition(|r| r.ts <= e.ts)
            .map(|p| p + 1)
            .unwrap_or(0);
        if pos > 0 || self.recent.len() < RECENT_LEN {
            self.recent.insert(
                pos,
                RecentEvent {
                    kind: e.kind,
                    item_id: e.item_id.clone(),
                    ts: e.ts,
                    count: e.count,
                    ms_played: e.ms_played,
                    context: e.context.clone(),
                },
            );
            if self.recent.len() > RECENT_LEN {
                self.recent.pop_front();
            }
        }
    }

    /// An item's short-term score at time `now`.
    pub fn score_at(&self, item: &str, now: i64, cfg: &ProfileConfig) -> f64 {
        self.items.get(item).map(|s| cfg.value_at(s.stored, now)).unwrap_or(0.0)
    }

    /// An item's long-term score at time `now`.
    pub fn long_score_at(&self, item: &str, now: i64, cfg: &ProfileConfig) -> f64 {
        self.items
            .get(item)
            .map(|s| cfg.long_value_at(s.stored_long, now))
            .unwrap_or(0.0)
    }

    /// Rough heap footprint, bytes (for the memory figure).
    pub fn approx_bytes(&self) -> usize {
        let items: usize = self
            .items
            .keys()
            .map(|k| k.capacity() + std::mem::size_of::<ItemStat>() + 24)
            .sum();
        let recent: usize = self
            .recent
            .iter()
            .map(|r| r.item_id.capacity() + std::mem::size_of::<RecentEvent>())
            .sum();
        items + recent + std::mem::size_of::<Profile>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventType, item: &str, ts: i64) -> Event {
        Event {
            event_id: None,
            user_id: "u".into(),
            kind,
            item_id: item.into(),
            ts,
            ms_played: None,
            count: 1,
            context: None,
        }
    }
    const DAY: i64 = 86_400_000;

    #[test]
    fn decay_halves_per_half_life_and_order_does_not_matter() {
        let cfg = ProfileConfig {
            half_life_days: 10.0,
            ..Default::default()
        };
        let t = T0_MS + 1000 * DAY;
        let mut a = Profile::default();
        a.apply(&ev(EventType::Play, "x", t), &cfg);
        assert!((a.score_at("x", t, &cfg) - 1.0).abs() < 1e-9);
        assert!((a.score_at("x", t + 10 * DAY, &cfg) - 0.5).abs() < 1e-9);
        let mut b = Profile::default();
        b.apply(&ev(EventType::Play, "x", t + 5 * DAY), &cfg);
        b.apply(&ev(EventType::Play, "x", t), &cfg);
        let mut c = Profile::default();
        c.apply(&ev(EventType::Play, "x", t), &cfg);
        c.apply(&ev(EventType::Play, "x", t + 5 * DAY), &cfg);
        assert!((b.score_at("x", t + 20 * DAY, &cfg) - c.score_at("x", t + 20 * DAY, &cfg)).abs() < 1e-12);
    }

    #[test]
    fn flags_follow_the_newest_event_and_skips_count_down() {
        let cfg = ProfileConfig::default();
        let mut p = Profile::default();
        p.apply(&ev(EventType::Save, "x", T0_MS + 2 * DAY), &cfg);
        p.apply(&ev(EventType::Unsave, "x", T0_MS + DAY), &cfg); // older: does not unsave
        assert!(p.items["x"].saved);
        p.apply(&ev(EventType::Skip, "y", T0_MS), &cfg);
        assert!(p.score_at("y", T0_MS, &cfg) < 0.0);
        let mut big = ev(EventType::Play, "z", T0_MS);
        big.count = 13_883;
        p.apply(&big, &cfg);
        assert_eq!(p.items["z"].plays, 13_883);
        assert_eq!(p.recent.len(), 4);
    }

    #[test]
    fn long_term_scores_outlive_short_term_ones() {
        let cfg = ProfileConfig::default();
        let old = T0_MS + 3_300 * DAY; // 2009
        let now = old + 17 * 365 * DAY;
        let mut p = Profile::default();
        let mut many = ev(EventType::Play, "old", old);
        many.count = 2_000;
        p.apply(&many, &cfg);
        for i in 0..3 {
            p.apply(&ev(EventType::Play, "new", now - i), &cfg);
        }
        // Short term: 17 years of 30-day half-lives leave nothing of the old plays.
        assert!(p.score_at("old", now, &cfg) < 1e-30);
        assert!(p.score_at("new", now, &cfg) > 2.9);
        // Long term: 2,000 plays at a three-year half-life still outweigh three today.
        let old_long = p.long_score_at("old", now, &cfg);
        assert!(old_long > 10.0 * p.long_score_at("new", now, &cfg), "{old_long}");
    }
}
