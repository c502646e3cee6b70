//! `needle bench-ingest`: sustained durable ingest of listening events, in-process through
//! [`Service::ingest_events`] or over HTTP (`POST /v1/events`) to a running server, plus
//! the time from acknowledgement to profile visibility and the memory of a profile.
//!
//! The events are synthetic and deterministic for a given `--seed`: event `i` has a user
//! among `--users`, an item among `--items` (skewed toward low ids, like real
//! popularity), a type (80 % play, 10 % skip, 5 % save, 2 % follow, 1 % unsave,
//! 1 % unfollow, 1 % search_click), an increasing timestamp and an `event_id`. Every
//! batch is prepared as an NDJSON body before the clock starts; in-process, parsing the
//! body into JSON values is timed like the server's parsing is (`--pre-parse` moves it
//! out of the timed section).

use anyhow::{bail, Context, Result};
use needle_service::{Service, ServiceConfig};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Options of `needle bench-ingest`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchIngestArgs {
    /// Events to send.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Events per batch (one request / one `ingest_events` call).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Send to a running server at this base URL (e.g. http://127.0.0.1:7700) instead
    /// of an in-process engine.
    #[arg(long)]
    pub http: Option<String>,
    /// Concurrent connections (HTTP) or calling threads (in-process).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Distinct listeners.
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Distinct items.
    #[arg(long, default_value_t = 100_000)]
    pub items: usize,
    /// Seed of the synthetic events (same seed, same events, same event ids).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Leave out `event_id` (no deduplication work).
    #[arg(long)]
    pub no_ids: bool,
    /// In-process: parse every batch into JSON values before the clock starts.
    #[arg(long)]
    pub pre_parse: bool,
    /// Acknowledgement-to-visibility probes (one event each).
    #[arg(long, default_value_t = 50)]
    pub probes: usize,
    /// HTTP: the server's process id, to report its resident memory growth per listener.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// In-process: keep the data directory (by default a fresh temporary one is removed).
    #[arg(long)]
    pub keep: bool,
}

/// Deterministic synthetic events.
struct Gen {
    seed: u64,
    users: u64,
    items: u64,
    ids: bool,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// 2024-05-01T12:00:00Z.
const BASE_TS: i64 = 1_714_564_800_000;

impl Gen {
    /// Append event `i` as one NDJSON line.
    fn line(&self, i: u64, out: &mut Vec<u8>) {
        let h1 = splitmix(self.seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let h2 = splitmix(h1);
        let h3 = splitmix(h2);
        let user = h1 % self.users.max(1);
        // Skewed toward low ids: u² on [0, 1).
        let u = (h2 >> 11) as f64 / (1u64 << 53) as f64;
        let item = ((u * u) * self.items.max(1) as f64) as u64;
        let ts = BASE_TS + (i as i64) * 37 + (h3 % 5000) as i64;
        let kind = match h3 % 100 {
            0..=79 => "play",
            80..=89 => "skip",
            90..=94 => "save",
            95..=96 => "follow",
            97 => "unsave",
            98 => "unfollow",
            _ => "search_click",
        };
        out.push(b'{');
        if self.ids {
            let _ = write!(out, "\"event_id\":\"s{}-{i}\",", self.seed);
        }
        let _ = write!(
            out,
            "\"user_id\":\"u{user}\",\"type\":\"{kind}\",\"item_id\":\"i{item}\",\"ts\":{ts}"
        );
        match kind {
            "play" => {
                let _ = write!(out, ",\"ms_played\":{}", 5_000 + (h2 % 295_000));
            }
            "search_click" => {
                let _ = write!(out, ",\"context\":\"query {}\"", h2 % 1000);
            }
            _ => {}
        }
        out.extend_from_slice(b"}\n");
    }

    /// NDJSON bodies of `n` events in batches of `batch`.
    fn bodies(&self, n: usize, batch: usize) -> Vec<Vec<u8>> {
        let batch = batch.max(1);
        (0..n.div_ceil(batch))
            .map(|b| {
                let mut body = Vec::with_capacity(batch * 130);
                for i in b * batch..((b + 1) * batch).min(n) {
                    self.line(i as u64, &mut body);
                }
                body
            })
            .collect()
    }
}

fn parse_ndjson(body: &[u8]) -> Result<Vec<serde_json::Value>> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).context("generated line is not JSON"))
        .collect()
}

