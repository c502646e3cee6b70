//! The replicated write log on NATS JetStream: one stream, one total order.
//!
//! Every entry is one message of the stream `cluster.stream` (subjects
//! `<stream>.catalog`, `<stream>.events`, `<stream>.control`); its stream sequence number is
//! the entry's `seq`. Publishing waits for JetStream's acknowledgement (with R3, a quorum of
//! servers holds it) and carries a message id, so a retried publish inside the stream's
//! duplicate window is one entry. Each replica reads the stream with an ordered consumer
//! from its own `applied_seq + 1` (see [`follow`]).
//!
//! The NATS client is async; this module owns a small runtime and exposes blocking calls
//! (the service's methods block; they run on the server's blocking threads).

use crate::cluster::identity::LogIdentity;
use crate::config::cluster::{urls, ClusterConfig};
use crate::error::{Error, Result};
use async_nats::jetstream::{self, consumer, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Headroom kept under the server's `max_payload` for headers and subject.
const PAYLOAD_HEADROOM: usize = 4096;
/// How long JetStream remembers message ids for deduplication.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// What starts the id Needle writes into the description of a stream it creates.
const ID_PREFIX: &str = "needle-log-id=";

/// The description of a stream created by `node` now: the log's id (see
/// [`crate::cluster::identity`]).
fn description(node: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("Needle write log. {ID_PREFIX}{node}-{now:x} (replicas recognise their log by this id: keep it)")
}

/// The id in a stream's description, if Needle wrote one.
fn id_in(description: Option<&str>) -> Option<String> {
    let rest = &description?[description?.find(ID_PREFIX)? + ID_PREFIX.len()..];
    let id: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    (!id.is_empty()).then_some(id)
}

/// A stream's identity from its name, description and creation time.
pub(crate) fn identity_of(info: &stream::Info) -> LogIdentity {
    LogIdentity::Jetstream {
        stream: info.config.name.clone(),
        created_ns: i64::try_from(info.created.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        id: id_in(info.config.description.as_deref()),
    }
}

/// The stream's identity and bounds as last seen.
#[derive(Debug, Clone)]
pub struct StreamState {
    /// First sequence number the stream still holds (older entries were dropped by
    /// retention).
    pub first_seq: u64,
    /// Last sequence number in the stream.
    pub last_seq: u64,
    /// The stream's name and creation time: tells one log from another with the same
    /// name.
    pub identity: LogIdentity,
}

/// A connection to the cluster's log.
pub struct JetStreamLog {
    rt: Option<tokio::runtime::Runtime>,
    js: jetstream::Context,
    client: async_nats::Client,
    cfg: ClusterConfig,
    ensured: Mutex<bool>,
    /// This replica's node id (in the id of a stream it creates).
    node: String,
    /// Highest sequence number seen (acks and deliveries).
    pub(crate) log_seq: Arc<AtomicU64>,
    /// Tells the follower to stop (before the runtime goes away).
    stop: tokio::sync::watch::Sender<bool>,
    follower: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn nats_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("NATS JetStream: {what}: {e}"))
}

impl JetStreamLog {
    /// Connect (in the background: a cluster may start before NATS is up) to `cfg.nats`.
    pub fn connect(cfg: &ClusterConfig, node: &str) -> Result<JetStreamLog> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("needle-nats")
            .enable_all()
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot start the NATS runtime: {e}")))?;
        let servers = urls(&cfg.nats);
        let client = rt
            .block_on(
                async_nats::ConnectOptions::new()
                    .name(format!("needle-{node}"))
                    .retry_on_initial_connect()
                    .connection_timeout(Duration::from_secs(5))
                    .max_reconnects(None)
                    .connect(servers.clone()),
            )
            .map_err(|e| nats_error(&format!("connecting to {}", servers.join(",")), e))?;
        let mut js = {
            let _runtime = rt.enter();
            jetstream::new(client.clone())
        };
        js.set_timeout(Duration::from_millis(cfg.write_timeout_ms.clamp(100, 5_000)));
        Ok(JetStreamLog {
            rt: Some(rt),
            js,
            client,
            cfg: cfg.clone(),
            ensured: Mutex::new(false),
            node: node.to_string(),
            log_seq: Arc::new(AtomicU64::new(0)),
            stop: tokio::sync::watch::channel(false).0,
            follower: Mutex::new(None),
        })
    }

    /// Start the thread following the stream into `tx` from `start()` on (see [`follow`]).
    pub(crate) fn spawn_follower(
        &self,
        start: impl Fn() -> u64 + Send + 'static,
        bind: impl Fn(LogIdentity) -> std::result::Result<(), String> + Send + 'static,
        restart: Arc<tokio::sync::Notify>,
        tx: crossbeam_channel::Sender<Follow>,
    ) -> Result<()> {
        let handle = self.rt()?.handle().clone();
        let (js, stream, stop) = (self.js.clone(), self.cfg.stream.clone(), self.stop.subscribe());
        let log_seq = Arc::clone(&self.log_seq);
        let thread = std::thread::Builder::new()
            .name("needle-follower".into())
            .spawn(move || {
                let log = Followed {
                    js,
                    stream_name: stream,
                    log_seq,
                };
                handle.block_on(follow(log, start, bind, restart, stop, move |f| tx.send(f).is_ok()));
            })
            .map_err(|e| Error::Unavailable(format!("cannot start the log follower: {e}")))?;
        *self.follower.lock() = Some(thread);
        Ok(())
    }

    fn rt(&self) -> Result<&tokio::runtime::Runtime> {
        self.rt
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the NATS client is shut down".into()))
    }

    /// The JetStream context.
    pub(crate) fn context(&self) -> jetstream::Context {
        self.js.clone()
    }

    /// The stream's name.
    pub(crate) fn stream_name(&self) -> &str {
        &self.cfg.stream
    }

    /// How long a write may wait for the log.
    pub(crate) fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.cfg.write_timeout_ms)
    }

    /// Copies JetStream keeps.
    pub(crate) fn replicas(&self) -> usize {
        self.cfg.log_replicas
    }

    /// Run a future on the log's runtime (from a thread that is not a runtime worker).
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output> {
        Ok(self.rt()?.block_on(f))
    }

    /// The stream's configuration from `[cluster]`.
    pub(crate) fn stream_config(cfg: &ClusterConfig) -> stream::Config {
        let s = &cfg.stream;
        stream::Config {
            name: s.clone(),
            subjects: vec![format!("{s}.catalog"), format!("{s}.events"), format!("{s}.control")],
            storage: stream::StorageType::File,
            num_replicas: cfg.log_replicas,
            max_age: Duration::from_secs(cfg.log_max_age_hours * 3600),
            max_bytes: i64::try_from(cfg.log_max_mb.saturating_mul(1 << 20)).unwrap_or(i64::MAX),
            discard: stream::DiscardPolicy::Old,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        }
    }

    /// Create the stream if it does not exist (idempotent; every replica may try).
    pub(crate) fn ensure_stream(&self) -> Result<()> {
        if *self.ensured.lock() {
            return Ok(());
        }
        let cfg = stream::Config {
            description: Some(description(&self.node)),
            ..JetStreamLog::stream_config(&self.cfg)
        };
        let name = cfg.name.clone();
        self.block_on(async {
            match self.js.get_or_create_stream(cfg).await {
                Ok(s) => Ok(s),
                // Another replica created it first (with its own id): take that one.
                Err(e) => self.js.get_stream(&name).await.map_err(|_| e),
            }
        })?
        .map_err(|e| nats_error(&format!("creating stream {}", self.cfg.stream), e))?;
        *self.ensured.lock() = true;
        Ok(())
    }

    /// The stream's bounds.
    pub fn state(&self) -> Result<StreamState> {
        let name = self.cfg.stream.clone();
        self.block_on(async {
            let mut s = self
                .js
                .get_stream(&name)
                .await
                .map_err(|e| nats_error("stream info", e))?;
            let info = s.info().await.map_err(|e| nats_error("stream info", e))?;
            Ok(StreamState {
                first_seq: info.state.first_sequence,
                last_seq: info.state.last_sequence,
                identity: identity_of(info),
            })
        })?
    }

    /// Largest entry that fits one message.
    pub fn max_entry_bytes(&self) -> usize {
        self.client
            .server_info()
            .max_payload
            .saturating_sub(PAYLOAD_HEADROOM)
            .max(1024)
    }

    /// Publish encoded entries in order (`subjects[i]` for `entries[i]`) and wait for each
    /// acknowledgement; `ids[i]` is the message id JetStream deduplicates on. A publish
    /// that times out is retried with the same id until `write_timeout_ms`. Returns each
    /// entry's sequence number (a duplicate answers with the original's).
    pub fn publish(&self, entries: &[(String, Vec<u8>, String)]) -> Result<Vec<u64>> {
        self.ensure_stream()?;
        let deadline = Instant::now() + Duration::from_millis(self.cfg.write_timeout_ms);
        let stream = self.cfg.stream.clone();
        let seqs = self.block_on(async {
            let mut seqs = Vec::with_capacity(entries.len());
            for (kind, payload, id) in entries {
                let subject = format!("{stream}.{kind}");
                let payload = Bytes::from(payload.clone());
                let mut attempt = 0u32;
                let ack = loop {
                    attempt += 1;
                    let mut headers = HeaderMap::new();
                    headers.insert("Nats-Msg-Id", id.as_str());
                    let res = match self.js.publish_with_headers(subject.clone(), headers, payload.clone()).await {
                        Ok(fut) => fut.await.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    match res {
                        Ok(ack) => break ack,
                        Err(e) if Instant::now() < deadline => {
                            tracing::warn!(attempt, error = %e, "publish to the write log failed; retrying with the same id");
                            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
                        }
                        Err(e) => {
                            return Err(Error::Unavailable(format!(
                                "the write log (NATS JetStream) did not acknowledge within {} ms: {e}; retry the request with the same Idempotency-Key",
                                self.cfg.write_timeout_ms
                            )))
                        }
                    }
                };
                seqs.push(ack.sequence);
            }
            Ok(seqs)
        })??;
        if let Some(&last) = seqs.iter().max() {
            self.log_seq.fetch_max(last, Ordering::AcqRel);
        }
        Ok(seqs)
    }

    /// Drop every entry before `seq` from the stream, as retention does (operations and
    /// tests: a replica that still needs them must restore a newer snapshot).
    pub fn purge_before(&self, seq: u64) -> Result<()> {
        let name = self.cfg.stream.clone();
        self.block_on(async {
            let s = self.js.get_stream(&name).await.map_err(|e| nats_error("stream", e))?;
            s.purge().sequence(seq).await.map_err(|e| nats_error("purge", e))?;
            Ok(())
        })?
    }

    /// Delete the stream with every entry (operations and tests: a stream created again
    /// under the same name is another log).
    pub fn delete_stream(&self) -> Result<()> {
        let name = self.cfg.stream.clone();
        self.block_on(async {
            self.js
                .delete_stream(&name)
                .await
                .map_err(|e| nats_error("delete stream", e))?;
            *self.ensured.lock() = false;
            Ok(())
        })?
    }

    /// Delete every consumer of the stream (a test of recovery: followers recreate theirs).
    pub fn delete_consumers(&self) -> Result<usize> {
        let name = self.cfg.stream.clone();
        self.block_on(async {
            let s = self.js.get_stream(&name).await.map_err(|e| nats_error("stream", e))?;
            let mut names = s.consumer_names();
            let mut all = Vec::new();
            while let Some(n) = names.next().await {
                all.push(n.map_err(|e| nats_error("consumer names", e))?);
            }
            for n in &all {
                s.delete_consumer(n)
                    .await
                    .map_err(|e| nats_error("delete consumer", e))?;
            }
            Ok(all.len())
        })?
    }
}

