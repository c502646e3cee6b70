//! The search log and what is learned from it: every answered search is logged (buffered,
//! one `searches` log entry per batch), clicks and client-logged searches come in as
//! events, the click model reorders later answers, and analytics read the aggregates.
//!
//! A logged search is not an acknowledged write: the buffer is appended to the write log
//! every [`FLUSH_EVERY`] or [`FLUSH_AT`] searches by a thread of its own (never on the
//! search path, which only pushes to a vector), so a `kill -9` loses at most the last
//! batch. Clicks and client-logged searches are acknowledged writes like plays.

use crate::applier::{Applier, Op, Outcome};
use crate::error::{Error, Result};
use crate::Service;
use needle_core::search_event::{normalize_query, LoggedSearch};
use needle_search::{SearchRequest, SearchResponse};
use needle_store::searchstats::{ItemReport, SearchesReport};
use needle_store::Entry;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The search log's buffer is appended at least this often.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// ... or as soon as it holds this many searches.
pub const FLUSH_AT: usize = 512;
/// Most searches buffered while the log cannot take them (beyond: the oldest dropped).
const MAX_BUFFERED: usize = 100_000;

/// Searches answered, waiting to be appended to the write log.
pub(crate) struct SearchLog {
    buf: Mutex<Vec<LoggedSearch>>,
    wake: Condvar,
    /// Held while a batch is taken and written: a click written after a flush finds every
    /// search answered before it.
    writing: Mutex<()>,
    stop: AtomicBool,
    dropped: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl SearchLog {
    /// Start the flusher thread, writing through `applier`.
    pub fn start(applier: Weak<Applier>) -> Result<Arc<SearchLog>> {
        let log = Arc::new(SearchLog {
            buf: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            writing: Mutex::new(()),
            stop: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            thread: Mutex::new(None),
        });
        let weak = Arc::downgrade(&log);
        let handle = std::thread::Builder::new()
            .name("needle-search-log".into())
            .spawn(move || loop {
                let Some(log) = weak.upgrade() else { return };
                {
                    let mut buf = log.buf.lock();
                    if buf.len() < FLUSH_AT && !log.stop.load(Ordering::Acquire) {
                        log.wake.wait_for(&mut buf, FLUSH_EVERY);
                    }
                }
                log.flush(&applier);
                if log.stop.load(Ordering::Acquire) {
                    return;
                }
            })
            .map_err(|e| Error::Unavailable(format!("cannot start the search log: {e}")))?;
        *log.thread.lock() = Some(handle);
        Ok(log)
    }

    /// Buffer one answered search (no IO).
    pub fn push(&self, s: LoggedSearch) {
        let mut buf = self.buf.lock();
        if buf.len() >= MAX_BUFFERED {
            buf.remove(0);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        buf.push(s);
        if buf.len() >= FLUSH_AT {
            self.wake.notify_one();
        }
    }

    /// Append what is buffered to the write log now.
    pub fn flush(&self, applier: &Weak<Applier>) {
        let _w = self.writing.lock();
        let batch = std::mem::take(&mut *self.buf.lock());
        if batch.is_empty() {
            return;
        }
        let Some(applier) = applier.upgrade() else { return };
        let n = batch.len();
        if let Err(e) = applier.write(Op::new(Entry::Searches {
            searches: batch,
            clicks: Vec::new(),
        })) {
            self.dropped.fetch_add(n as u64, Ordering::Relaxed);
            tracing::warn!(searches = n, error = %e, "search log batch not written (analytics miss it)");
        }
    }

    /// Flush what is left and stop the thread.
    pub fn stop(&self, applier: &Weak<Applier>) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_all();
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
        self.flush(applier);
    }

    /// Searches dropped since start (buffer full, or the log refused a batch).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A new answer id: 128 random bits, hex.
fn search_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let word = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u64(n);
        h.write_u128(nanos);
        h.finish()
    };
    format!("{:016x}{:016x}", word(1), word(2))
}

