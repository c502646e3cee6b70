//! Command-line interface.

use crate::dataset::{self, DatasetName};
use crate::import;
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use needle_search::SearchRequest;
use needle_service::config::{Config, LogFormat};
use needle_service::{Service, ServiceConfig};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Needle: search and discovery for audio catalogs.
#[derive(Parser, Debug)]
#[command(name = "needle", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Layering: defaults < file < NEEDLE_* env < flags.
    #[arg(long, global = true, env = "NEEDLE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (catalog store and index).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Command,
}

/// Options of `needle train`.
#[derive(Args, Debug)]
struct TrainArgs {
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Refit the served model's chosen blend warm-started from its vectors
    /// (`recs.select.warm_iterations`) instead of a full training with model selection.
    #[arg(long)]
    incremental: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP API.
    Serve(ServeArgs),
    /// Import a catalog file (.jsonl or .jsonl.gz) into the data directory.
    Import(ImportArgs),
    /// Import listening events (.jsonl or .jsonl.gz, the `POST /v1/events` format) into
    /// the data directory, in durable batches.
    ///
    /// Bad lines are rejected one by one with the line and field named; events whose
    /// `event_id` is already stored are counted as duplicates, so a file can be imported
    /// again safely.
    ImportEvents(ImportArgs),
    /// Train the recommendation model from the stored events and catalog, save it as the
    /// next version under `<data_dir>/models` and print the training figures (JSON).
    ///
    /// Run it while no server uses the data directory (a running server trains with
    /// `POST /v1/admin/train` instead).
    Train(TrainArgs),
    /// Offline evaluation on HetRec Last.fm: the RecBole protocol (8:1:1 split, full
    /// ranking; Recall/NDCG/Hit/Precision@k next to the published BPR and LightGCN), the
    /// listener-holdout protocol, grids and HNSW recall.
    ///
    /// Example: `needle eval --data ../shared/data/hetrec2011-lastfm-2k --seeds 3`.
    Eval(crate::eval_cmd::EvalArgs),
    /// Rebuild the search index from the catalog store (one segment), e.g. after changing
    /// analysis settings. Stop the server first: the data directory must not be in use.
    /// (A server also rebuilds by itself when it finds no index or one of another schema.)
    Reindex,
    /// Search the local data directory and print a table.
    Search(SearchArgs),
    /// Run a query file in-process and report each query's hits and latency (JSON Lines).
    ///
    /// Input lines: `{"q": "...", "types"?: [...], "limit"?: n}`. Output lines:
    /// `{"q", "ids": [...], "micros"}`, then a summary on stderr. Each query runs
    /// `--repeat` times; the reported latency is the last run (warm).
    BenchQueries(BenchArgs),
    /// Measure durable event ingest: events/s in batches (in-process, or over HTTP to a
    /// running server with `--http URL`), acknowledgement-to-profile latency and profile
    /// memory per listener.
    ///
    /// In-process runs use a fresh temporary data directory unless `--data-dir` is given.
    BenchIngest(crate::bench_ingest::BenchIngestArgs),
    /// Write a consistent snapshot of the data directory (catalog store, index, events,
    /// served model, `applied_seq`) into `<shared_dir>/snapshots` (default
    /// `<data_dir>/snapshots`) and print its manifest (JSON). Stop the server first, or
    /// use `POST /v1/admin/snapshots` on a running one.
    Snapshot,
    /// Restore a snapshot into an empty data directory (every file's size and hash
    /// checked): the one given with `--from`, else the newest in the snapshots directory.
    /// A cluster replica then replays the log after the snapshot's `applied_seq`.
    Restore(RestoreArgs),
    /// The text-embedding model for semantic search: install it, check it.
    Model {
        #[command(subcommand)]
        cmd: crate::model_cmd::ModelCmd,
    },
    /// Work with the public datasets.
    Dataset {
        #[command(subcommand)]
        cmd: DatasetCmd,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (host:port).
    #[arg(long)]
    http_addr: Option<String>,
    /// Log format: text or json.
    #[arg(long, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
    /// TOML file of API keys (`[[keys]]` with name, key, scopes), e.g. a mounted Secret
    /// (`auth.keys_file`).
    #[arg(long, value_name = "PATH")]
    keys_file: Option<PathBuf>,
    /// Serve without API keys even on a non-loopback address (`auth.allow_open`):
    /// anyone who can reach the address can write, read and erase.
    #[arg(long)]
    allow_open: bool,
    /// NATS servers with JetStream, comma-separated: run as a replica of a cluster whose
    /// write log is replicated there (`cluster.nats`). Without it, standalone.
    #[arg(long, value_name = "URLS")]
    nats: Option<String>,
    /// Redis Cluster nodes, comma-separated: shared sessions, rate limits, job status
    /// (`cluster.redis`).
    #[arg(long, value_name = "URLS")]
    redis: Option<String>,
    /// This replica's name in the cluster (`cluster.node_id`; default: the host name).
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Directory shared by the replicas for snapshots and models, or an S3 bucket
    /// `s3://bucket/prefix` (`cluster.shared_dir`).
    #[arg(long, value_name = "PATH")]
    shared_dir: Option<String>,
}

fn parse_log_format(s: &str) -> std::result::Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("`{other}` is not a log format; use text or json")),
    }
}

