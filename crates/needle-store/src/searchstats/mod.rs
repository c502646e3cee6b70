//! Search statistics: derived state of the write log's `searches` entries (the server's
//! search log and clients' search and click events), kept as bounded rolling aggregates.
//!
//! Applied by the service's applier in log order ([`SearchStats::apply`],
//! [`SearchStats::erase`]); an entry at or below [`SearchStats::applied_seq`] is skipped.
//! Made durable at checkpoints ([`SearchStats::checkpoint`]: `searchstats.bin`, compact
//! and compressed (format in `file.rs`), written atomically with its `applied_seq`), so a
//! restart replays the log from there.
//!
//! Memory is bounded: at most `max_queries` distinct normalized queries (the weakest by
//! decayed search count are evicted), hourly buckets and per-query daily counts for
//! `window_days`, the last `max_recent` searches (for clicks to name by `search_id`), and
//! the caps of [`model`]. Listeners are kept as hashed keys only; erasing one removes them
//! from every distinct-listener set and vote (and a query only they typed).
//!
//! What it serves: the click model's per-query boosts ([`SearchStats::click_strengths`],
//! formula in [`model`]), analytics ([`SearchStats::searches_report`],
//! [`SearchStats::item_report`]) and the queries suggestions may show
//! ([`SearchStats::suggestable_queries`]).

mod analytics;
mod file;
#[cfg(test)]
mod file_tests;
pub mod model;
mod state;
#[cfg(test)]
mod tests;

pub use analytics::{HourStat, ItemQuery, ItemReport, PositionStat, QueryStat, SearchesReport};
pub use file::{LEGACY_FILE_NAME, MAGIC, VERSION};
pub use state::Applied;

use crate::error::Result;
use model::ClickParams;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use state::State;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// File of the persisted state in the data directory.
pub const FILE_NAME: &str = "searchstats.bin";
/// The state is written at most this often by [`SearchStats::checkpoint`] (it can be tens
/// of megabytes); the write log is kept from [`SearchStats::durable_seq`] on meanwhile.
pub const WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// `[search_analytics]`: the click model and the bounds of the aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchStatsConfig {
    /// Log every answered search (query, listener, results shown) for analytics and the
    /// click model.
    pub log_searches: bool,
    /// Distinct named listeners who must click an item for a query before it is boosted.
    pub click_min_users: u32,
    /// Half-life of click evidence, days.
    pub click_half_life_days: f64,
    /// Position-bias exponent η: a click at position p weighs `min(p, 10)^η`.
    pub click_position_eta: f64,
    /// Distinct normalized queries kept (the weakest by decayed count are evicted).
    pub max_queries: usize,
    /// Days of hourly and per-query counts (and of click votes) kept.
    pub window_days: u32,
    /// Recent searches remembered so clicks can name them by `search_id`.
    pub max_recent_searches: usize,
}

impl Default for SearchStatsConfig {
    fn default() -> Self {
        SearchStatsConfig {
            log_searches: true,
            click_min_users: 5,
            click_half_life_days: 14.0,
            click_position_eta: 1.0,
            max_queries: 50_000,
            window_days: 30,
            max_recent_searches: 200_000,
        }
    }
}

impl SearchStatsConfig {
    /// The click model's parameters.
    pub fn click_params(&self) -> ClickParams {
        ClickParams {
            min_users: self.click_min_users.max(1),
            half_life_ms: (self.click_half_life_days.max(0.001)) * 86_400_000.0,
            window_ms: i64::from(self.window_days.max(1)) * 86_400_000,
            eta: self.click_position_eta.clamp(0.0, 3.0),
        }
    }

    /// Check the values (a message naming the key).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.click_min_users == 0 {
            return Err("search_analytics.click_min_users must be at least 1".into());
        }
        if !(self.click_half_life_days.is_finite() && self.click_half_life_days > 0.0) {
            return Err("search_analytics.click_half_life_days must be a positive number".into());
        }
        if !(0.0..=3.0).contains(&self.click_position_eta) {
            return Err("search_analytics.click_position_eta must be between 0 and 3".into());
        }
        if self.max_queries == 0 || self.window_days == 0 || self.max_recent_searches == 0 {
            return Err("search_analytics.max_queries, window_days and max_recent_searches must be at least 1".into());
        }
        Ok(())
    }
}

/// The search statistics store (see the module documentation).
pub struct SearchStats {
    state: Mutex<State>,
    path: PathBuf,
    cfg: SearchStatsConfig,
    /// Applied entries not yet written.
    dirty: std::sync::atomic::AtomicBool,
    /// The `applied_seq` of the state on disk.
    durable: std::sync::atomic::AtomicU64,
    /// When the state was last written.
    written_at: Mutex<Option<std::time::Instant>>,
    /// The legacy `searchstats.json` is still there: the next checkpoint writes the
    /// binary file even without new entries, then removes it.
    legacy: std::sync::atomic::AtomicBool,
}