/// Totals of a run.
#[derive(Default)]
struct Totals {
    accepted: usize,
    duplicates: usize,
    rejected: usize,
    /// Per-batch latency, microseconds.
    latencies: Vec<u64>,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.latencies.extend(other.latencies);
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0) as f64
        / 1000.0
}

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = fs_err::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Resident memory of a process, bytes (`VmRSS` of /proc/PID/status).
fn rss_bytes(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = fs_err::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Run the benchmark. `data_dir`: where the in-process engine lives (a fresh temporary
/// directory when `None`); `engine_cfg` gives the other engine settings.
pub fn run(args: &BenchIngestArgs, data_dir: Option<PathBuf>, engine_cfg: ServiceConfig) -> Result<()> {
    if args.batch == 0 || args.connections == 0 || args.users == 0 || args.items == 0 {
        bail!("--batch, --connections, --users and --items must be at least 1");
    }
    let gen = Gen {
        seed: args.seed,
        users: args.users as u64,
        items: args.items as u64,
        ids: !args.no_ids,
    };
    let t = Instant::now();
    let bodies = gen.bodies(args.events, args.batch);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    eprintln!(
        "generated {} events in {} batches of {} ({:.1} MB of NDJSON, {:.0} B/event) in {:.1}s",
        args.events,
        bodies.len(),
        args.batch,
        bytes as f64 / 1e6,
        bytes as f64 / args.events.max(1) as f64,
        t.elapsed().as_secs_f64()
    );
    match &args.http {
        Some(url) => run_http(args, url, bodies),
        None => run_in_process(args, bodies, data_dir, engine_cfg),
    }
}

fn report_rate(label: &str, args: &BenchIngestArgs, totals: &mut Totals, wall: f64, cpu: Option<f64>) {
    totals.latencies.sort_unstable();
    let l = &totals.latencies;
    println!(
        "{label}: {} events in {wall:.2}s = {:.0} events/s sustained ({} connections, batches of {}); accepted {}, duplicates {}, rejected {}",
        args.events,
        args.events as f64 / wall.max(1e-9),
        args.connections,
        args.batch,
        totals.accepted,
        totals.duplicates,
        totals.rejected
    );
    println!(
        "  batch latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(l, 0.5),
        pct(l, 0.99),
        pct(l, 1.0)
    );
    if let Some(cpu) = cpu {
        println!(
            "  CPU of this process during the run: {cpu:.2}s ({:.2} cores)",
            cpu / wall.max(1e-9)
        );
    }
    if totals.duplicates > 0 {
        println!("  note: duplicates > 0: these event ids were stored before (same --seed on the same data)");
    }
}

fn report_probes(ack: &mut [u64], visible: &mut [u64]) {
    ack.sort_unstable();
    visible.sort_unstable();
    println!(
        "  acknowledgement of a 1-event batch: p50 {:.2} ms, max {:.2} ms ({} probes)",
        pct(ack, 0.5),
        pct(ack, 1.0),
        ack.len()
    );
    println!(
        "  acknowledgement -> visible in the profile: p50 {:.3} ms, max {:.3} ms",
        pct(visible, 0.5),
        pct(visible, 1.0)
    );
}

fn run_in_process(
    args: &BenchIngestArgs,
    bodies: Vec<Vec<u8>>,
    data_dir: Option<PathBuf>,
    mut engine_cfg: ServiceConfig,
) -> Result<()> {
    let temp = data_dir.is_none();
    let dir =
        data_dir.unwrap_or_else(|| std::env::temp_dir().join(format!("needle-bench-ingest-{}", std::process::id())));
    if temp && dir.exists() {
        fs_err::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    engine_cfg.engine.data_dir = dir.clone();
    let profile_cfg = engine_cfg.profile;
    let result = (|| -> Result<()> {
        let engine = Service::open(engine_cfg).with_context(|| format!("opening {}", dir.display()))?;
        let parsed: Option<Vec<Mutex<Option<Vec<serde_json::Value>>>>> = if args.pre_parse {
            Some(
                bodies
                    .iter()
                    .map(|b| parse_ndjson(b).map(|v| Mutex::new(Some(v))))
                    .collect::<Result<_>>()?,
            )
        } else {
            None
        };
        let next = AtomicUsize::new(0);
        let cpu0 = cpu_seconds(None);
        let started = Instant::now();
        let mut totals = Totals::default();
        std::thread::scope(|s| -> Result<()> {
            let workers: Vec<_> = (0..args.connections)
                .map(|_| {
                    s.spawn(|| -> Result<Totals> {
                        let mut t = Totals::default();
                        loop {
                            let b = next.fetch_add(1, Ordering::Relaxed);
                            let Some(body) = bodies.get(b) else { break };
                            let t0 = Instant::now();
                            let values = match &parsed {
                                Some(p) => p[b]
                                    .lock()
                                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                                    .take()
                                    .unwrap_or_default(),
                                None => parse_ndjson(body)?,
                            };
                            let r = engine.ingest_events(values)?;
                            t.latencies.push(t0.elapsed().as_micros() as u64);
                            t.accepted += r.accepted;
                            t.duplicates += r.duplicates;
                            t.rejected += r.rejected.len();
                        }
                        Ok(t)
                    })
                })
                .collect();
            for w in workers {
                totals.add(w.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??);
            }
            Ok(())
        })?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(None).zip(cpu0).map(|(a, b)| a - b);
        report_rate("in-process durable ingest", args, &mut totals, wall, cpu);

        // Acknowledgement to visibility.
        let (mut ack, mut visible) = (Vec::new(), Vec::new());
        for p in 0..args.probes {
            let user = format!("probe-{}-{p}", args.seed);
            let event = serde_json::json!({"user_id": user, "type": "play", "item_id": "i0", "ts": BASE_TS});
            let t0 = Instant::now();
            let r = engine.ingest_events(vec![event])?;
            let t1 = Instant::now();
            if r.accepted != 1 {
                bail!("probe event not accepted: {r:?}");
            }
            loop {
                if let Some(v) = engine.profile(&user, 1)? {
                    if v.events.get("play").copied().unwrap_or(0) >= 1 {
                        break;
                    }
                }
                if t1.elapsed() > Duration::from_secs(10) {
                    bail!("probe {user} not visible after 10 s");
                }
            }
            ack.push((t1 - t0).as_micros() as u64);
            visible.push(t1.elapsed().as_micros() as u64);
        }
        report_probes(&mut ack, &mut visible);
        engine.shutdown()?;
        drop(engine);

        // Profile memory: rebuild the profiles from the log in this process and measure
        // both the profiles' own estimate and the resident memory growth.
        let rss0 = rss_bytes(None);
        let t = Instant::now();
        let store = needle_store::EventStore::open(&dir.join("events"), profile_cfg)?;
        let replay = t.elapsed().as_secs_f64();
        let rss1 = rss_bytes(None);
        let mut approx = 0usize;
        let mut counted = 0usize;
        for u in 0..args.users {
            if let Some(p) = store.profile(&format!("u{u}")) {
                approx += p.approx_bytes();
                counted += 1;
            }
        }
        let n = store.users();
        drop(store);
        let log_bytes = fs_err::metadata(dir.join("events").join("events.log"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "  restart: {n} listeners rebuilt from the {:.1} MB log in {replay:.2}s ({:.0} events/s)",
            log_bytes as f64 / 1e6,
            (totals.accepted + args.probes) as f64 / replay.max(1e-9)
        );
        println!(
            "  profile memory: {:.0} B/listener by Profile::approx_bytes ({counted} synthetic listeners, {:.1} events each)",
            approx as f64 / counted.max(1) as f64,
            totals.accepted as f64 / counted.max(1) as f64
        );
        if let (Some(a), Some(b)) = (rss0, rss1) {
            println!(
                "  resident memory growth while rebuilding: {:.1} MB = {:.0} B/listener (includes the event-id dedup set: {} ids)",
                b.saturating_sub(a) as f64 / 1e6,
                b.saturating_sub(a) as f64 / n.max(1) as f64,
                if args.no_ids { 0 } else { totals.accepted }
            );
        }
        Ok(())
    })();
    if temp && !args.keep {
        let _ = fs_err::remove_dir_all(&dir);
    } else {
        eprintln!("data kept in {}", dir.display());
    }
    result
}

/// `host:port` of an `http://` base URL.
fn host_port(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("--http must be an http:// URL, got `{url}`"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        bail!("--http `{url}` has no host");
    }
    Ok(if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    })
}

/// A keep-alive HTTP/1.1 connection (one request at a time).
struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: &str) -> Conn {
        Conn {
            addr: addr.to_string(),
            stream: None,
            buf: Vec::with_capacity(1 << 16),
        }
    }

    /// Send one request, reconnecting (and retrying once) if the kept-alive connection was
    /// closed. Returns the status and the body.
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        match self.try_request(method, path, body) {
            Ok(r) => Ok(r),
            Err(_) => {
                self.stream = None;
                self.try_request(method, path, body)
            }
        }
    }

    fn try_request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).with_context(|| format!("connecting to {}", self.addr))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(120)))?;
            self.stream = Some(s);
        }
        let Some(s) = self.stream.as_mut() else {
            bail!("not connected")
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes())?;
        if !body.is_empty() {
            s.write_all(body)?;
        }
        // Headers.
        self.buf.clear();
        let header_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = s.read(&mut chunk)?;
            if n == 0 {
                bail!("connection closed before the response");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).to_ascii_lowercase();
        let status: u16 = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let length: Option<usize> = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok());
        let chunked = head
            .lines()
            .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
        let close = head
            .lines()
            .any(|l| l.starts_with("connection:") && l.contains("close"));
        let mut body_bytes = self.buf[header_end..].to_vec();
        if let Some(len) = length {
            while body_bytes.len() < len {
                let mut chunk = [0u8; 16 * 1024];
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    bail!("connection closed mid-body");
                }
                body_bytes.extend_from_slice(&chunk[..n]);
            }
            body_bytes.truncate(len);
        } else if chunked {
            loop {
                if let Some(decoded) = dechunk(&body_bytes) {
                    body_bytes = decoded;
                    break;
                }
                let mut chunk = [0u8; 16 * 1024];
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    bail!("connection closed mid-body");
                }
                body_bytes.extend_from_slice(&chunk[..n]);
            }
        } else {
            s.read_to_end(&mut body_bytes)?;
            self.stream = None;
        }
        if close {
            self.stream = None;
        }
        Ok((status, body_bytes))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decode a complete chunked body; `None` while incomplete.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end]).ok()?.split(';').next()?.trim(),
            16,
        )
        .ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn run_http(args: &BenchIngestArgs, url: &str, bodies: Vec<Vec<u8>>) -> Result<()> {
    let addr = host_port(url)?;
    let mut probe = Conn::new(&addr);
    let (status, _) = probe
        .request("GET", "/health/ready", b"")
        .with_context(|| format!("is `needle serve` running at {url}?"))?;
    if status != 200 {
        bail!("{url}/health/ready answered {status}");
    }
    let rss0 = rss_bytes(args.server_pid);
    let server_cpu0 = cpu_seconds(args.server_pid);
    let next = AtomicUsize::new(0);
    let cpu0 = cpu_seconds(None);
    let started = Instant::now();
    let mut totals = Totals::default();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..args.connections)
            .map(|_| {
                s.spawn(|| -> Result<Totals> {
                    let mut conn = Conn::new(&addr);
                    let mut t = Totals::default();
                    loop {
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(b) else { break };
                        let t0 = Instant::now();
                        let (status, resp) = conn.request("POST", "/v1/events", body)?;
                        t.latencies.push(t0.elapsed().as_micros() as u64);
                        if status != 200 {
                            bail!("POST /v1/events answered {status}: {}", String::from_utf8_lossy(&resp));
                        }
                        let v: serde_json::Value = serde_json::from_slice(&resp).context("response is not JSON")?;
                        let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
                        t.accepted += n("accepted");
                        t.duplicates += n("duplicates");
                        t.rejected += v["rejected"].as_array().map_or(0, Vec::len);
                    }
                    Ok(t)
                })
            })
            .collect();
        for w in workers {
            totals.add(
                w.join()
                    .map_err(|_| anyhow::anyhow!("a connection thread panicked"))??,
            );
        }
        Ok(())
    })?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(None).zip(cpu0).map(|(a, b)| a - b);
    report_rate("HTTP durable ingest", args, &mut totals, wall, cpu);
    if let Some(sc) = cpu_seconds(args.server_pid).zip(server_cpu0).map(|(a, b)| a - b) {
        if args.server_pid.is_some() {
            println!(
                "  CPU of the server during the run: {sc:.2}s ({:.2} cores)",
                sc / wall.max(1e-9)
            );
        }
    }

    let (mut ack, mut visible) = (Vec::new(), Vec::new());
    for p in 0..args.probes {
        let user = format!("probe-{}-{p}", args.seed);
        let event = format!("{{\"user_id\":\"{user}\",\"type\":\"play\",\"item_id\":\"i0\",\"ts\":{BASE_TS}}}\n");
        let t0 = Instant::now();
        let (status, resp) = probe.request("POST", "/v1/events", event.as_bytes())?;
        let t1 = Instant::now();
        if status != 200 || !String::from_utf8_lossy(&resp).contains("\"accepted\":1") {
            bail!("probe not accepted: {status} {}", String::from_utf8_lossy(&resp));
        }
        loop {
            let (status, _) = probe.request("GET", &format!("/v1/users/{user}/profile?top=1"), b"")?;
            if status == 200 {
                break;
            }
            if t1.elapsed() > Duration::from_secs(10) {
                bail!("probe {user} not visible after 10 s (last status {status})");
            }
        }
        ack.push((t1 - t0).as_micros() as u64);
        visible.push(t1.elapsed().as_micros() as u64);
    }
    report_probes(&mut ack, &mut visible);
    if let (Some(a), Some(b)) = (rss0, rss_bytes(args.server_pid)) {
        println!(
            "  server resident memory growth: {:.1} MB over the run ({:.0} B per synthetic listener; includes allocator slack and the dedup set)",
            b.saturating_sub(a) as f64 / 1e6,
            b.saturating_sub(a) as f64 / args.users.max(1) as f64
        );
    } else {
        println!("  profile memory: run in-process (or pass --server-pid) to measure it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_events_are_deterministic_and_valid() {
        let g = Gen {
            seed: 7,
            users: 10,
            items: 100,
            ids: true,
        };
        let a = g.bodies(2500, 1000);
        let b = g.bodies(2500, 1000);
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        let mut n = 0;
        for body in &a {
            for v in parse_ndjson(body).unwrap() {
                needle_core::event::parse_event(&v).unwrap_or_else(|e| panic!("{v}: {e}"));
                n += 1;
            }
        }
        assert_eq!(n, 2500);
    }

    #[test]
    fn chunked_bodies_decode() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").as_deref(),
            Some(&b"abcde"[..])
        );
        assert_eq!(dechunk(b"3\r\nab"), None);
        assert_eq!(host_port("http://127.0.0.1:7700/").unwrap(), "127.0.0.1:7700");
        assert_eq!(host_port("http://localhost").unwrap(), "localhost:80");
        assert!(host_port("https://x").is_err());
    }
}