#[derive(Args, Debug)]
struct RestoreArgs {
    /// The snapshot directory (`.../snapshots/snapshot-<seq>-<node>`); with an `s3://`
    /// shared directory, also a snapshot's name or URL in that bucket.
    #[arg(long, value_name = "DIR")]
    from: Option<String>,
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// The file to import.
    file: PathBuf,
    /// Records per durable batch.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Print at most this many rejections.
    #[arg(long, default_value_t = 20)]
    show_rejections: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Index writer memory for the import, MiB, shared by the indexing threads (at least
    /// the configured `indexer_memory_mb`): more memory, fewer segments to merge.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(15..=4095))]
    indexer_memory_mb: u64,
    /// Indexing threads for the import. One thread builds one segment, so no merge is
    /// needed at the end; on 2 cores that was fastest (the catalog writer takes the other
    /// core). With many cores, more threads and the final merge may win.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    indexer_threads: u16,
    /// Leave the index segments unmerged (faster import; queries scan one dictionary per
    /// segment until a later merge).
    #[arg(long)]
    no_merge: bool,
    /// Do not embed the spoken-word entities after the import (the server then does it in
    /// the background at start). Without an installed model nothing is embedded anyway.
    #[arg(long)]
    no_embed: bool,
    /// Catalog store page cache for the import, MiB (at least the configured
    /// `store_cache_mb`): every record inserts into B-trees keyed by id, and pages evicted
    /// between batches are read back (1.1M records: 69.6 s with 256, 56.6-66.3 s with more).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(16..=65_536))]
    store_cache_mb: u64,
}

#[derive(Args, Debug)]
struct SearchArgs {
    /// The query (empty: browse, most popular first).
    #[arg(default_value = "")]
    query: String,
    /// Number of hits.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Comma-separated types.
    #[arg(long)]
    types: Option<String>,
    /// Filter expression (e.g. `tag:rock AND year:1990..1999`).
    #[arg(long)]
    filter: Option<String>,
    /// Market (ISO 3166-1 alpha-2).
    #[arg(long)]
    market: Option<String>,
    /// Order: `relevance`, `popularity`, `release_date` or `name`, optionally `:asc` or
    /// `:desc` (default: relevance, or popularity without a query).
    #[arg(long)]
    sort: Option<String>,
    /// Comma-separated facets to count over every match: type, tags, language, release_year.
    #[arg(long)]
    facets: Option<String>,
    /// Values per facet (default 20, max 100).
    #[arg(long)]
    max_facet_values: Option<usize>,
    /// Print the JSON response instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Query file (JSON Lines).
    file: PathBuf,
    /// Output file (JSON Lines); stdout when absent.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Runs per query.
    #[arg(long, default_value_t = 2)]
    repeat: usize,
}

#[derive(Subcommand, Debug)]
enum DatasetCmd {
    /// Convert a dataset folder (or `all` with the data root) to the import format.
    ///
    /// `lastfm-events` converts the Last.fm plays (`user_artists.dat`) to listening events
    /// for `needle import-events` instead: one `play` per (user, artist) with `count` =
    /// plays, item ids matching the `lastfm` catalog.
    Convert {
        /// billboard, lastfm, podcastindex, apple, librivox, changelog, all, or lastfm-events.
        name: String,
        /// Dataset folder (for `all`: the folder holding every dataset).
        path: PathBuf,
        /// Output file (.jsonl or .jsonl.gz).
        #[arg(short, long)]
        out: PathBuf,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Print (Markdown) how `convert all` resolves Billboard and Last.fm artists into one
    /// entity each: counts, collisions, and random samples of merges and of near-misses
    /// to judge by hand (see docs/entity-resolution.md).
    ResolveReport {
        /// The folder holding every dataset.
        path: PathBuf,
        /// Seed of the random samples.
        #[arg(long, default_value_t = 17)]
        seed: u64,
        /// Merges, and near-misses, to draw.
        #[arg(long, default_value_t = 50)]
        sample: usize,
    },
}

#[derive(Serialize, Default)]
struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<AuthOverrides>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterOverrides>,
}

/// Flags of the `[cluster]` section; absent flags leave lower layers alone.
#[derive(Serialize, Default)]
struct ClusterOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    nats: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_dir: Option<String>,
}

