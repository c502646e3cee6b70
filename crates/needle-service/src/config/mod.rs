//! Needle's configuration (one struct for every door), layered with figment:
//! built-in defaults < TOML file < `NEEDLE_*` environment variables < explicit overrides.

pub mod auth;
pub mod cluster;
pub mod limits;
pub mod semantic;

use crate::ServiceConfig;
use auth::AuthConfig;
use cluster::ClusterConfig;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use limits::{ConcurrencyConfig, RateLimitConfig};
use needle_core::profile::{self, ProfileConfig};
use needle_search::EngineConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prefix of the environment variables read by [`Config::load`] (`NEEDLE_HTTP_ADDR`, ...).
pub const ENV_PREFIX: &str = "NEEDLE_";

/// Separator of a section and its key in environment variable names:
/// `NEEDLE_AUTH__KEYS_FILE` is `auth.keys_file`.
pub const ENV_SECTION_SEPARATOR: &str = "__";

/// Every configuration key (`section.key` inside a section); only these are read from the
/// environment by the first env layer (`[recs]` has its own).
pub const KEYS: &[&str] = &[
    "data_dir",
    "http_addr",
    "log_format",
    "max_body_bytes",
    "max_batch_records",
    "refresh_interval_ms",
    "indexer_memory_mb",
    "store_cache_mb",
    "request_timeout_ms",
    "min_free_disk_mb",
    "half_life_days",
    "long_half_life_days",
    "long_term_weight",
    "auth.keys",
    "auth.keys_file",
    "auth.keys_reload_ms",
    "auth.allow_open",
    "auth.token_secret",
    "auth.token_max_ttl_s",
    "rate_limit.requests_per_s",
    "rate_limit.burst",
    "concurrency.max_in_flight",
    "concurrency.max_running",
    "concurrency.max_waiting",
    "concurrency.max_wait_ms",
    "concurrency.max_writes_in_flight",
    "concurrency.max_write_wait_ms",
    "cluster.nats",
    "cluster.redis",
    "cluster.node_id",
    "cluster.shared_dir",
    "cluster.stream",
    "cluster.log_replicas",
    "cluster.log_max_age_hours",
    "cluster.log_max_mb",
    "cluster.read_wait_ms",
    "cluster.write_timeout_ms",
    "search_analytics.log_searches",
    "search_analytics.click_min_users",
    "search_analytics.click_half_life_days",
    "search_analytics.click_position_eta",
    "search_analytics.max_queries",
    "search_analytics.window_days",
    "search_analytics.max_recent_searches",
    "semantic.enabled",
    "semantic.model_dir",
    "semantic.types",
    "semantic.ratio",
    "semantic.rrf_k",
    "semantic.min_similarity",
    "semantic.depth",
    "semantic.batch_size",
    "semantic.backfill",
    "semantic.ready_waits_for_index",
];

/// Smallest and largest accepted `indexer_memory_mb` (the index writer needs at least 15 MB).
pub const INDEXER_MEMORY_MB_RANGE: (u64, u64) = (15, 4095);
/// Smallest and largest accepted `store_cache_mb`.
pub const STORE_CACHE_MB_RANGE: (u64, u64) = (16, 65536);