impl Drop for JetStreamLog {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(t) = self.follower.lock().take() {
            let _ = t.join();
        }
        if let Some(rt) = self.rt.take() {
            // Dropping a runtime inside another one's context panics; this never blocks.
            rt.shutdown_background();
        }
    }
}

/// One entry as delivered by the log.
pub(crate) struct Delivered {
    pub seq: u64,
    pub payload: Bytes,
    /// Entries after this one in the stream at delivery time.
    pub pending: u64,
}

/// What the follower tells the applier besides entries.
pub(crate) enum Follow {
    Entry(Delivered),
    /// The log no longer holds the entries after `applied` (retention dropped them):
    /// this replica needs a newer snapshot.
    Gap {
        applied: u64,
        first_seq: u64,
    },
    /// The data directory holds state of another log (the stream was created again, or
    /// the directory is another cluster's): nothing is applied.
    WrongLog(String),
    /// A new consumer reads the log from `from` on: the applier's stall clock starts again
    /// (a consumer is given its full time before it is presumed lost).
    Started {
        from: u64,
    },
}

/// Longest wait of one pull request of the follower's consumer.
const PULL_EXPIRES: Duration = Duration::from_secs(4);

/// A consumer that delivered nothing for this long is checked against the stream: when
/// the stream holds entries after the last one delivered, the consumer is presumed lost
/// and recreated. Seen with NATS 2.9 after its stream leader was killed: a consumer
/// recreated then sent heartbeats but no entries, and the client library never noticed.
const QUIET_CHECK: Duration = Duration::from_secs(6);