impl ClusterOverrides {
    fn from_flags(a: &ServeArgs) -> Option<ClusterOverrides> {
        let o = ClusterOverrides {
            nats: a.nats.clone(),
            redis: a.redis.clone(),
            node_id: a.node_id.clone(),
            shared_dir: a.shared_dir.clone(),
        };
        (o.nats.is_some() || o.redis.is_some() || o.node_id.is_some() || o.shared_dir.is_some()).then_some(o)
    }
}

/// Flags of the `[auth]` section; absent flags leave lower layers alone.
#[derive(Serialize, Default)]
struct AuthOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    keys_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_open: Option<bool>,
}

impl AuthOverrides {
    fn from_flags(keys_file: Option<PathBuf>, allow_open: bool) -> Option<AuthOverrides> {
        let o = AuthOverrides {
            keys_file,
            allow_open: allow_open.then_some(true),
        };
        (o.keys_file.is_some() || o.allow_open.is_some()).then_some(o)
    }
}

fn load_config(cli: &Cli, extra: Overrides) -> Result<Config> {
    let o = Overrides {
        data_dir: cli.data_dir.clone(),
        ..extra
    };
    Config::load(cli.config.as_deref(), o).map_err(|e| anyhow::anyhow!("{e}"))
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NEEDLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tantivy=warn"));
    // Colour codes only on a terminal: a log file or a collector gets plain text.
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.init(),
    }
}

fn open_service(cfg: &Config, load_model: bool) -> Result<Service> {
    open_with(cfg, cfg.service_config(load_model))
}

/// Offline commands that write bypass the cluster's log, so a replica would diverge from
/// the others: refuse them there.
fn standalone_only(cfg: &Config, what: &str) -> Result<()> {
    if cfg.cluster.is_clustered() {
        anyhow::bail!(
            "`needle {what}` writes to this data directory only, but it is a cluster replica (cluster.nats is set): \
             write through the API of any replica (POST /v1/catalog, POST /v1/events, POST /v1/admin/train) so every replica gets it"
        );
    }
    Ok(())
}

