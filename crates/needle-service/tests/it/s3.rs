//! `cluster.shared_dir = "s3://bucket/prefix"` against a real S3-compatible server on
//! loopback: `s3s-fs` (the s3s project's S3 server on a local directory; scripts/test
//! installs it with `cargo install s3s-fs --version 0.14.1 --features binary --locked`).
//! Every transfer goes through its HTTP API: snapshots written, listed newest first and
//! restored into an empty directory with the same state digest; damaged objects refused;
//! models shared by hash (a multipart upload and ranged reads); a wiped cluster replica
//! restoring from the bucket at open.

use crate::fixture::catalog;
use needle_search::EngineConfig;
use needle_service::cluster::remote::{SharedDir, SnapshotRef};
use needle_service::config::cluster::ClusterConfig;
use needle_service::testkit::{free_port, NatsCluster};
use needle_service::{Service, ServiceConfig};
use serde_json::json;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const BUCKET: &str = "needle-test";

/// One `s3s-fs` server; the AWS_* variables point at it while the guard is held (the
/// client reads them, and they are process-wide: one server at a time per process).
struct S3Server {
    child: Child,
    root: tempfile::TempDir,
    _env: MutexGuard<'static, ()>,
}

fn s3s_fs() -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    std::env::var("NEEDLE_S3S_FS")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            std::env::var("PATH")
                .unwrap_or_default()
                .split(':')
                .map(|d| Path::new(d).join("s3s-fs")),
        )
        .chain([home.join("bin/s3s-fs")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`s3s-fs` (the S3-compatible test server) is not installed: run scripts/test, or \
                 `cargo install s3s-fs --version 0.14.1 --features binary --locked` (or set NEEDLE_S3S_FS)"
            )
        })
}

impl S3Server {
    fn start() -> S3Server {
        static ENV: Mutex<()> = Mutex::new(());
        let env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = free_port();
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", "needle-test", "--secret-key", "needle-test-secret"])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "s3s-fs did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "needle-test"),
            ("AWS_SECRET_ACCESS_KEY", "needle-test-secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{port}")),
            ("AWS_ALLOW_HTTP", "true"),
        ] {
            std::env::set_var(k, v);
        }
        S3Server { child, root, _env: env }
    }

    /// The server's file holding object `key` of the test bucket.
    fn object_file(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, shared: &str) -> ServiceConfig {
    let mut cfg = ServiceConfig::new(EngineConfig::new(dir));
    cfg.cluster.shared_dir = shared.into();
    cfg
}

fn play(user: &str, item: &str, id: &str) -> serde_json::Value {
    json!({"user_id": user, "type": "play", "item_id": item, "ts": "2026-11-20T12:00:00Z", "event_id": id})
}

#[test]
fn snapshots_go_to_the_bucket_are_listed_newest_first_and_restore_the_same_state() {
    let server = S3Server::start();
    let url = format!("s3://{BUCKET}/prod/eu");
    let dir = tempfile::tempdir().unwrap();
    let s = Service::open(config(dir.path(), &url)).unwrap();
    s.write_values(catalog()).unwrap();
    let first = s.snapshot().unwrap();
    s.ingest_events(vec![play("u", "tr:hello-adele", "x1")]).unwrap();
    let m = s.snapshot().unwrap();
    assert!(m.applied_seq > first.applied_seq);
    assert_eq!(s.snapshot().unwrap(), m, "the same seq: the snapshot already uploaded");
    assert!(
        !dir.path()
            .join(".shared-staging/snapshots")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "the local copy is deleted once uploaded"
    );
    let name = format!("snapshot-{:012}-{}", m.applied_seq, m.node_id);
    assert!(server
        .object_file(&format!("prod/eu/snapshots/{name}/manifest.json"))
        .is_file());
    // An upload that did not finish (no manifest) is not a snapshot.
    let partial = server.object_file("prod/eu/snapshots/snapshot-000000009999-x/catalog.redb");
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(&partial, b"half").unwrap();
    let listed = s.snapshots().unwrap();
    assert_eq!(listed, vec![m.clone(), first.clone()], "newest first");
    let digest = s.cluster_status().unwrap().state_digest;
    s.shutdown().unwrap();
    drop(s);

    // `needle restore`: the newest snapshot of the bucket into an empty directory.
    let target = tempfile::tempdir().unwrap();
    let shared = SharedDir::open(&config(target.path(), &url)).unwrap();
    let (newest, nm) = shared.list_snapshots().unwrap().into_iter().next().unwrap();
    assert_eq!(nm, m);
    assert_eq!(
        newest,
        SnapshotRef::Object {
            url: format!("{url}/snapshots/{name}"),
            name: name.clone()
        }
    );
    assert_eq!(shared.snapshot_ref(&name).unwrap(), newest);
    assert_eq!(shared.snapshot_ref(&format!("{url}/snapshots/{name}")).unwrap(), newest);
    assert!(shared
        .snapshot_ref(&format!("s3://{BUCKET}/other/snapshots/{name}"))
        .is_err());
    assert!(shared.snapshot_ref("no-such-dir").is_err());
    assert_eq!(shared.restore(&newest, target.path()).unwrap(), m);
    assert!(!target
        .path()
        .join(".shared-staging")
        .join(format!("restore-{name}"))
        .exists());
    assert!(
        shared.restore(&newest, target.path()).is_err(),
        "not into a directory holding state"
    );
    let r = Service::open(config(target.path(), &url)).unwrap();
    assert_eq!(r.applied_seq(), m.applied_seq);
    assert_eq!(r.cluster_status().unwrap().state_digest, digest);
    assert_eq!(r.history("u", 5).unwrap().map(|h| h.len()), Some(1));
}

