//! The mutable state of [`super::SearchStats`] and how entries change it.

use super::model::{day_of, hour_of, user_key, Bucket, QueryStats, ANONYMOUS};
use super::SearchStatsConfig;
use needle_core::search_event::{normalize_query, Click, LoggedSearch};
use needle_core::{Event, EventType};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// What applying one entry did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Searches and clicks counted.
    pub accepted: usize,
    /// Ones seen before (same `event_id` or `search_id`), not counted again.
    pub duplicates: usize,
}

/// A recent search, for the clicks that name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Recent {
    /// Its normalized query.
    pub q: String,
    /// Its listener's key ([`ANONYMOUS`] when none).
    pub user: u64,
    /// Clicked at least once.
    pub clicked: bool,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct State {
    pub applied_seq: u64,
    /// Counts per hour since the epoch, within the window.
    pub hours: BTreeMap<i64, Bucket>,
    pub queries: HashMap<String, QueryStats>,
    /// Recent searches by `search_id`, and their order (oldest first).
    pub recent: HashMap<String, Recent>,
    pub recent_order: VecDeque<String>,
    /// Dedup keys of client events (`event_id` with the listener), by the day they came.
    pub seen: HashMap<u64, i64>,
    /// Clicks naming a search no longer (or never) known: counted, not attributed.
    pub unattributed_clicks: u64,
    /// Latest event time applied (the state's "now" for pruning in tests and replays).
    pub latest_ts: i64,
}

/// Days a client event's `event_id` is remembered (a retry after that counts again).
pub const DEDUP_DAYS: i64 = 2;

fn dedup_key(kind: u8, user: Option<&str>, event_id: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&[kind]);
    h.update(user.unwrap_or("").as_bytes());
    h.update(&[0]);
    h.update(event_id.as_bytes());
    h.digest()
}

impl State {
    /// True when the client event was seen before (and remembers it otherwise).
    fn duplicate(&mut self, kind: u8, user: Option<&str>, event_id: Option<&str>, ts: i64) -> bool {
        let Some(id) = event_id else { return false };
        self.seen.insert(dedup_key(kind, user, id), day_of(ts)).is_some()
    }

    pub fn apply(&mut self, cfg: &SearchStatsConfig, searches: &[LoggedSearch], clicks: &[Click]) -> Applied {
        let mut out = Applied::default();
        for s in searches {
            if self.recent.contains_key(&s.search_id)
                || self.duplicate(1, s.user_id.as_deref(), s.event_id.as_deref(), s.ts)
            {
                out.duplicates += 1;
                continue;
            }
            self.search(cfg, s);
            out.accepted += 1;
        }
        for c in clicks {
            if self.duplicate(2, c.user_id.as_deref(), Some(&c.event_id), c.ts) {
                out.duplicates += 1;
                continue;
            }
            self.click(cfg, c);
            out.accepted += 1;
        }
        self.evict(cfg);
        out
    }