impl SearchStats {
    /// Open `dir/searchstats.bin`; absent, the legacy `dir/searchstats.json`; neither:
    /// empty, covering nothing. [`crate::Error::Corrupt`] naming the file when it cannot
    /// be read.
    pub fn open(dir: &Path, cfg: SearchStatsConfig) -> Result<SearchStats> {
        let path = dir.join(FILE_NAME);
        let file::Loaded { state, legacy } = file::load(dir, &path)?;
        let durable = std::sync::atomic::AtomicU64::new(state.applied_seq);
        Ok(SearchStats {
            state: Mutex::new(state),
            path,
            cfg,
            dirty: std::sync::atomic::AtomicBool::new(false),
            durable,
            written_at: Mutex::new(None),
            legacy: std::sync::atomic::AtomicBool::new(legacy),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SearchStatsConfig {
        &self.cfg
    }

    /// The last write-log entry this state covers.
    pub fn applied_seq(&self) -> u64 {
        self.state.lock().applied_seq
    }

    /// Apply entry `seq`: searches (the server's or a client's) and clicks. Skipped at or
    /// below [`SearchStats::applied_seq`].
    pub fn apply(
        &self,
        seq: u64,
        searches: &[needle_core::search_event::LoggedSearch],
        clicks: &[needle_core::search_event::Click],
    ) -> Applied {
        let mut s = self.state.lock();
        if seq <= s.applied_seq {
            return Applied::default();
        }
        let out = s.apply(&self.cfg, searches, clicks);
        s.applied_seq = seq;
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    }

    /// Apply the `search_click` listening events of entry `seq` (the older click type: the
    /// query in `context`, no position: counted as position 1).
    pub fn apply_search_clicks(&self, seq: u64, events: &[needle_core::Event]) {
        let mut s = self.state.lock();
        if seq <= s.applied_seq {
            return;
        }
        s.apply_legacy(&self.cfg, events);
        s.applied_seq = seq;
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Erase a listener (entry `seq`): their key leaves every distinct-listener set and
    /// vote, and a query only they typed is dropped.
    pub fn erase(&self, seq: u64, user: &str) {
        let mut s = self.state.lock();
        if seq <= s.applied_seq {
            return;
        }
        s.erase(model::user_key(user));
        s.applied_seq = seq;
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The `applied_seq` of the state on disk: the write log must be kept after it.
    pub fn durable_seq(&self) -> u64 {
        self.durable.load(std::sync::atomic::Ordering::Acquire)
    }

    /// At a checkpoint: cover entries up to `seq`, drop what left the window (as of the
    /// latest event applied: replicas prune alike), and write the state durably when it
    /// changed — at most every [`WRITE_EVERY`] unless `force`d (shutdown, snapshots).
    pub fn checkpoint(&self, seq: u64, force: bool) -> Result<()> {
        let due = force || self.written_at.lock().is_none_or(|t| t.elapsed() >= WRITE_EVERY);
        let legacy = self.legacy.load(std::sync::atomic::Ordering::Acquire);
        let (body, covered) = {
            let mut s = self.state.lock();
            s.applied_seq = s.applied_seq.max(seq);
            if (s.applied_seq == self.durable_seq() && !legacy) || !due {
                return Ok(());
            }
            self.dirty.store(false, std::sync::atomic::Ordering::Relaxed);
            let now = s.latest_ts;
            s.prune(&self.cfg, now);
            (file::encode(&s)?, s.applied_seq)
        };
        crate::files::write_atomically(&self.path, &file::frame(&body)?)?;
        if legacy {
            if let Some(dir) = self.path.parent() {
                file::remove_legacy(dir)?;
            }
            self.legacy.store(false, std::sync::atomic::Ordering::Release);
        }
        self.durable.store(covered, std::sync::atomic::Ordering::Release);
        *self.written_at.lock() = Some(std::time::Instant::now());
        Ok(())
    }

    /// Copy the state file into `dir` (a snapshot, taken right after a checkpoint).
    pub fn copy_to(&self, dir: &Path) -> Result<()> {
        let _s = self.state.lock();
        crate::files::copy_into(&self.path, dir)
    }

    /// The click model's strength (in [0, 1)) of every item with enough evidence for the
    /// normalized query `q` at `now`; `None` when no item has any.
    pub fn click_strengths(&self, q: &str, now: i64) -> Option<HashMap<String, f32>> {
        let p = self.cfg.click_params();
        let s = self.state.lock();
        let stats = s.queries.get(q)?;
        let out: HashMap<String, f32> = stats
            .items
            .iter()
            .filter_map(|(id, v)| {
                let st = v.strength(now, &p);
                (st > 0.0).then(|| (id.clone(), st))
            })
            .collect();
        (!out.is_empty()).then_some(out)
    }

    /// Queries suggestions may show: typed by at least `k` distinct named listeners
    /// (k-anonymity), leading to clicks, never zero-result ones (a query whose last
    /// search in the window found nothing); the display text (as last typed) and a score
    /// (decayed search count times the share of searches clicked), best first.
    pub fn suggestable_queries(&self, k: usize, now: i64) -> Vec<(String, f64)> {
        let hl = self.cfg.click_params().half_life_ms;
        let s = self.state.lock();
        let mut out: Vec<(String, f64)> = s
            .queries
            .values()
            .filter(|q| q.users.len() >= k.max(1))
            .filter_map(|q| {
                let (mut searches, mut clicked, mut zero) = (0u64, 0u64, 0u64);
                for d in &q.days {
                    searches += u64::from(d.searches);
                    clicked += u64::from(d.clicked);
                    zero += u64::from(d.zero);
                }
                let last_zero = q.days.last().is_some_and(|d| d.zero > 0 && d.zero == d.searches);
                if clicked == 0 || zero == searches || last_zero || searches == 0 {
                    return None;
                }
                let ctr = clicked as f64 / searches as f64;
                Some((q.display.clone(), q.score_at(now, hl) * ctr.min(1.0)))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Distinct normalized queries held.
    pub fn queries(&self) -> usize {
        self.state.lock().queries.len()
    }
}