/// Default of `min_free_disk_mb`: room for a few of the largest batches' footprint.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 256;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The server's configuration. See [`EXAMPLE_CONFIG`] for every key with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the catalog store and the index.
    pub data_dir: PathBuf,
    /// Socket address to listen on, `host:port`.
    pub http_addr: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Most records (or events) in one `POST /v1/catalog` (or `POST /v1/events`) batch.
    pub max_batch_records: usize,
    /// How often new writes become searchable, milliseconds.
    pub refresh_interval_ms: u64,
    /// Memory budget of the index writer, MiB.
    pub indexer_memory_mb: u64,
    /// Page cache of the catalog store, MiB (part of the server's resident memory).
    pub store_cache_mb: u64,
    /// Requests taking longer than this are answered `503 request_timeout`, milliseconds.
    pub request_timeout_ms: u64,
    /// Writes are refused with `507 storage_full` while the data directory's disk has less
    /// than this available, MiB (0: never; the stores then meet the full disk themselves).
    pub min_free_disk_mb: u64,
    /// Half-life of a listening event's weight in short-term taste, days.
    pub half_life_days: f64,
    /// Half-life of a listening event's weight in long-term taste, days.
    pub long_half_life_days: f64,
    /// Share of long-term taste in a listener's affinities, 0 to 1.
    pub long_term_weight: f64,
    /// Recommendations: model hyper-parameters and surface rules (`[recs]`; env
    /// `NEEDLE_RECS__<KEY>`, nested with `__`, e.g. `NEEDLE_RECS__ALS__FACTORS=64`).
    pub recs: needle_recs::serve::ServeConfig,
    /// `[auth]`: API keys, listener tokens, open mode (env `NEEDLE_AUTH__<KEY>`).
    pub auth: AuthConfig,
    /// `[rate_limit]`: requests per second per key, token or client IP.
    pub rate_limit: RateLimitConfig,
    /// `[concurrency]`: expensive requests in flight and waiting.
    pub concurrency: ConcurrencyConfig,
    /// `[cluster]`: replicated log, shared state, snapshots (env `NEEDLE_CLUSTER__<KEY>`).
    pub cluster: ClusterConfig,
    /// `[search_analytics]`: the search log, the click model, the analytics' bounds.
    pub search_analytics: needle_store::SearchStatsConfig,
    /// `[semantic]`: the embedding model, the types with vectors, hybrid fusion.
    pub semantic: semantic::SemanticConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./needle-data"),
            http_addr: "127.0.0.1:7700".to_string(),
            log_format: LogFormat::Text,
            max_body_bytes: 100 << 20,
            max_batch_records: 100_000,
            refresh_interval_ms: 500,
            indexer_memory_mb: 200,
            store_cache_mb: 64,
            request_timeout_ms: 30_000,
            min_free_disk_mb: DEFAULT_MIN_FREE_DISK_MB,
            half_life_days: profile::DEFAULT_HALF_LIFE_DAYS,
            long_half_life_days: profile::DEFAULT_LONG_HALF_LIFE_DAYS,
            long_term_weight: profile::DEFAULT_LONG_TERM_WEIGHT,
            recs: needle_recs::serve::ServeConfig::default(),
            auth: AuthConfig::default(),
            rate_limit: RateLimitConfig::default(),
            concurrency: ConcurrencyConfig::default(),
            cluster: ClusterConfig::default(),
            search_analytics: needle_store::SearchStatsConfig::default(),
            semantic: semantic::SemanticConfig::default(),
        }
    }
}

/// A configuration that cannot be loaded or is invalid. Messages name the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file given does not exist.
    #[error("config file `{}` does not exist", .0.display())]
    FileNotFound(PathBuf),
    /// A layer could not be parsed or has a value of the wrong type (one line per problem).
    #[error("invalid configuration: {}", .0.join("; "))]
    Parse(Vec<String>),
    /// Values parsed but are out of range (one line per problem, each `key: why`).
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl ConfigError {
    /// The individual problems, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::FileNotFound(p) => {
                vec![format!("config file `{}` does not exist", p.display())]
            }
            ConfigError::Parse(v) | ConfigError::Invalid(v) => v.clone(),
        }
    }
}