#[test]
fn a_damaged_object_is_refused_on_restore_and_leaves_the_directory_empty() {
    let server = S3Server::start();
    let url = format!("s3://{BUCKET}/damaged");
    let dir = tempfile::tempdir().unwrap();
    let s = Service::open(config(dir.path(), &url)).unwrap();
    s.write_values(catalog()).unwrap();
    s.ingest_events(vec![play("u", "tr:hello-adele", "x1")]).unwrap();
    let m = s.snapshot().unwrap();
    drop(s);
    let name = format!("snapshot-{:012}-{}", m.applied_seq, m.node_id);
    let events = server.object_file(&format!("damaged/snapshots/{name}/events/events.log"));
    let good = std::fs::read(&events).unwrap();
    let shared = SharedDir::open(&config(dir.path(), &url)).unwrap();
    let snap = shared.snapshot_ref(&name).unwrap();
    // Same size, other bytes (the hash tells), then a shorter object (the size tells).
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0xff;
    for bad in [flipped, good[..good.len() - 1].to_vec()] {
        std::fs::write(&events, &bad).unwrap();
        let target = tempfile::tempdir().unwrap();
        let err = shared.restore(&snap, target.path()).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
        assert!(needle_service::snapshot::is_empty_data_dir(target.path()));
        assert!(!target
            .path()
            .join(".shared-staging")
            .join(format!("restore-{name}"))
            .exists());
    }
    std::fs::write(&events, &good).unwrap();
    let target = tempfile::tempdir().unwrap();
    assert_eq!(shared.restore(&snap, target.path()).unwrap(), m);
}

#[test]
fn models_are_shared_by_hash_through_the_bucket() {
    let _server = S3Server::start();
    let url = format!("s3://{BUCKET}/models-test");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ma, mb) = (a.path().join("models"), b.path().join("models"));
    std::fs::create_dir_all(&ma).unwrap();
    // Larger than one part: a multipart upload, and several ranged reads back.
    let model: Vec<u8> = (0..40u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(ma.join("model-000003.bin"), &model).unwrap();
    std::fs::write(ma.join("model-000003.hnsw"), b"graph").unwrap();
    let shared_a = SharedDir::open(&config(a.path(), &url)).unwrap();
    let hash = shared_a.publish_model(&ma, 3).unwrap();
    assert_eq!(shared_a.publish_model(&ma, 3).unwrap(), hash, "idempotent");
    let shared_b = SharedDir::open(&config(b.path(), &url)).unwrap();
    std::fs::create_dir_all(&mb).unwrap();
    std::fs::write(mb.join("model-000003.bin"), b"trained on b").unwrap();
    assert!(shared_b.ensure_model(&mb, 3, &hash).unwrap(), "fetched");
    assert!(std::fs::read(mb.join("model-000003.bin")).unwrap() == model);
    assert_eq!(std::fs::read(mb.join("model-000003.hnsw")).unwrap(), b"graph");
    assert!(!shared_b.ensure_model(&mb, 3, &hash).unwrap(), "already there");
    let err = shared_b.ensure_model(&mb, 3, "00").unwrap_err().to_string();
    assert!(err.contains("did not share it"), "{err}");
}

#[test]
fn a_wiped_cluster_replica_restores_the_newest_snapshot_from_the_bucket() {
    let _server = S3Server::start();
    let nats = NatsCluster::start(1);
    let url = format!("s3://{BUCKET}/cluster");
    let replica = |dir: &Path, node: &str| {
        let mut cfg = config(dir, &url);
        cfg.cluster = ClusterConfig {
            nats: nats.urls(),
            node_id: node.into(),
            stream: "S3".into(),
            log_replicas: 1,
            log_max_mb: 256,
            ..cfg.cluster
        };
        Service::open(cfg).unwrap()
    };
    let a_dir = tempfile::tempdir().unwrap();
    let a = replica(a_dir.path(), "a");
    a.write_values(catalog()).unwrap();
    let m = a.snapshot().unwrap();
    let last = a
        .write_values(vec![json!({"id":"ar:tail","type":"artist","name":"Tail Artist"})])
        .unwrap()
        .seq;
    let b_dir = tempfile::tempdir().unwrap();
    let b = replica(b_dir.path(), "b");
    b.wait_for_seq(last).unwrap();
    assert!(b.get("ar:tail").unwrap().is_some());
    let (sa, sb) = (a.cluster_status().unwrap(), b.cluster_status().unwrap());
    assert_eq!(sa.state_digest, sb.state_digest);
    assert!(
        sb.applied_entries < sa.applied_seq,
        "b replayed only the tail after the snapshot at {}",
        m.applied_seq
    );
}
