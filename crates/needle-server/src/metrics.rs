//! Prometheus metrics: request counters and latency histograms per matched route, and
//! catalog gauges refreshed from `engine.stats()` at every scrape.
//!
//! Each [`Metrics`] owns its own recorder (no global recorder is installed), so any number
//! of routers can live in one process. The middleware and the scrape endpoint that feed and
//! read it are in `routes/observe.rs`.

use metrics::{describe_counter, describe_gauge, describe_histogram, with_local_recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use needle_core::EntityType;
use needle_search::CatalogStats;
use std::time::Duration;

/// Request latency histogram, labels `method`, `route`, `status`.
pub const REQUEST_DURATION: &str = "needle_http_request_duration_seconds";
/// Request counter, labels `method`, `route`, `status`.
pub const REQUESTS_TOTAL: &str = "needle_http_requests_total";
/// Entities stored, label `type`.
pub const CATALOG_ENTITIES: &str = "needle_catalog_entities";
/// Documents visible to search.
pub const CATALOG_SEARCHABLE: &str = "needle_catalog_searchable";
/// 1 when the last `stats()` call at scrape time succeeded, else 0.
pub const ENGINE_UP: &str = "needle_engine_up";
/// Listening events answered by `POST /v1/events`, label `outcome`
/// (`accepted`, `duplicate`, `rejected`).
pub const EVENTS_TOTAL: &str = "needle_events_total";
/// Listeners with a profile.
pub const LISTENERS: &str = "needle_listeners";
/// Gauge: the last write-log entry applied on this replica.
pub const LOG_APPLIED_SEQ: &str = "needle_log_applied_seq";
/// Gauge: the last write-log entry known to exist.
pub const LOG_SEQ: &str = "needle_log_seq";
/// Gauge: entries in the log not yet applied here (`log_seq - applied_seq`).
pub const LOG_LAG: &str = "needle_log_lag";
/// Counter: write-log entries applied since start (its rate is the apply rate).
pub const LOG_APPLIED_TOTAL: &str = "needle_log_applied_entries_total";

/// Counter: reloads of `auth.keys_file`, label `outcome` (`ok`, `failed`: the keys in use
/// were kept).
pub const KEYS_RELOADS_TOTAL: &str = "needle_auth_keys_reloads_total";
/// Gauge: API keys in use (after the last successful reload).
pub const KEYS_LOADED: &str = "needle_auth_keys";

/// Route label of requests that matched no route (keeps label cardinality bounded).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets, seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Longest wait for `engine.stats()` during a scrape.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(5);

/// A router's metrics registry.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with the metric descriptions registered.
    pub fn new() -> Metrics {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_string()), BUCKETS) {
            Ok(b) => b,
            // Only fails for an empty bucket list, which BUCKETS is not.
            Err(e) => {
                tracing::error!(error = %e, "cannot set histogram buckets");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        with_local_recorder(&recorder, || {
            describe_histogram!(
                REQUEST_DURATION,
                Unit::Seconds,
                "HTTP request latency by matched route."
            );
            describe_counter!(REQUESTS_TOTAL, "HTTP requests by matched route and status.");
            describe_gauge!(CATALOG_ENTITIES, "Entities stored in the catalog, by type.");
            describe_gauge!(CATALOG_SEARCHABLE, "Documents visible to search.");
            describe_gauge!(
                ENGINE_UP,
                "1 if the engine answered stats() at the last scrape, else 0."
            );
            describe_counter!(
                EVENTS_TOTAL,
                "Listening events received over HTTP, by outcome (accepted, duplicate, rejected)."
            );
            describe_gauge!(LISTENERS, "Listeners with a taste profile.");
            describe_gauge!(LOG_APPLIED_SEQ, "The last write-log entry applied on this replica.");
            describe_gauge!(LOG_SEQ, "The last write-log entry known to exist.");
            describe_gauge!(LOG_LAG, "Write-log entries not yet applied on this replica.");
            describe_counter!(LOG_APPLIED_TOTAL, "Write-log entries applied since start.");
            describe_counter!(
                KEYS_RELOADS_TOTAL,
                "Reloads of auth.keys_file by outcome (ok; failed: the keys in use were kept)."
            );
            describe_gauge!(KEYS_LOADED, "API keys in use after the last successful reload.");
        });
        Metrics { recorder, handle }
    }

    /// Record one finished request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = [
            ("method", method.to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ];
        with_local_recorder(&self.recorder, || {
            metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
            metrics::histogram!(REQUEST_DURATION, &labels).record(elapsed.as_secs_f64());
        });
    }

    /// Count the outcome of one events batch.
    pub fn record_events(&self, accepted: usize, duplicates: usize, rejected: usize) {
        with_local_recorder(&self.recorder, || {
            for (outcome, n) in [
                ("accepted", accepted),
                ("duplicate", duplicates),
                ("rejected", rejected),
            ] {
                metrics::counter!(EVENTS_TOTAL, "outcome" => outcome).increment(n as u64);
            }
        });
    }

    /// Set the write-log gauges: applied and known sequence numbers, entries applied.
    pub fn set_log(&self, applied: u64, log_seq: u64, applied_entries: u64) {
        with_local_recorder(&self.recorder, || {
            metrics::gauge!(LOG_APPLIED_SEQ).set(applied as f64);
            metrics::gauge!(LOG_SEQ).set(log_seq as f64);
            metrics::gauge!(LOG_LAG).set(log_seq.saturating_sub(applied) as f64);
            metrics::counter!(LOG_APPLIED_TOTAL).absolute(applied_entries);
        });
    }

    /// Count one reload of the keys file: `Some(keys in use)` when it was swapped in,
    /// `None` when it failed and the keys in use were kept.
    pub fn record_keys_reload(&self, loaded: Option<usize>) {
        with_local_recorder(&self.recorder, || {
            let outcome = if loaded.is_some() { "ok" } else { "failed" };
            metrics::counter!(KEYS_RELOADS_TOTAL, "outcome" => outcome).increment(1);
            if let Some(n) = loaded {
                metrics::gauge!(KEYS_LOADED).set(n as f64);
            }
        });
    }

    /// Set the listeners gauge.
    pub fn set_listeners(&self, n: usize) {
        with_local_recorder(&self.recorder, || metrics::gauge!(LISTENERS).set(n as f64));
    }

    /// Set the catalog gauges from `stats` (`None`: the engine did not answer).
    pub fn set_catalog(&self, stats: Option<&CatalogStats>) {
        with_local_recorder(&self.recorder, || {
            let Some(stats) = stats else {
                metrics::gauge!(ENGINE_UP).set(0.0);
                return;
            };
            metrics::gauge!(ENGINE_UP).set(1.0);
            for t in EntityType::ALL {
                let n = stats.by_type.get(t.as_str()).copied().unwrap_or(0);
                metrics::gauge!(CATALOG_ENTITIES, "type" => t.as_str()).set(n as f64);
            }
            for (t, n) in &stats.by_type {
                if t.parse::<EntityType>().is_err() {
                    metrics::gauge!(CATALOG_ENTITIES, "type" => t.clone()).set(*n as f64);
                }
            }
            metrics::gauge!(CATALOG_SEARCHABLE).set(stats.searchable as f64);
        });
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}