impl Config {
    /// The layered figment: defaults < `file` (TOML) < `NEEDLE_*` env < `overrides`.
    ///
    /// `overrides` is anything that serializes to a map of config keys (typically the CLI's
    /// flags struct); `None` fields and unit values are skipped, so an absent flag never
    /// hides a lower layer. Pass `()` for no overrides.
    pub fn figment(file: Option<&Path>, overrides: impl Serialize) -> Result<Figment, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::FileNotFound(path.to_path_buf()));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        fig = fig.merge(Env::prefixed(ENV_PREFIX).split(ENV_SECTION_SEPARATOR).only(KEYS));
        fig = fig.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|k| k.as_str().to_ascii_lowercase().starts_with("recs__"))
                .split("__"),
        );
        let overrides = Value::serialize(overrides).map_err(|e| ConfigError::Parse(vec![format!("overrides: {e}")]))?;
        match strip_empty(overrides) {
            None => {}
            Some(Value::Dict(_, dict)) => fig = fig.merge(Serialized::defaults(dict)),
            Some(other) => {
                return Err(ConfigError::Parse(vec![format!(
                    "overrides: expected a map of config keys, found {}",
                    other.to_actual()
                )]))
            }
        }
        Ok(fig)
    }

    /// Load the layered configuration (see [`Config::figment`]) and [`validate`](Config::validate) it.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Config, ConfigError> {
        let config: Config = Config::figment(file, overrides)?.extract().map_err(figment_problems)?;
        config.validate()?;
        Ok(config)
    }

    /// Check every value; all problems are reported at once, each naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.data_dir.as_os_str().is_empty() {
            problems.push("data_dir: must not be empty".to_string());
        }
        if self.http_addr.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "http_addr: `{}` is not a socket address (expected host:port, e.g. 127.0.0.1:7700)",
                self.http_addr
            ));
        }
        if self.max_body_bytes < 1024 {
            problems.push(format!(
                "max_body_bytes: must be at least 1024, got {}",
                self.max_body_bytes
            ));
        }
        if self.max_batch_records == 0 {
            problems.push("max_batch_records: must be at least 1".to_string());
        }
        if !(1..=3_600_000).contains(&self.refresh_interval_ms) {
            problems.push(format!(
                "refresh_interval_ms: must be between 1 and 3600000, got {}",
                self.refresh_interval_ms
            ));
        }
        let (lo, hi) = INDEXER_MEMORY_MB_RANGE;
        if !(lo..=hi).contains(&self.indexer_memory_mb) {
            problems.push(format!(
                "indexer_memory_mb: must be between {lo} and {hi}, got {}",
                self.indexer_memory_mb
            ));
        }
        let (lo, hi) = STORE_CACHE_MB_RANGE;
        if !(lo..=hi).contains(&self.store_cache_mb) {
            problems.push(format!(
                "store_cache_mb: must be between {lo} and {hi}, got {}",
                self.store_cache_mb
            ));
        }
        if self.min_free_disk_mb > 1 << 20 {
            problems.push(format!(
                "min_free_disk_mb: must be at most 1048576 (1 TiB; the unit is MiB), got {}",
                self.min_free_disk_mb
            ));
        }
        if !(1..=3_600_000).contains(&self.request_timeout_ms) {
            problems.push(format!(
                "request_timeout_ms: must be between 1 and 3600000, got {}",
                self.request_timeout_ms
            ));
        }
        if !(self.half_life_days.is_finite() && (0.01..=36_500.0).contains(&self.half_life_days)) {
            problems.push(format!(
                "half_life_days: must be between 0.01 and 36500, got {}",
                self.half_life_days
            ));
        }
        if !(self.long_half_life_days.is_finite() && (0.01..=36_500.0).contains(&self.long_half_life_days)) {
            problems.push(format!(
                "long_half_life_days: must be between 0.01 and 36500, got {}",
                self.long_half_life_days
            ));
        }
        if !(self.long_term_weight.is_finite() && (0.0..=1.0).contains(&self.long_term_weight)) {
            problems.push(format!(
                "long_term_weight: must be between 0 and 1, got {}",
                self.long_term_weight
            ));
        }
        problems.extend(self.recs.problems());
        problems.extend(self.semantic.problems());
        problems.extend(self.auth.problems(&self.http_addr));
        problems.extend(self.rate_limit.problems());
        problems.extend(self.concurrency.problems());
        problems.extend(self.cluster.problems());
        if let Err(e) = self.search_analytics.validate() {
            problems.push(e);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// `http_addr` as a socket address.
    pub fn socket_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.http_addr
            .parse()
            .map_err(|_| ConfigError::Invalid(vec![format!("http_addr: `{}` is not a socket address", self.http_addr)]))
    }

    /// `request_timeout_ms` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The engine settings this configuration implies.
    pub fn engine_config(&self) -> EngineConfig {
        let mut cfg = EngineConfig::new(self.data_dir.clone());
        cfg.refresh_interval = Duration::from_millis(self.refresh_interval_ms);
        cfg.indexer_memory_bytes =
            usize::try_from(self.indexer_memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        cfg.store_cache_bytes = usize::try_from(self.store_cache_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        cfg.min_free_disk_bytes = self.min_free_disk_mb.saturating_mul(1 << 20);
        cfg
    }

    /// The service settings this configuration implies (the engine's, decay, the
    /// recommendation service); `load_model` loads the served model in the background.
    pub fn service_config(&self, load_model: bool) -> ServiceConfig {
        let mut cfg = ServiceConfig::new(self.engine_config());
        cfg.profile = ProfileConfig {
            half_life_days: self.half_life_days,
            long_half_life_days: self.long_half_life_days,
            long_term_weight: self.long_term_weight,
        };
        cfg.recs = self.recs.clone();
        cfg.load_model = load_model;
        cfg.cluster = self.cluster.clone();
        cfg.search_stats = self.search_analytics.clone();
        cfg.semantic = self.semantic.clone();
        cfg
    }
}

/// Drop `None`/unit values (recursively) so absent overrides do not mask lower layers.
fn strip_empty(value: Value) -> Option<Value> {
    match value {
        Value::Empty(..) => None,
        Value::Dict(tag, dict) => {
            let dict: Dict = dict
                .into_iter()
                .filter_map(|(k, v)| strip_empty(v).map(|v| (k, v)))
                .collect();
            Some(Value::Dict(tag, dict))
        }
        other => Some(other),
    }
}

/// Turn figment's errors into one line per problem: `key: what (source)`.
fn figment_problems(err: figment::Error) -> ConfigError {
    let problems = err
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "config".to_string()
            } else {
                e.path.join(".")
            };
            let source = match &e.metadata {
                Some(md) if md.name.contains("environment") && !e.path.is_empty() => {
                    format!(
                        " (from environment variable `{ENV_PREFIX}{}`)",
                        e.path.join(ENV_SECTION_SEPARATOR).to_ascii_uppercase()
                    )
                }
                Some(md) => match &md.source {
                    Some(src) => format!(" (from {} {src})", md.name),
                    None => format!(" (from {})", md.name),
                },
                None => String::new(),
            };
            if auth::is_secret_path(&e.path) {
                format!("{key}: invalid value (not shown: it is a secret){source}")
            } else {
                format!("{key}: {}{source}", auth::redact_snippets(&e.kind.to_string()))
            }
        })
        .collect();
    ConfigError::Parse(problems)
}