fn open_with(cfg: &Config, service_cfg: ServiceConfig) -> Result<Service> {
    Service::open(service_cfg).map_err(|e| {
        // redb's lock: another process (a running `needle serve`) has the directory.
        if e.to_string().contains("Database already open") {
            anyhow::anyhow!(
                "the data directory {} is in use by another Needle process (a running `needle serve`?): \
                 stop it first, or go through its HTTP API instead (POST /v1/catalog, POST /v1/events, \
                 GET /v1/search, POST /v1/admin/train)",
                cfg.data_dir.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("opening data directory {}", cfg.data_dir.display()))
        }
    })
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match &cli.cmd {
        Command::Serve(a) => {
            let cfg = load_config(
                &cli,
                Overrides {
                    http_addr: a.http_addr.clone(),
                    log_format: a.log_format,
                    auth: AuthOverrides::from_flags(a.keys_file.clone(), a.allow_open),
                    cluster: ClusterOverrides::from_flags(a),
                    ..Default::default()
                },
            )?;
            init_logs(cfg.log_format);
            let service = Arc::new(open_service(&cfg, true)?);
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(needle_server::serve(cfg, service))
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        Command::Import(a) => {
            let cfg = load_config(&cli, Overrides::default())?;
            standalone_only(&cfg, "import")?;
            init_logs(LogFormat::Text);
            let mut engine_cfg = cfg.engine_config();
            engine_cfg.bulk = true;
            // One index commit at the end instead of one per refresh interval: each commit
            // flushes every indexing thread's segment and stalls the pipeline, and the
            // final merge then has hundreds of small segments to combine. Acknowledged
            // batches are durable in the catalog store all along; an interrupted import
            // re-indexes them from the store's change log on the next start.
            engine_cfg.refresh_interval = std::time::Duration::from_secs(24 * 3600);
            engine_cfg.indexer_memory_bytes = engine_cfg
                .indexer_memory_bytes
                .max((a.indexer_memory_mb as usize) << 20);
            engine_cfg.indexer_threads = Some(usize::from(a.indexer_threads));
            engine_cfg.store_cache_bytes = engine_cfg
                .store_cache_bytes
                .max(usize::try_from(a.store_cache_mb << 20).unwrap_or(usize::MAX));
            let mut service_cfg = cfg.service_config(false);
            service_cfg.engine = engine_cfg;
            let service = open_with(&cfg, service_cfg)?;
            let summary = import::import_file(&service, &a.file, a.batch, !a.quiet, !a.no_merge)?;
            service.shutdown()?;
            drop(service);
            summary.print(a.show_rejections);
            if !a.no_embed && summary.accepted > 0 {
                let mut embed_cfg = cfg.service_config(false);
                embed_cfg.semantic.backfill = true;
                embed_cfg.offline_embedding = true;
                let service = open_with(&cfg, embed_cfg)?;
                import::embed_all(&service, !a.quiet)?;
                service.shutdown()?;
            }
            if summary.accepted == 0 && !summary.rejected.is_empty() {
                anyhow::bail!(
                    "every record of {} was rejected ({}); nothing was imported",
                    a.file.display(),
                    summary.rejected.len()
                );
            }
            Ok(())
        }
        Command::ImportEvents(a) => {
            let cfg = load_config(&cli, Overrides::default())?;
            standalone_only(&cfg, "import-events")?;
            init_logs(LogFormat::Text);
            let service = open_service(&cfg, false)?;
            let summary = import::import_events(&service, &a.file, a.batch, !a.quiet)?;
            service.shutdown()?;
            summary.print(a.show_rejections);
            if summary.accepted == 0 && summary.duplicates == 0 && !summary.rejected.is_empty() {
                anyhow::bail!(
                    "every event of {} was rejected ({}); nothing was imported",
                    a.file.display(),
                    summary.rejected.len()
                );
            }
            Ok(())
        }
        Command::Train(a) => {
            let cfg = load_config(&cli, Overrides::default())?;
            standalone_only(&cfg, "train")?;
            init_logs(LogFormat::Text);
            // The served model is not loaded (a full training starts from the listeners and
            // the catalog, and numbers its model after the newest file), except to start an
            // incremental one from it.
            let service = open_service(&cfg, false)?;
            if a.incremental {
                service.recs().load_current_in_background();
            }
            let bar = if a.quiet {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new(1000)
            };
            let started = std::time::Instant::now();
            let stats = service.train_now_with(a.incremental, &mut |p| bar.set_position((p * 1000.0) as u64))?;
            bar.finish_and_clear();
            let version = service.recs().model().map(|m| m.version).unwrap_or(0);
            service.shutdown()?;
            println!(
                "{}",
                serde_json::json!({
                    "model_version": version,
                    "seconds": started.elapsed().as_secs_f64(),
                    "stats": stats,
                })
            );
            Ok(())
        }
        Command::Eval(a) => crate::eval_cmd::run(a),
        Command::Snapshot => {
            let cfg = load_config(&cli, Overrides::default())?;
            init_logs(LogFormat::Text);
            // Offline: the local state as it is (a cluster replica's log is not followed).
            let mut service_cfg = cfg.service_config(false);
            service_cfg.cluster.nats.clear();
            let service = open_with(&cfg, service_cfg)?;
            let started = std::time::Instant::now();
            let m = service.snapshot()?;
            service.shutdown()?;
            eprintln!(
                "snapshot at applied_seq {} ({} files, {} bytes) in {:.1}s",
                m.applied_seq,
                m.files.len(),
                m.bytes(),
                started.elapsed().as_secs_f64()
            );
            println!("{}", serde_json::to_string_pretty(&m)?);
            Ok(())
        }
        Command::Restore(a) => {
            let cfg = load_config(&cli, Overrides::default())?;
            init_logs(LogFormat::Text);
            let shared = needle_service::cluster::remote::SharedDir::open(&cfg.service_config(false))?;
            let src = match &a.from {
                Some(p) => shared.snapshot_ref(p)?,
                None => shared
                    .list_snapshots()?
                    .into_iter()
                    .next()
                    .map(|(p, _)| p)
                    .ok_or_else(|| anyhow::anyhow!("no snapshot in {shared}"))?,
            };
            let started = std::time::Instant::now();
            let m = shared
                .restore(&src, &cfg.data_dir)
                .with_context(|| format!("restoring {} into {}", src.display(), cfg.data_dir.display()))?;
            eprintln!(
                "restored {} (applied_seq {}, {} bytes) into {} in {:.1}s",
                src.display(),
                m.applied_seq,
                m.bytes(),
                cfg.data_dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Model { cmd } => {
            let cfg = load_config(&cli, Overrides::default())?;
            crate::model_cmd::run(cmd, &cfg.data_dir)
        }
        Command::BenchIngest(a) => {
            let cfg = load_config(&cli, Overrides::default())?;
            init_logs(LogFormat::Text);
            crate::bench_ingest::run(a, cli.data_dir.clone(), cfg.service_config(false))
        }
        Command::Dataset {
            cmd: DatasetCmd::Convert { name, path, out, quiet },
        } if name.trim().eq_ignore_ascii_case(dataset::LASTFM_EVENTS) => {
            let started = std::time::Instant::now();
            let summary = dataset::convert_lastfm_events(path, out, !quiet)?;
            eprintln!(
                "{summary} to {} in {:.1}s",
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Reindex => {
            let cfg = load_config(&cli, Overrides::default())?;
            init_logs(LogFormat::Text);
            let started = std::time::Instant::now();
            // Opening the store first fails while another process (a server) has it open,
            // before anything is deleted.
            drop(
                needle_store::CatalogStore::open(&cfg.data_dir)
                    .with_context(|| format!("opening data directory {}", cfg.data_dir.display()))?,
            );
            let index_dir = cfg.data_dir.join("index");
            if index_dir.exists() {
                fs_err::remove_dir_all(&index_dir).with_context(|| format!("removing {}", index_dir.display()))?;
            }
            // As an import: one indexing thread with 1 GiB builds one segment.
            let mut engine_cfg = cfg.engine_config();
            engine_cfg.indexer_memory_bytes = engine_cfg.indexer_memory_bytes.max(1 << 30);
            engine_cfg.indexer_threads = Some(1);
            let mut service_cfg = cfg.service_config(false);
            service_cfg.engine = engine_cfg;
            let service = open_with(&cfg, service_cfg)?;
            let entities = service.stats()?.entities;
            service.shutdown()?;
            eprintln!(
                "reindexed {entities} entities in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Search(a) => {
            let cfg = load_config(&cli, Overrides::default())?;
            // A search reads: it must not create an empty data directory where none is.
            if !cfg.data_dir.join("catalog.redb").is_file() {
                anyhow::bail!(
                    "no Needle data in {}: import a catalog first (`needle import FILE`), or pass --data-dir",
                    cfg.data_dir.display()
                );
            }
            // ... nor log its search (analytics are of what listeners searched).
            let mut service_cfg = cfg.service_config(false);
            service_cfg.search_stats.log_searches = false;
            let service = open_with(&cfg, service_cfg)?;
            let types = match &a.types {
                Some(t) => t
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim().parse().map_err(|m: String| anyhow::anyhow!(m)))
                    .collect::<Result<Vec<_>>>()?,
                None => vec![],
            };
            let sort = match &a.sort {
                Some(s) => Some(s.parse().map_err(|m: String| anyhow::anyhow!("--sort: {m}"))?),
                None => None,
            };
            let facets = match &a.facets {
                Some(list) => list
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.parse().map_err(|m: String| anyhow::anyhow!("--facets: {m}")))
                    .collect::<Result<Vec<_>>>()?,
                None => vec![],
            };
            let req = SearchRequest {
                q: a.query.clone(),
                types,
                limit: Some(a.limit),
                filter: a.filter.clone(),
                market: a.market.clone(),
                sort,
                facets,
                max_facet_values: a.max_facet_values,
                ..Default::default()
            };
            let res = service.search(&req)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&res)?);
            } else {
                import::print_table(&res);
            }
            service.shutdown()?;
            Ok(())
        }
        Command::BenchQueries(a) => {
            let cfg = load_config(&cli, Overrides::default())?;
            let service = open_service(&cfg, false)?;
            import::bench_queries(&service, &a.file, a.out.as_deref(), a.repeat.max(1))?;
            service.shutdown()?;
            Ok(())
        }
        Command::Dataset {
            cmd: DatasetCmd::Convert { name, path, out, quiet },
        } => {
            let started = std::time::Instant::now();
            let summary = if name == "all" {
                dataset::convert_all(path, out, !quiet)?
            } else {
                let n: DatasetName = name.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
                dataset::convert(n, path, out, !quiet)?
            };
            eprintln!(
                "wrote {} entities to {} in {:.1}s ({} skipped, {} merged into entities of other sources): {:?}",
                summary.written,
                out.display(),
                started.elapsed().as_secs_f64(),
                summary.skipped,
                summary.merged,
                summary.by_type
            );
            Ok(())
        }
        Command::Dataset {
            cmd: DatasetCmd::ResolveReport { path, seed, sample },
        } => dataset::resolve_report(path, *seed, *sample, &mut std::io::stdout().lock()),
    }
}