/// Why a consumer ended when the applier asked for it.
const RESTART_REQUESTED: &str = "restart requested";

/// What the follower reads.
pub(crate) struct Followed {
    js: jetstream::Context,
    stream_name: String,
    /// Raised to the stream's last sequence number when the follower checks it.
    log_seq: Arc<AtomicU64>,
}

/// Read the stream in order from `start()` on, forever: an ordered consumer (no acks; it
/// recreates itself on a sequence mismatch or lost heartbeats) wrapped in a loop that
/// recreates it from the next needed entry when it ends or fails (stream or consumer
/// deleted, NATS down) or stays quiet while the stream holds entries it has not delivered
/// (see [`QUIET_CHECK`]). `start` is asked at each (re)creation; `send` blocks while the
/// applier is busy (back-pressure) and returns false when the applier is gone.
pub(crate) async fn follow(
    log: Followed,
    start: impl Fn() -> u64,
    bind: impl Fn(LogIdentity) -> std::result::Result<(), String>,
    restart: Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    send: impl Fn(Follow) -> bool,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return;
        }
        let from = start();
        let mut got_any = false;
        let delivered = &mut got_any;
        let Followed {
            js,
            stream_name,
            log_seq,
        } = &log;
        let result: std::result::Result<(), String> = async {
            let s = js.get_stream(stream_name).await.map_err(|e| e.to_string())?;
            if let Err(why) = bind(identity_of(s.cached_info())) {
                send(Follow::WrongLog(why));
                // Nothing of this log may be applied here: wait to be stopped.
                let _ = stop.changed().await;
                return Ok(());
            }
            let first = s.cached_info().state.first_sequence;
            if first > 1 && from < first {
                let gap = Follow::Gap {
                    applied: from.saturating_sub(1),
                    first_seq: first,
                };
                if !send(gap) {
                    return Ok(());
                }
                return Err(format!("entries {from}..{first} are no longer in the log"));
            }
            let consumer = s
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: from },
                    // Pull requests expire after this (the client's default is 30 s), and
                    // the idle heartbeat follows it down to half: a consumer lost with its
                    // server is noticed after seconds, not after the two missed 15 s
                    // heartbeats (twice over) of the client's defaults.
                    max_expires: PULL_EXPIRES,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
            // A restart asked for before this consumer existed was about an older one
            // (asked while this loop slept after a failure): it must not end this one at
            // once. Left pending, it did: each new consumer lived a few milliseconds, the
            // backoff stayed at its maximum and the stall watchdog asked again during
            // every sleep, so a replica stopped applying for good.
            let _ = restart.notified().now_or_never();
            if !send(Follow::Started { from }) {
                return Ok(());
            }
            tracing::info!(from, "following the write log");
            let mut next = from;
            let mut quiet_since = tokio::time::Instant::now();
            let mut check = tokio::time::interval(QUIET_CHECK / 3);
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    m = messages.next() => match m {
                        Some(Ok(m)) => {
                            let info = m.info().map_err(|e| e.to_string())?;
                            let d = Delivered {
                                seq: info.stream_sequence,
                                pending: info.pending,
                                payload: m.payload.clone(),
                            };
                            next = next.max(d.seq + 1);
                            if !send(Follow::Entry(d)) {
                                return Ok(());
                            }
                            *delivered = true;
                            quiet_since = tokio::time::Instant::now();
                        }
                        Some(Err(e)) => return Err(e.to_string()),
                        None => return Err("the consumer ended".into()),
                    },
                    _ = check.tick() => {
                        if quiet_since.elapsed() < QUIET_CHECK {
                            continue;
                        }
                        quiet_since = tokio::time::Instant::now();
                        // Not answering is the consumer's own business (heartbeats).
                        if let Ok(info) = s.get_info().await {
                            let last = info.state.last_sequence;
                            log_seq.fetch_max(last, Ordering::AcqRel);
                            if last >= next {
                                return Err(format!(
                                    "no entry delivered for {} s while the log holds entries {next}..={last}",
                                    QUIET_CHECK.as_secs()
                                ));
                            }
                        }
                    },
                    () = restart.notified() => return Err(RESTART_REQUESTED.into()),
                    _ = stop.changed() => return Ok(()),
                }
            }
        }
        .await;
        match result {
            Ok(()) => return,
            Err(e) => {
                // Asked to restart, the log is not at fault: no reason to wait longer.
                if got_any || e == RESTART_REQUESTED {
                    backoff = Duration::from_millis(100);
                }
                tracing::warn!(error = %e, "write-log consumer stopped; recreating it");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::NatsCluster;

    #[test]
    fn the_id_written_into_a_description_is_read_back_and_others_have_none() {
        let a = description("r0");
        let id = id_in(Some(&a)).expect("an id");
        assert!(id.starts_with("r0-") && id.len() > 4, "{id}");
        assert_ne!(id_in(Some(&description("r1"))), Some(id.clone()));
        assert_eq!(id_in(Some("made by hand")), None);
        assert_eq!(id_in(Some("needle-log-id= x")), None);
        assert_eq!(id_in(None), None);
        assert_eq!(id_in(Some("needle-log-id=abc")), Some("abc".into()));
    }

    /// The applier's stall watchdog (here with a 1.5 s period) asks for a restart while the
    /// follower sleeps after failures (the stream does not exist yet): that request was
    /// stored and ended the next consumer the moment it started, the backoff stayed at
    /// its longest, the watchdog asked again during each sleep, and the replica never
    /// applied again (a CI run saw a replica stuck for minutes). Now a request made
    /// before a consumer exists is dropped when it starts, a restart asked for does not
    /// lengthen the backoff, and the applier is told of each start. (Either of the first
    /// two alone makes this pass; without both it fails.)
    #[test]
    fn a_restart_asked_while_the_follower_sleeps_does_not_end_the_next_consumer() {
        let nats = NatsCluster::start(1);
        let cfg = ClusterConfig {
            nats: nats.urls(),
            node_id: "a".into(),
            stream: "RESTARTS".into(),
            log_replicas: 1,
            log_max_mb: 16,
            ..ClusterConfig::default()
        };
        let log = JetStreamLog::connect(&cfg, "a").unwrap();
        let restart = Arc::new(tokio::sync::Notify::new());
        let (tx, rx) = crossbeam_channel::unbounded();
        let next = Arc::new(AtomicU64::new(1));
        let start = {
            let next = Arc::clone(&next);
            move || next.load(Ordering::Acquire)
        };
        // No stream yet: the follower fails and backs off, longer each time.
        log.spawn_follower(start, |_| Ok(()), Arc::clone(&restart), tx).unwrap();

        // The watchdog: a restart when nothing happened for a period.
        let (progress_tx, progress_rx) = crossbeam_channel::unbounded::<()>();
        let (asked_tx, asked_rx) = crossbeam_channel::unbounded::<()>();
        let watchdog = {
            let restart = Arc::clone(&restart);
            std::thread::spawn(move || loop {
                match progress_rx.recv_timeout(Duration::from_millis(1500)) {
                    Ok(()) => {}
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        restart.notify_one();
                        let _ = asked_tx.send(());
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                }
            })
        };
        for _ in 0..3 {
            asked_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        }
        let entries: Vec<_> = (0..40)
            .map(|i| {
                (
                    "events".to_string(),
                    format!("entry {i}").into_bytes(),
                    format!("id-{i}"),
                )
            })
            .collect();
        log.publish(&entries).unwrap();

        let deadline = Instant::now() + Duration::from_secs(30);
        let mut starts = 0;
        while next.load(Ordering::Acquire) <= 40 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Follow::Entry(d)) => {
                    progress_tx.send(()).unwrap();
                    let want = next.load(Ordering::Acquire);
                    if d.seq == want {
                        assert_eq!(d.payload, format!("entry {}", want - 1).as_bytes());
                        next.store(want + 1, Ordering::Release);
                    }
                }
                Ok(Follow::Started { from }) => {
                    progress_tx.send(()).unwrap();
                    assert_eq!(from, next.load(Ordering::Acquire));
                    starts += 1;
                }
                Ok(Follow::Gap { .. } | Follow::WrongLog(_)) => panic!("no gap and no other log here"),
                Err(_) => panic!(
                    "applied {} of 40 entries in 30 s after {starts} consumers started",
                    next.load(Ordering::Acquire) - 1
                ),
            }
        }
        drop(progress_tx);
        watchdog.join().unwrap();
    }
}