/// A commented configuration file listing every key with its default.
pub const EXAMPLE_CONFIG: &str = r#"# Needle server configuration (TOML).
#
# Precedence, lowest to highest: built-in defaults < this file (`--config PATH`)
# < environment variables `NEEDLE_<KEY>` (e.g. NEEDLE_HTTP_ADDR=0.0.0.0:7700)
# < command-line flags. Every key is optional; unknown keys are an error.

# Directory holding the catalog store and the search index.
data_dir = "./needle-data"

# Address to listen on (host:port). Use 0.0.0.0:7700 to accept remote connections.
http_addr = "127.0.0.1:7700"

# Log line format: "text" (human-readable) or "json" (one object per line).
log_format = "text"

# Largest request body accepted, in bytes (100 MiB). Larger bodies get
# 413 payload_too_large.
max_body_bytes = 104857600

# Most records in one POST /v1/catalog (or events in one POST /v1/events) batch.
# Larger batches get 413 batch_too_large.
max_batch_records = 100000

# How often new writes become searchable, in milliseconds.
refresh_interval_ms = 500

# Memory budget of the index writer, in MiB (15 to 4095).
indexer_memory_mb = 200

# Page cache of the catalog store, in MiB (16 to 65536): the display records of search hits
# and recommendations are read through it. Count it in the container's memory limit. The
# start-up scan of the catalog fills it whole; on the 1.1M catalog 64 served searches as
# fast as 256 with about 250 MB less resident memory (BENCHMARKS.md §9).
store_cache_mb = 64

# Requests running longer than this are answered 503 request_timeout, in milliseconds.
request_timeout_ms = 30000

# Writes are refused with 507 storage_full while the data directory's disk has less than
# this available, in MiB (0 turns the check off). The stores must never meet a full disk
# themselves (the catalog store then refuses reads too until restarted), so keep this
# above a few times the largest batch you send. Writes resume by themselves once space is
# freed; reads never stop.
min_free_disk_mb = 256