impl Service {
    /// `req` with the click model's strengths for its query, when there are any (relevance
    /// searches with words only).
    pub(crate) fn with_clicks(&self, req: &SearchRequest) -> Option<SearchRequest> {
        let sorted = req.sort.is_some_and(|s| s.field != needle_search::SortField::Relevance);
        if sorted || req.q.trim().is_empty() {
            return None;
        }
        let strengths = self
            .searchstats
            .click_strengths(&normalize_query(&req.q), self.clock_ms())?;
        Some(SearchRequest {
            clicks: Some(Arc::new(strengths)),
            ..req.clone()
        })
    }

    /// Give the answer its `search_id` and log the search (buffered; see [`SearchLog`]).
    pub(crate) fn log_search(&self, req: &SearchRequest, resp: &mut SearchResponse) {
        let id = search_id();
        resp.search_id = Some(id.clone());
        let normalized = normalize_query(&req.q);
        let Some(log) = &self.search_log else { return };
        if normalized.is_empty() {
            return;
        }
        log.push(LoggedSearch {
            search_id: id,
            query: req.q.trim().to_string(),
            normalized,
            user_id: req.user_id.clone().filter(|u| !u.is_empty()),
            market: req.market.clone().filter(|m| !m.is_empty()),
            result_ids: resp.hits.iter().map(|h| h.id.clone()).collect(),
            took_ms: Some(resp.took_ms),
            zero_result: resp.total == 0,
            ts: self.clock_ms(),
            event_id: None,
        });
    }

    /// Append the buffered searches to the write log now (before clicks that may name
    /// them; tests).
    pub fn flush_search_log(&self) {
        if let Some(log) = &self.search_log {
            log.flush(&Arc::downgrade(&self.applier));
        }
    }

    /// Searches the log dropped since start (they are missing from analytics).
    pub fn search_log_dropped(&self) -> u64 {
        self.search_log.as_ref().map_or(0, |l| l.dropped())
    }

    /// Write validated search and click events (one `searches` entry); accepted and
    /// duplicate counts, and the entry's sequence number.
    pub(crate) fn write_search_events(
        &self,
        searches: Vec<LoggedSearch>,
        clicks: Vec<needle_core::search_event::Click>,
        key: Option<String>,
    ) -> Result<(usize, usize, u64)> {
        if !clicks.is_empty() {
            self.flush_search_log();
        }
        let (seq, outcome) = self.applier.write(Op {
            entry: Entry::Searches { searches, clicks },
            analyses: None,
            key,
        })?;
        Ok(match outcome {
            Outcome::Searched(a) => (a.accepted, a.duplicates, seq),
            _ => (0, 0, seq),
        })
    }

    /// Search analytics over `[from, to)` (epoch ms; defaults: the last 24 hours), at
    /// most `limit` queries per list. The search log's buffer is appended first, so the
    /// searches answered here until now are counted.
    pub fn search_analytics(&self, from: Option<i64>, to: Option<i64>, limit: usize) -> Result<SearchesReport> {
        let now = self.clock_ms();
        let to = to.unwrap_or(now.saturating_add(1));
        let from = from.unwrap_or(to.saturating_sub(24 * 3_600_000));
        if from >= to {
            return Err(Error::Invalid(needle_core::ValidationError::new(
                needle_core::error::ValidationKind::InvalidParameter,
                Some("from".into()),
                "parameter `from` must be before `to`",
            )));
        }
        // What this replica answered until now is counted (one log append when any).
        self.flush_search_log();
        Ok(self.searchstats.searches_report(from, to, limit))
    }

    /// The queries that lead to `item` (clicked in their results), at most `limit`.
    pub fn item_analytics(&self, item: &str, limit: usize) -> Result<ItemReport> {
        needle_core::validate::check_id(item, "id")?;
        self.flush_search_log();
        Ok(self.searchstats.item_report(item, limit, self.clock_ms()))
    }

    /// Past queries suggestions may show: typed by at least `k` distinct listeners, that
    /// led to clicks, never zero-result ones (display text and score, best first).
    pub fn suggestable_queries(&self, k: usize) -> Vec<(String, f64)> {
        self.searchstats.suggestable_queries(k, self.clock_ms())
    }
}
