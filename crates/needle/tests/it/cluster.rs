//! The cluster under faults, on loopback: 3 JetStream servers (the stream replicated R3),
//! a 6-node Redis Cluster (shared state) and 3 `needle serve` replicas. While a client
//! streams catalog writes and events to every replica and records each acknowledged
//! `seq`, the stream leader is killed (-9); a model is trained on one replica (its job
//! followed on another through Redis, the model activated on all through the log) and a
//! DJ session started on one replica continues on the others while the Redis primary
//! holding it is killed (-9); a replica is killed mid-batch and restarted, and another is
//! wiped and boots from a snapshot plus the log's tail. Afterwards every replica holds
//! every acknowledged write (read with `min_seq`), all state digests agree, and the
//! session never served an item twice.

use needle_service::testkit::redis::RedisCluster;
use needle_service::testkit::NatsCluster;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request per connection (JSON body), with extra headers.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    crate::server::request(port, method, path, &all, body)
}

fn json(port: u16, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = request(port, "GET", path, &[], "").unwrap();
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

/// A replica process.
struct Replica {
    node: String,
    dir: PathBuf,
    port: Arc<AtomicU16>,
    child: Option<Child>,
    nats: String,
    redis: String,
    shared: PathBuf,
}

impl Replica {
    fn start(&mut self) -> Duration {
        let started = Instant::now();
        let port = crate::server::free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.with_extension("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_needle"))
            .args(["serve", "--data-dir"])
            .arg(&self.dir)
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .args(["--nats", &self.nats, "--redis", &self.redis, "--node-id", &self.node])
            .arg("--shared-dir")
            .arg(&self.shared)
            .env("NEEDLE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok((200, _)) = request(port, "GET", "/health/ready", &[], "") {
                self.port.store(port, Ordering::Release);
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default();
        panic!("replica {} did not become ready; its log:\n{log}", self.node);
    }

    fn kill(&mut self) {
        self.port.store(0, Ordering::Release);
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn port(&self) -> u16 {
        self.port.load(Ordering::Acquire)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the client got acknowledged.
#[derive(Default)]
struct Acked {
    /// (artist id, seq)
    records: Vec<(String, u64)>,
    /// (user, event id, seq)
    events: Vec<(String, String, u64)>,
    /// When each acknowledgement arrived.
    times: Vec<Instant>,
}

/// POST with one idempotency key until some live replica acknowledges (at most 90 s).
fn post_until_acked(ports: &[Arc<AtomicU16>], turn: usize, path: &str, key: &str, body: &str) -> u64 {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    let mut i = turn;
    let mut last: Vec<String> = Vec::new();
    loop {
        let port = ports[i % ports.len()].load(Ordering::Acquire);
        i += 1;
        if port != 0 {
            let sent = Instant::now();
            match request(port, "POST", path, &[("Idempotency-Key", key)], body) {
                Ok((200, b)) => {
                    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                    assert!(v["rejected"].as_array().unwrap().is_empty(), "{b}");
                    return v["seq"].as_u64().unwrap();
                }
                other => {
                    let at = sent.duration_since(started);
                    last.push(format!("+{at:?} port {port} after {:?}: {other:?}", sent.elapsed()));
                    if last.len() > 12 {
                        last.remove(0);
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no replica acknowledged {key} within 90 s; the last answers:\n{}",
            last.join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn writer(ports: Vec<Arc<AtomicU16>>, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) {
    let mut i = 0usize;
    while !stop.load(Ordering::Acquire) {
        let ids: Vec<String> = (0..5).map(|j| format!("tr:w{i}-{j}")).collect();
        let body = ids
            .iter()
            .map(|id| format!(r#"{{"id":"{id}","type":"track","name":"Track {id}"}}"#))
            .collect::<Vec<_>>()
            .join("\n");
        let seq = post_until_acked(&ports, i, "/v1/catalog", &format!("cat-{i}"), &body);
        {
            let mut a = acked.lock().unwrap();
            a.records.extend(ids.into_iter().map(|id| (id, seq)));
            a.times.push(Instant::now());
        }
        let user = format!("lu{}", i % 7);
        let evs: Vec<String> = (0..5).map(|j| format!("ev{i}-{j}")).collect();
        // Each listener plays tracks of this batch and of the one before (a model to train).
        let body = evs
            .iter()
            .enumerate()
            .map(|(j, e)| {
                let item = format!("tr:w{}-{j}", if j % 2 == 0 { i } else { i.saturating_sub(1) });
                format!(r#"{{"user_id":"{user}","type":"play","item_id":"{item}","ts":"2026-11-20T12:00:00Z","event_id":"{e}"}}"#)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let seq = post_until_acked(&ports, i + 1, "/v1/events", &format!("ev-{i}"), &body);
        {
            let mut a = acked.lock().unwrap();
            a.events.extend(evs.into_iter().map(|e| (user.clone(), e, seq)));
            a.times.push(Instant::now());
        }
        i += 1;
    }
}

fn acks(acked: &Mutex<Acked>) -> usize {
    acked.lock().unwrap().times.len()
}

/// Wait until the client has `n` more acknowledgements than now.
fn more_acks(acked: &Mutex<Acked>, n: usize) {
    let target = acks(acked) + n;
    let deadline = Instant::now() + Duration::from_secs(120);
    while acks(acked) < target {
        assert!(Instant::now() < deadline, "writes stalled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status(port: u16) -> serde_json::Value {
    let (code, v) = json(port, "/v1/admin/cluster");
    assert_eq!(code, 200, "{v}");
    v
}

/// Poll `f` (bounded) until it gives a value; `Err` says why not yet, and the last reason
/// is in the message of a timeout.
fn until<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let why = match f() {
            Ok(v) => return v,
            Err(why) => why,
        };
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last answer: {why}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The next items of session `sid` on `port`: `Err` (the answer) on a clear `503` (the
/// shared state or the model is not there yet; retry), a panic on anything else.
fn next_items(port: u16, sid: &str) -> Result<Vec<String>, String> {
    let (code, v) = json(port, &format!("/v1/sessions/{sid}/next?limit=2"));
    match code {
        200 => Ok(v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()),
        503 => {
            let code = v["code"].as_str().unwrap_or_default().to_string();
            assert!(
                code == "shared_state_unavailable" || code == "model_not_ready",
                "a 503 that is not a clear retry: {v}"
            );
            Err(format!("{port}: {code} {v}"))
        }
        _ => panic!("session next on {port}: {code} {v}"),
    }
}

/// Serve the session's next items on `port` into `served`, checking none was served
/// before (the session's state lives in Redis, shared by the replicas).
fn continue_session(port: u16, sid: &str, served: &mut Vec<String>) {
    let items = until("the session's next items", || next_items(port, sid));
    assert!(!items.is_empty(), "the session ran dry");
    for id in &items {
        assert!(!served.contains(id), "{id} served twice: the session's state was lost");
    }
    served.extend(items);
}

/// What every server of the run knows, printed when the scenario fails: each replica's
/// cluster status and log first (a CI report keeps the start of a failure's output), then
/// each NATS server's `/jsz` and log.
fn diagnostics(nats: &NatsCluster, replicas: &[Replica]) -> String {
    let mut out = String::new();
    for r in replicas {
        let status = match r.port() {
            0 => "(down)".to_string(),
            p => request(p, "GET", "/v1/admin/cluster", &[], "")
                .map_or_else(|e| e.to_string(), |(c, b)| format!("{c} {b}")),
        };
        out.push_str(&format!(
            "--- replica {} /v1/admin/cluster: {status}\n--- replica {} log:\n{}\n",
            r.node,
            r.node,
            needle_service::testkit::tail(&r.dir.with_extension("log"), 80)
        ));
    }
    out.push_str(&nats.diagnostics());
    out
}

#[test]
fn replicas_lose_no_acknowledged_write_under_faults_and_converge() {
    let mut nats = NatsCluster::start(3);
    let mut redis = RedisCluster::start();
    let shared = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut replicas = (0..3)
        .map(|i| Replica {
            node: format!("r{i}"),
            dir: root.path().join(format!("r{i}")),
            port: Arc::new(AtomicU16::new(0)),
            child: None,
            nats: nats.urls(),
            redis: redis.urls().join(","),
            shared: shared.path().to_path_buf(),
        })
        .collect::<Vec<Replica>>();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&mut nats, &mut redis, &mut replicas);
    }));
    if let Err(panic) = run {
        eprintln!("=== diagnostics of the failed run\n{}", diagnostics(&nats, &replicas));
        std::panic::resume_unwind(panic);
    }
}

fn scenario(nats: &mut NatsCluster, redis: &mut RedisCluster, replicas: &mut [Replica]) {
    for r in replicas.iter_mut() {
        r.start();
    }
    let ports: Vec<Arc<AtomicU16>> = replicas.iter().map(|r| r.port.clone()).collect();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (ports, acked, stop) = (ports.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || writer(ports, acked, stop))
    };
    more_acks(&acked, 20);

    // 1. kill -9 the stream's leader.
    let leader = nats.stream_leader("NEEDLE").expect("the stream has a leader");
    nats.nodes[leader].kill();
    let killed_at = Instant::now();
    more_acks(&acked, 1);
    let next_ack = acked.lock().unwrap().times.last().map(|t| t.duration_since(killed_at));
    eprintln!("figure: NATS stream leader kill -9 -> next acknowledged write: {next_ack:?}");
    more_acks(&acked, 10);
    nats.nodes[leader].restart();
    nats.wait_ready(Duration::from_secs(60));
    more_acks(&acked, 10);

    // 2. Train on one replica; follow its job on another (the job's status is in Redis);
    // the model is activated on every replica through the log.
    let (code, body) = request(replicas[0].port(), "POST", "/v1/admin/train", &[], "").unwrap();
    assert_eq!(code, 202, "{body}");
    let job = serde_json::from_str::<serde_json::Value>(&body).unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    until("the training job, read on another replica", || {
        let (code, v) = json(replicas[1].port(), &format!("/v1/admin/jobs/{job}"));
        assert_eq!(code, 200, "{v}");
        assert_ne!(v["status"], "failed", "{v}");
        if v["status"] == "done" {
            Ok(())
        } else {
            Err(v.to_string())
        }
    });
    // 3. A DJ session started on one replica continues on the others, through a kill -9
    // of the Redis primary holding it.
    let (code, body) = request(replicas[1].port(), "POST", "/v1/users/lu1/sessions", &[], "{}").unwrap();
    assert_eq!(code, 201, "{body}");
    let sid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut served = Vec::new();
    continue_session(replicas[2].port(), &sid, &mut served);
    continue_session(replicas[0].port(), &sid, &mut served);
    let key = needle_service::shared::session_key(&sid);
    let primary = redis.primary_of(&key);
    // Its replica has the session before the primary dies (replication is asynchronous).
    redis.wait_replicated(primary);
    redis.kill(primary);
    continue_session(replicas[1].port(), &sid, &mut served);
    more_acks(&acked, 5);

    // 4. kill -9 a replica mid-batch, restart it on its data.
    replicas[1].kill();
    more_acks(&acked, 10);
    replicas[1].start();
    more_acks(&acked, 10);

    // 5. A snapshot, then a replica wiped: it boots from the snapshot plus the tail.
    let (code, body) = request(replicas[0].port(), "POST", "/v1/admin/snapshots", &[], "").unwrap();
    assert_eq!(code, 201, "{body}");
    more_acks(&acked, 10);
    replicas[2].kill();
    std::fs::remove_dir_all(&replicas[2].dir).unwrap();
    let took = replicas[2].start();
    eprintln!("figure: wiped replica serving again after {took:?}");
    more_acks(&acked, 10);

    // The session goes on on every replica, the wiped one included.
    for r in replicas.iter() {
        continue_session(r.port(), &sid, &mut served);
    }
    eprintln!("session items served: {}", served.len());

    stop.store(true, Ordering::Release);
    client.join().unwrap();
    let a = acked.lock().unwrap();
    let max_seq = a
        .records
        .iter()
        .map(|r| r.1)
        .chain(a.events.iter().map(|e| e.2))
        .max()
        .unwrap();
    eprintln!(
        "acknowledged: {} records, {} events, last seq {max_seq}",
        a.records.len(),
        a.events.len()
    );

    // Every replica holds every acknowledged write.
    for r in replicas.iter() {
        for (id, _) in &a.records {
            let (code, _) = request(r.port(), "GET", &format!("/v1/catalog/{id}?min_seq={max_seq}"), &[], "").unwrap();
            assert_eq!(code, 200, "{} lost {id}", r.node);
        }
        let mut per_user: std::collections::BTreeMap<&str, usize> = Default::default();
        for (u, _, _) in &a.events {
            *per_user.entry(u.as_str()).or_default() += 1;
        }
        for (u, n) in per_user {
            let (code, v) = json(r.port(), &format!("/v1/users/{u}/history?limit=200&min_seq={max_seq}"));
            assert_eq!(code, 200, "{v}");
            let got = v["events"].as_array().map_or(0, Vec::len);
            assert_eq!(got, n.min(200), "{} has {got} of {u}'s {n} events", r.node);
        }
    }
    // The wiped replica restored a snapshot: it applied fewer entries than the log holds.
    let s2 = status(replicas[2].port());
    assert!(s2["applied_entries"].as_u64().unwrap() < max_seq, "{s2}");

    // All digests agree at the same applied_seq.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all: Vec<serde_json::Value> = replicas.iter().map(|r| status(r.port())).collect();
        let same_seq = all.iter().all(|s| s["digest_seq"] == all[0]["digest_seq"]);
        if same_seq {
            for s in &all {
                assert_eq!(s["state_digest"], all[0]["state_digest"], "{all:?}");
                assert_eq!(s["lag"], 0, "{all:?}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "replicas did not converge: {all:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A write on one replica is readable on another with its seq.
    let (code, body) = request(
        replicas[0].port(),
        "POST",
        "/v1/catalog",
        &[],
        r#"{"id":"ar:last","type":"artist","name":"Last"}"#,
    )
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let seq = serde_json::from_str::<serde_json::Value>(&body).unwrap()["seq"]
        .as_u64()
        .unwrap();
    let (code, _) = request(
        replicas[2].port(),
        "GET",
        &format!("/v1/catalog/ar:last?min_seq={seq}"),
        &[],
        "",
    )
    .unwrap();
    assert_eq!(code, 200);
}