# Taste keeps two decayed scores per item and blends them (docs/personalization.md).
# Half-life of a listening event's weight in short-term taste, in days (0.01 to 36500):
# a play this many days old counts half as much as one now.
half_life_days = 30.0
# Half-life in long-term taste, in days (0.01 to 36500): what the listener has always
# played, so that one new session does not erase years of history.
long_half_life_days = 1095.0
# Share of long-term taste in each affinity, 0 (short-term only) to 1.
long_term_weight = 0.5

# Recommendations. Environment: NEEDLE_RECS__<KEY>, nested keys joined by "__"
# (NEEDLE_RECS__ALS__FACTORS=64).
[recs]
# Train a first model in the background at start when none exists yet.
train_on_start = true
# discover: at most this many tracks per artist.
discover_per_artist = 2
# discover: default of its `discovery` parameter, 0 to 1. 0 ranks by taste alone; higher
# values fuse in a rank by ascending listener count (less-listened tracks first).
discover_discovery = 0.0
# release_radar: releases at most this many days old.
release_window_days = 28
# podcasts: episodes at most this many days old.
episode_window_days = 30
# daily_mix: at most this many mixes.
daily_mixes = 4
# Sessions idle this long are forgotten, in seconds.
session_idle_s = 14400
# Most items one DJ session serves (each is remembered so it is never served twice);
# then next answers 409 session_exhausted and the listener starts a new session.
session_max_items = 10000
# /health/ready waits while a saved model loads after a restart (503 "loading"), so a
# replica joins the load balancer once it serves recommendations; false: ready when search
# is (recommendation routes answer 503 model_loading with Retry-After meanwhile).
ready_waits_for_model = true

# Implicit ALS (defaults: the best of the HetRec Last.fm validation grid,
# docs/EVALUATION.md). regularization scales with the data: re-tune it.
[recs.als]
factors = 128
regularization = 50.0
alpha = 10.0
iterations = 15
confidence = { kind = "binary" }
solver = "cg"
cg_steps = 3
seed = 42

# Item vector index: exact scan below exact_threshold vectors, HNSW above.
[recs.index]
exact_threshold = 20000
m = 24
ef_construction = 200
ef_search = 128

# Weights blending two signals into one score; each a finite number >= 0. Training
# weights (content_*, popular_*) take effect at the next training, the others at once.
# See docs/recommendations.md.
[recs.blend]
# Content vector of an item nobody has played: creators' centroid vs tags' centroid.
content_creators = 0.7
content_tags = 0.3
# Popularity lists (cold start, short lists): training listeners vs catalog popularity.
popular_listeners = 0.6
popular_catalog = 0.4
# discover: collaborative list vs neighbours of the 3 most recent favourites.
discover_collaborative = 0.6
discover_recent = 0.4
# Sessions: pull towards what was played, push away from what was skipped.
session_played = 0.5
session_skipped = 0.7

[recs.select]
# Model selection by validation (docs/recommendations.md, "Model selection"): a training
# job holds out each listener's most recent valid_share of interactions, fits ALS,
# EASE^R, RP3beta and item-kNN over small grids, tunes a blend's weights on that slice,
# refits the winner on everything and serves it. false: ALS alone, as before.
enabled = true
valid_share = 0.1
# Listeners with fewer interactions give no validation items; at most
# max_valid_listeners (a seeded sample) do.
min_history = 5
max_valid_listeners = 5000
seed = 7
# Seconds the optional grid points may take (the first of each family always runs).
budget_secs = 300.0
# EASE^R's dense inverse is n x n: it runs on the most listened items up to this count
# (0 leaves it out), kept as a sparse table of ease_top_k weights per item.
ease_max_items = 8000
ease_top_k = 1000
# Blend weights are searched on a simplex grid of this step; NDCG@k decides; each
# listener's blend ranks the union of every part's top pool_depth.
weight_step = 0.1
k = 10
pool_depth = 100
# ALS with twice recs.als.factors is tried up to this many factors.
max_factors = 256
# Incremental training (POST /v1/admin/train {"incremental": true}, needle train
# --incremental): the blend chosen last time, ALS warm-started from the served model's
# vectors for this many iterations, no new selection.
warm_iterations = 5

