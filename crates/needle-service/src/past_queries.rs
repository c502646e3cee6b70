//! Past queries for suggestions: the queries search analytics may show
//! ([`SearchStats::suggestable_queries`]: typed by at least `k` distinct listeners, leading
//! to clicks, never zero-result ones), as a [`QuerySource`] the suggester blends in.

use needle_core::time::Clock;
use needle_search::suggest::{key_of, QuerySource};
use needle_store::SearchStats;
use parking_lot::Mutex;
use std::sync::Arc;

/// How long one list of suggestable queries is served before it is computed again: the
/// list walks every query kept (at most the analytics' cap), too much per keystroke.
const REFRESH_MS: i64 = 10_000;

/// Suggestable past queries, sorted by folded key for prefix lookups.
struct List {
    at_ms: i64,
    /// (folded key, display text, weight in `[0, 1]`), sorted by key.
    rows: Vec<(String, String, f64)>,
}

/// A [`QuerySource`] over the search statistics, refreshed every [`REFRESH_MS`].
pub struct PastQueries {
    stats: Arc<SearchStats>,
    k: usize,
    clock: Arc<dyn Clock>,
    list: Mutex<Option<Arc<List>>>,
}

impl PastQueries {
    /// Queries at least `k` distinct listeners typed (k-anonymity).
    pub fn new(stats: Arc<SearchStats>, k: usize, clock: Arc<dyn Clock>) -> PastQueries {
        PastQueries {
            stats,
            k: k.max(1),
            clock,
            list: Mutex::new(None),
        }
    }

    fn list(&self) -> Arc<List> {
        let now = self.clock.now_ms();
        let mut slot = self.list.lock();
        if let Some(l) = slot.as_ref().filter(|l| now.saturating_sub(l.at_ms) < REFRESH_MS) {
            return l.clone();
        }
        let found = self.stats.suggestable_queries(self.k, now);
        let top = found.iter().map(|q| q.1).fold(0f64, f64::max);
        let mut rows: Vec<(String, String, f64)> = found
            .into_iter()
            .filter(|(_, s)| s.is_finite() && *s > 0.0)
            .map(|(text, score)| (key_of(&text, false), text, (score / top).clamp(0.0, 1.0)))
            .filter(|(key, _, _)| !key.is_empty())
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.2.total_cmp(&a.2)));
        rows.dedup_by(|a, b| a.0 == b.0);
        let list = Arc::new(List { at_ms: now, rows });
        *slot = Some(list.clone());
        list
    }
}

impl QuerySource for PastQueries {
    fn completions(&self, prefix: &str, limit: usize) -> Vec<(String, f64)> {
        let list = self.list();
        let start = list.rows.partition_point(|r| r.0.as_str() < prefix);
        let mut out: Vec<(String, f64)> = list.rows[start..]
            .iter()
            .take_while(|r| r.0.starts_with(prefix))
            .map(|r| (r.1.clone(), r.2))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(limit);
        out
    }
}