    fn search(&mut self, cfg: &SearchStatsConfig, s: &LoggedSearch) {
        self.latest_ts = self.latest_ts.max(s.ts);
        let user = s.user_id.as_deref().map_or(ANONYMOUS, user_key);
        let b = self.hours.entry(hour_of(s.ts)).or_default();
        b.searches += 1;
        b.zero += u64::from(s.zero_result);
        let hl = cfg.click_params().half_life_ms;
        if !s.normalized.is_empty() {
            let q = self.queries.entry(s.normalized.clone()).or_default();
            q.display.clone_from(&s.query);
            q.searched(s.ts, user, s.zero_result, hl);
        }
        self.recent.insert(
            s.search_id.clone(),
            Recent {
                q: s.normalized.clone(),
                user,
                clicked: false,
            },
        );
        self.recent_order.push_back(s.search_id.clone());
        while self.recent_order.len() > cfg.max_recent_searches.max(1) {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    fn click(&mut self, cfg: &SearchStatsConfig, c: &Click) {
        self.latest_ts = self.latest_ts.max(c.ts);
        let b = self.hours.entry(hour_of(c.ts)).or_default();
        b.click(c.position);
        let Some(r) = self.recent.get_mut(&c.search_id) else {
            self.unattributed_clicks += 1;
            return;
        };
        let first = !r.clicked;
        r.clicked = true;
        if first {
            b.clicked += 1;
        }
        let voter = c.user_id.as_deref().map_or(r.user, user_key);
        let q = r.q.clone();
        self.vote(cfg, &q, &c.item_id, voter, c.position, c.ts, first);
    }

    #[allow(clippy::too_many_arguments)]
    fn vote(&mut self, cfg: &SearchStatsConfig, q: &str, item: &str, voter: u64, pos: u32, ts: i64, first: bool) {
        let Some(stats) = self.queries.get_mut(q) else { return };
        let d = stats.day_mut(ts);
        d.clicks += 1;
        d.pos_sum += u64::from(pos);
        d.clicked += u32::from(first);
        stats
            .items
            .entry(item.to_string())
            .or_default()
            .vote(voter, pos, ts, cfg.click_params().eta);
        stats.cap_items();
    }

    /// `search_click` listening events: the query is the `context`, the position unknown
    /// (weighs as the first).
    pub fn apply_legacy(&mut self, cfg: &SearchStatsConfig, events: &[Event]) {
        for e in events.iter().filter(|e| e.kind == EventType::SearchClick) {
            let Some(q) = e.context.as_deref().map(normalize_query).filter(|q| !q.is_empty()) else {
                continue;
            };
            if self.duplicate(3, Some(&e.user_id), e.event_id.as_deref(), e.ts) {
                continue;
            }
            self.latest_ts = self.latest_ts.max(e.ts);
            self.hours.entry(hour_of(e.ts)).or_default().click(1);
            self.vote(cfg, &q, &e.item_id, user_key(&e.user_id), 1, e.ts, false);
        }
    }

    /// Forget a listener key everywhere.
    pub fn erase(&mut self, user: u64) {
        self.queries.retain(|_, q| {
            let had = q.users.binary_search(&user).map(|i| q.users.remove(i)).is_ok();
            for v in q.items.values_mut() {
                v.votes.remove(&user);
            }
            q.items.retain(|_, v| !v.votes.is_empty());
            !(had && q.users.is_empty() && q.anon == 0)
        });
        for r in self.recent.values_mut() {
            if r.user == user {
                r.user = ANONYMOUS;
            }
        }
    }

    /// Keep at most `max_queries`: beyond 110% of it, the weakest by decayed search count
    /// go (amortized: one sort per 10% of new queries).
    fn evict(&mut self, cfg: &SearchStatsConfig) {
        let max = cfg.max_queries.max(1);
        if self.queries.len() <= max + max / 10 {
            return;
        }
        let (now, hl) = (self.latest_ts, cfg.click_params().half_life_ms);
        let mut by: Vec<(f64, String)> = self
            .queries
            .iter()
            .map(|(k, q)| (q.score_at(now, hl), k.clone()))
            .collect();
        by.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (_, k) in by.into_iter().take(self.queries.len() - max) {
            self.queries.remove(&k);
        }
    }

    /// Drop what left the window as of `now` (hours, days, votes, dedup keys).
    pub fn prune(&mut self, cfg: &SearchStatsConfig, now: i64) {
        let window = cfg.click_params().window_ms;
        let from = now.saturating_sub(window);
        let (first_hour, first_day) = (hour_of(from), day_of(from));
        self.hours = self.hours.split_off(&first_hour);
        // Client retries come within hours: dedup keys are kept two days, not the window.
        let dedup_from = day_of(now) - DEDUP_DAYS;
        self.seen.retain(|_, d| *d >= dedup_from.max(first_day));
        self.queries.retain(|_, q| {
            q.days.retain(|d| d.day >= first_day);
            q.items.retain(|_, v| !v.prune(now, window));
            !q.days.is_empty() || !q.items.is_empty()
        });
        self.evict(cfg);
    }
}