# Access control (see README, "Access control"). In the environment, a key of a
# section is NEEDLE_<SECTION>__<KEY>, e.g. NEEDLE_AUTH__KEYS_FILE=/etc/needle/keys.toml.
[auth]
# API keys with scopes: "admin" (everything), "ingest" (POST /v1/events), "search"
# (search, reads, recommendations). Keys are at least 16 characters; generate them with
# `openssl rand -hex 32`. With no key at all Needle runs open, which is allowed on a
# loopback http_addr only (or with allow_open = true).
#   keys = [{ name = "backend", key = "...", scopes = ["search", "ingest"] }]
# In the environment: NEEDLE_AUTH__KEYS='[{name="backend",key="...",scopes=["search"]}]'
keys = []
# A TOML file with more keys, as [[keys]] tables of name, key and scopes (e.g. a
# mounted Kubernetes Secret). Read at start, then again when it changes and on SIGHUP:
# keys added work and keys removed are refused without a restart. A file that does not
# validate keeps the keys in use (logged, counted in needle_auth_keys_reloads_total).
#   keys_file = "/etc/needle/keys/keys.toml"
# How often keys_file is checked for a change (modification time and size), in
# milliseconds; 0 reloads it on SIGHUP only.
keys_reload_ms = 2000
# Serve without keys on a non-loopback address (`needle serve --allow-open`).
allow_open = false
# Secret signing listener tokens (POST /v1/admin/tokens), at least 32 bytes, the same on
# every replica. Without it, tokens are off. Prefer NEEDLE_AUTH__TOKEN_SECRET from a Secret.
#   token_secret = "..."
# Longest lifetime of a listener token, in seconds (at most 30 days).
token_max_ttl_s = 86400

# A token bucket per API key, listener token, or client IP when open; over it,
# 429 rate_limited with Retry-After. requests_per_s = 0 turns it off.
[rate_limit]
requests_per_s = 0.0
burst = 100

# Expensive requests (search, recommendations, similar items, sessions, training):
# at most max_in_flight are admitted at once; at most max_waiting wait for admission, each
# at most max_wait_ms; the others get 503 overloaded with Retry-After. Of those admitted,
# max_running compute at once (0: twice the CPUs) and the others wait their turn in order.
[concurrency]
max_in_flight = 32
max_running = 0
max_waiting = 128
max_wait_ms = 100
# Batch writes (POST /v1/catalog, POST /v1/events) running at once, each holding its body
# and parsed records in memory; others wait (without reading their body) at most
# max_write_wait_ms, then 503 overloaded.
max_writes_in_flight = 8
max_write_wait_ms = 10000

# A cluster of replicas (docs/cluster.md). Without nats, Needle is standalone: the write
# log is a local file. In the environment: NEEDLE_CLUSTER__NATS=nats://a:4222,... and so on.
[cluster]
# NATS servers with JetStream, comma-separated: the replicated write log.
nats = ""
# Redis Cluster nodes, comma-separated: DJ sessions, rate limits and training-job status
# shared by the replicas. Empty: they stay in this process.
redis = ""
# This replica's name, unique in the cluster (the pod name on Kubernetes). Empty: the
# host name.
node_id = ""
# Directory shared by the replicas for snapshots and trained models, or an
# S3-compatible bucket "s3://bucket/prefix" (credentials and endpoint from AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP). Empty:
# <data_dir>/snapshots.
shared_dir = ""
# JetStream stream holding the write log.
stream = "NEEDLE"
# Copies of each log entry kept by JetStream (1, 3 or 5).
log_replicas = 3
# Log retention: entries older than this (hours) or beyond this size (MiB) are dropped;
# a replica further behind restores a snapshot first.
log_max_age_hours = 168
log_max_mb = 10240
# Longest a read with min_seq waits for this replica to apply it, in milliseconds.
read_wait_ms = 5000
# Longest a write waits for the log's acknowledgement and its local apply, in milliseconds.
write_timeout_ms = 10000

# Search analytics and ranking learned from clicks (docs/search-analytics.md).
[search_analytics]
# Log every answered search (query, listener, results shown) for analytics and the click
# model. Buffered: appended to the write log every 250 ms; a crash loses that much.
log_searches = true
# Distinct listeners who must click an item for a query before clicks move it.
click_min_users = 5
# Half-life of click evidence, days.
click_half_life_days = 14.0
# Position bias: a click at position p weighs min(p, 10)^eta (0 to 3).
click_position_eta = 1.0
# Distinct normalized queries kept (the least searched recently are evicted).
max_queries = 50000
# Days of searches, clicks and votes kept.
window_days = 30
# Recent searches remembered so that clicks can name them by search_id.
max_recent_searches = 200000

# Semantic and hybrid search for podcasts and audiobooks (docs/search.md, "Semantic and
# hybrid search"). Needs the embedding model: `needle model fetch`.
[semantic]
# On when the model is installed; false: no vectors, mode=hybrid|semantic refused.
enabled = true
# Where the model is; empty: <data_dir>/models/embed/all-minilm-l6-v2.
model_dir = ""
# Types that get vectors (of show, episode, audiobook, chapter).
types = ["show", "episode", "audiobook"]
# Weight of the semantic arm when a request gives no semantic_ratio, 0 to 1.
ratio = 0.7
# Reciprocal rank fusion constant k.
rrf_k = 20.0
# Semantic candidates below this cosine similarity are dropped.
min_similarity = 0.25
# Candidates taken from each arm (10 to 200).
depth = 50
# Entities taken from the queue per batch (sorted by length, embedded in passes of 32:
# larger batches pad less).
batch_size = 512
# At start, embed every entity whose vector is missing or stale (false: only entities
# written while the server runs; backfill offline with `needle import`).
backfill = true
# /health/ready answers 503 loading until the vectors and their graph are loaded after a
# start (false: ready at once; auto searches are keyword searches meanwhile and
# mode=hybrid|semantic answers 503 semantic_loading).
ready_waits_for_index = true
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_matches_defaults() {
        let parsed: Config = Figment::from(Toml::string(EXAMPLE_CONFIG))
            .extract()
            .expect("example parses");
        assert_eq!(parsed, Config::default());
        for key in KEYS {
            let (section, leaf) = key.split_once('.').unwrap_or(("", key));
            let in_section = EXAMPLE_CONFIG
                .split_once(&format!("\n[{section}]"))
                .map_or(EXAMPLE_CONFIG, |(_, rest)| rest);
            assert!(
                in_section.contains(&format!("\n{leaf} = ")) || in_section.contains(&format!("\n#   {leaf} = ")),
                "{key} missing from EXAMPLE_CONFIG"
            );
        }
    }

    #[test]
    fn the_example_file_in_the_repository_is_the_example_config() {
        // README links to it; regenerate with the constant's text when keys change.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config.example.toml");
        let file = fs_err::read_to_string(path).expect("config.example.toml at the repository root");
        assert_eq!(file, EXAMPLE_CONFIG, "config.example.toml differs from EXAMPLE_CONFIG");
    }

    #[test]
    fn a_bad_blend_weight_names_its_key() {
        let cfg: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[recs.blend]\ndiscover_recent = -1.0\n"))
            .extract()
            .expect("parses");
        assert_eq!(
            cfg.validate().unwrap_err().problems(),
            ["recs.blend.discover_recent: must be a finite number >= 0, got -1"]
        );
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().expect("defaults valid");
        let e = Config::default().engine_config();
        assert_eq!(e.indexer_memory_bytes, 200 << 20);
        assert_eq!(e.store_cache_bytes, 64 << 20);
        assert_eq!(e.refresh_interval, Duration::from_millis(500));
        assert_eq!(
            Config::default().service_config(false).profile,
            ProfileConfig::default()
        );
    }

    #[test]
    fn validation_names_every_bad_key() {
        let cfg = Config {
            http_addr: "abc".into(),
            max_batch_records: 0,
            indexer_memory_mb: 1,
            store_cache_mb: 1,
            request_timeout_ms: 0,
            half_life_days: f64::NAN,
            long_term_weight: 1.5,
            ..Config::default()
        };
        let problems = cfg.validate().unwrap_err().problems();
        assert_eq!(problems.len(), 7, "{problems:?}");
        assert!(
            problems[0].starts_with("http_addr: `abc` is not a socket address"),
            "{problems:?}"
        );
        assert!(problems[1].starts_with("max_batch_records:"));
        assert!(problems[2].starts_with("indexer_memory_mb:"));
        assert!(problems[3].starts_with("store_cache_mb:"));
        assert!(problems[4].starts_with("request_timeout_ms:"));
        assert!(problems[5].starts_with("half_life_days:"));
        assert!(problems[6].starts_with("long_term_weight:"));
    }
}
