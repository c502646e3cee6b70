//! Replicas on a real NATS JetStream server: every write is an entry of the stream, every
//! replica applies the stream in order, digests agree, snapshots restore, consumers are
//! recreated, retried requests are one entry.

use crate::fixture::catalog;
use needle_search::EngineConfig;
use needle_service::config::cluster::ClusterConfig;
use needle_service::testkit::NatsCluster;
use needle_service::{Service, ServiceConfig};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn cluster_cfg(nats: &NatsCluster, node: &str, shared: &Path, stream: &str) -> ClusterConfig {
    ClusterConfig {
        nats: nats.urls(),
        node_id: node.into(),
        shared_dir: shared.display().to_string(),
        stream: stream.into(),
        log_replicas: 1,
        log_max_mb: 256,
        ..ClusterConfig::default()
    }
}

fn replica(dir: &Path, cluster: ClusterConfig) -> Service {
    let mut cfg = ServiceConfig::new(EngineConfig::new(dir));
    cfg.cluster = cluster;
    Service::open(cfg).unwrap()
}

fn play(user: &str, item: &str, id: &str) -> serde_json::Value {
    json!({"user_id": user, "type": "play", "item_id": item, "ts": "2026-11-20T12:00:00Z", "event_id": id})
}

/// Wait until `s` has applied `seq` (bounded).
fn caught_up(s: &Service, seq: u64) {
    s.wait_for_seq(seq).unwrap_or_else(|e| panic!("{}: {e}", s.node_id()));
}

#[test]
fn replicas_apply_every_write_in_order_and_agree() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = replica(a_dir.path(), cluster_cfg(&nats, "a", shared.path(), "T1"));
    let b = replica(b_dir.path(), cluster_cfg(&nats, "b", shared.path(), "T1"));

    let w = a.write_values(catalog()).unwrap();
    assert!(w.rejected.is_empty(), "{:?}", w.rejected);
    assert!(w.seq >= 1);
    let e = b
        .ingest_events(vec![
            play("u1", "tr:hello-adele", "e1"),
            play("u1", "tr:hello-adele", "e1"),
        ])
        .unwrap();
    assert_eq!(
        (e.accepted, e.duplicates),
        (1, 1),
        "the writer's answer comes from its own apply"
    );
    assert!(e.seq > w.seq, "one total order: {} then {}", w.seq, e.seq);
    // Read-your-writes on the other replica.
    caught_up(&b, w.seq);
    assert!(b.get("tr:hello-adele").unwrap().is_some());
    caught_up(&a, e.seq);
    assert_eq!(a.history("u1", 10).unwrap().map(|h| h.len()), Some(1));
    let erased = a.erase_listener("u1").unwrap();
    caught_up(&b, erased.seq);
    assert!(b.history("u1", 10).unwrap().is_none());

    let (sa, sb) = (a.cluster_status().unwrap(), b.cluster_status().unwrap());
    assert_eq!(sa.mode, "cluster");
    assert_eq!(sa.applied_seq, erased.seq);
    assert_eq!((sa.digest_seq, &sa.state_digest), (sb.digest_seq, &sb.state_digest));
    assert_eq!(sa.lag, 0);

    // A different state has a different digest.
    a.write_values(vec![json!({"id":"ar:new","type":"artist","name":"New"})])
        .unwrap();
    let sa2 = a.cluster_status().unwrap();
    assert_ne!(sa2.state_digest, sb.state_digest);
    caught_up(&b, sa2.applied_seq);
    assert_eq!(b.cluster_status().unwrap().state_digest, sa2.state_digest);
}

#[test]
fn a_retried_request_with_the_same_key_is_one_entry() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = replica(dir.path(), cluster_cfg(&nats, "a", shared.path(), "T2"));
    let batch = vec![play("u", "ar:x", "k1"), play("u", "ar:y", "k2")];
    let first = a.ingest_events_keyed(batch.clone(), Some("req-42".into())).unwrap();
    let again = a.ingest_events_keyed(batch.clone(), Some("req-42".into())).unwrap();
    assert_eq!(first.seq, again.seq, "the retry is answered with the original entry");
    assert_eq!(first.accepted, 2);
    let other = a.ingest_events_keyed(batch, Some("req-43".into())).unwrap();
    assert!(other.seq > first.seq, "another key is another entry");
    assert_eq!((other.accepted, other.duplicates), (0, 2));
    assert_eq!(a.cluster_status().unwrap().applied_seq, other.seq);
}

#[test]
fn a_deleted_consumer_is_recreated_and_nothing_is_missed() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg_b = cluster_cfg(&nats, "b", shared.path(), "T3");
    let a = replica(a_dir.path(), cluster_cfg(&nats, "a", shared.path(), "T3"));
    let b = replica(b_dir.path(), cfg_b.clone());
    let first = a.write_values(catalog()).unwrap();
    caught_up(&b, first.seq);
    let log = needle_service::cluster::jetstream::JetStreamLog::connect(&cfg_b, "admin").unwrap();
    assert!(
        log.delete_consumers().unwrap() >= 2,
        "each replica follows with its own consumer"
    );
    let mut last = 0;
    for i in 0..20 {
        last = a.ingest_events(vec![play("u", "ar:x", &format!("c{i}"))]).unwrap().seq;
    }
    caught_up(&b, last);
    assert_eq!(b.history("u", 100).unwrap().map(|h| h.len()), Some(20));
    assert_eq!(
        a.cluster_status().unwrap().state_digest,
        b.cluster_status().unwrap().state_digest
    );
}

#[test]
fn a_wiped_replica_boots_from_the_snapshot_plus_the_tail_and_equals_a_full_replay() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let a_dir = tempfile::tempdir().unwrap();
    let a = replica(a_dir.path(), cluster_cfg(&nats, "a", shared.path(), "T4"));
    a.write_values(catalog()).unwrap();
    a.ingest_events(
        (0..50)
            .map(|i| play(&format!("u{}", i % 5), "tr:hello-adele", &format!("s{i}")))
            .collect(),
    )
    .unwrap();
    let m = a.snapshot().unwrap();
    assert!(m.applied_seq >= 2 && m.files.iter().any(|f| f.path == "catalog.redb"));
    assert_eq!(a.snapshots().unwrap()[0].applied_seq, m.applied_seq);
    // The tail, after the snapshot.
    a.write_values(vec![json!({"id":"ar:tail","type":"artist","name":"Tail Artist"})])
        .unwrap();
    let last = a.erase_listener("u1").unwrap().seq;

    // B: an empty data directory restores the snapshot, then follows the log's tail.
    let b_dir = tempfile::tempdir().unwrap();
    let b = replica(b_dir.path(), cluster_cfg(&nats, "b", shared.path(), "T4"));
    caught_up(&b, last);
    assert!(b.get("ar:tail").unwrap().is_some());
    assert!(b.history("u1", 10).unwrap().is_none());
    // C: no snapshot to start from (another shared directory): the whole log.
    let other_shared = tempfile::tempdir().unwrap();
    let c_dir = tempfile::tempdir().unwrap();
    let c = replica(c_dir.path(), cluster_cfg(&nats, "c", other_shared.path(), "T4"));
    caught_up(&c, last);
    let (sa, sb, sc) = (
        a.cluster_status().unwrap(),
        b.cluster_status().unwrap(),
        c.cluster_status().unwrap(),
    );
    assert!(sb.applied_entries < sc.applied_entries, "b replayed only the tail");
    assert_eq!(sa.state_digest, sb.state_digest);
    assert_eq!(sa.state_digest, sc.state_digest);
    // Searchable too (the snapshot's index, caught up with the tail).
    b.refresh().unwrap();
    let hits = b
        .search(&needle_search::SearchRequest {
            q: "tail artist".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.hits.first().map(|h| h.id.as_str()), Some("ar:tail"));
}

#[test]
fn a_read_with_a_min_seq_not_yet_in_the_log_is_refused_after_the_bound() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = cluster_cfg(&nats, "a", shared.path(), "T5");
    cfg.read_wait_ms = 200;
    let a = replica(dir.path(), cfg);
    let seq = a.write_values(catalog()).unwrap().seq;
    a.wait_for_seq(seq).unwrap();
    let started = Instant::now();
    let err = a.wait_for_seq(seq + 1000).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(matches!(err, needle_service::Error::MinSeqAhead { .. }), "{err}");
}

#[test]
fn standalone_snapshots_restore_into_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let s = crate::fixture::open(dir.path());
    s.write_values(catalog()).unwrap();
    s.ingest_events(vec![play("u", "tr:hello-adele", "x1")]).unwrap();
    let m = s.snapshot().unwrap();
    let digest = s.cluster_status().unwrap().state_digest;
    assert_eq!(s.cluster_status().unwrap().mode, "standalone");
    s.shutdown().unwrap();
    drop(s);
    let src = needle_service::snapshot::path_for(&dir.path().join("snapshots"), m.applied_seq, s_node());
    let target = tempfile::tempdir().unwrap();
    Service::restore(&src, target.path()).unwrap();
    // Not into a directory holding state.
    assert!(Service::restore(&src, target.path()).is_err());
    let r = crate::fixture::open(target.path());
    assert_eq!(r.applied_seq(), m.applied_seq);
    assert_eq!(r.cluster_status().unwrap().state_digest, digest);
    assert_eq!(r.history("u", 5).unwrap().map(|h| h.len()), Some(1));
    // A damaged snapshot is refused.
    std::fs::write(src.join("events/events.log"), b"garbage").unwrap();
    let t2 = tempfile::tempdir().unwrap();
    assert!(Service::restore(&src, t2.path()).is_err());
}

fn s_node() -> &'static str {
    static NODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NODE.get_or_init(|| ClusterConfig::default().node_name())
}

fn admin_log(cfg: &ClusterConfig) -> needle_service::cluster::jetstream::JetStreamLog {
    needle_service::cluster::jetstream::JetStreamLog::connect(cfg, "admin").unwrap()
}

/// Poll (bounded) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_replica_behind_the_logs_retention_restores_a_covering_snapshot_at_start() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg_b = cluster_cfg(&nats, "b", shared.path(), "T6");
    let a = replica(a_dir.path(), cluster_cfg(&nats, "a", shared.path(), "T6"));
    let b = replica(b_dir.path(), cfg_b.clone());
    let first = a.write_values(catalog()).unwrap().seq;
    caught_up(&b, first);
    drop(b);
    let mut seq = 0;
    for i in 0..5 {
        seq = a
            .ingest_events(vec![play("u", "tr:hello-adele", &format!("r{i}"))])
            .unwrap()
            .seq;
    }
    let snap = a.snapshot().unwrap();
    assert_eq!(snap.applied_seq, seq);
    let tail = a
        .write_values(vec![json!({"id":"ar:after","type":"artist","name":"After"})])
        .unwrap()
        .seq;
    // Retention drops what b still needs; the snapshot covers it.
    admin_log(&cfg_b).purge_before(snap.applied_seq).unwrap();
    let b = replica(b_dir.path(), cfg_b.clone());
    caught_up(&b, tail);
    let (sa, sb) = (a.cluster_status().unwrap(), b.cluster_status().unwrap());
    assert_eq!(sb.follower, needle_service::FollowState::Following);
    assert_eq!(sb.applied_entries, tail - snap.applied_seq, "only the tail was applied");
    assert_eq!(sa.state_digest, sb.state_digest);
    assert!(b.get("ar:after").unwrap().is_some());
    assert!(
        !b_dir.path().join(format!(".behind-{first}")).exists(),
        "the old state is deleted"
    );

    // Behind again, with no snapshot covering the gap: it starts, says so, and asks to be
    // restarted once a snapshot covers it.
    drop(b);
    let mut last = 0;
    for i in 0..3 {
        last = a
            .ingest_events(vec![play("v", "tr:hello-adele", &format!("s{i}"))])
            .unwrap()
            .seq;
    }
    admin_log(&cfg_b).purge_before(last).unwrap();
    let b = replica(b_dir.path(), cfg_b.clone());
    eventually(
        "b reports behind_log",
        || matches!(b.cluster_status().unwrap().follower, needle_service::FollowState::BehindLog { first_seq } if first_seq == last),
    );
    assert_eq!(b.needs_restart(), None, "no snapshot covers the gap yet");
    a.snapshot().unwrap();
    let why = b.needs_restart().expect("a snapshot covers the gap now");
    assert!(why.contains(&format!("starts at entry {last}")), "{why}");
    drop(b);
    let b = replica(b_dir.path(), cfg_b);
    caught_up(&b, last);
    assert_eq!(
        b.cluster_status().unwrap().state_digest,
        a.cluster_status().unwrap().state_digest
    );
}

#[test]
fn a_data_directory_of_another_log_is_refused() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let a_dir = tempfile::tempdir().unwrap();
    let cfg = cluster_cfg(&nats, "a", shared.path(), "T7");
    let a = replica(a_dir.path(), cfg.clone());
    a.write_values(catalog()).unwrap();
    let bound = needle_service::cluster::identity::read(a_dir.path()).unwrap();
    assert!(
        matches!(&bound, Some(needle_service::cluster::identity::LogIdentity::Jetstream { stream, id: Some(_), .. }) if stream == "T7"),
        "{bound:?}"
    );
    drop(a);
    // The stream is deleted and created again under the same name: another log (another
    // id in its description).
    admin_log(&cfg).delete_stream().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let b = replica(other_dir.path(), cluster_cfg(&nats, "b", shared.path(), "T7"));
    let w = b
        .write_values(vec![json!({"id":"ar:new-log","type":"artist","name":"N"})])
        .unwrap();
    assert_eq!(w.seq, 1);
    let mut open = ServiceConfig::new(EngineConfig::new(a_dir.path()));
    open.cluster = cfg;
    let err = Service::open(open).err().expect("refused");
    assert!(matches!(err, needle_service::Error::WrongLog(_)), "{err}");
    assert!(err.to_string().contains("move it aside"), "{err}");

    // A standalone directory is not a replica's either.
    let s_dir = tempfile::tempdir().unwrap();
    let s = crate::fixture::open(s_dir.path());
    s.write_values(catalog()).unwrap();
    drop(s);
    let mut open = ServiceConfig::new(EngineConfig::new(s_dir.path()));
    open.cluster = cluster_cfg(&nats, "c", shared.path(), "T7");
    let err = Service::open(open).err().expect("refused");
    assert!(err.to_string().contains("standalone"), "{err}");
}

#[test]
fn one_replica_at_a_time_holds_the_training_lease_on_a_replicated_log() {
    // Three JetStream servers: the bucket is replicated like the log (R3).
    let nats = NatsCluster::start(3);
    let mut cfg = cluster_cfg(&nats, "a", Path::new("/nonexistent"), "T8");
    cfg.log_replicas = 3;
    let a = admin_log(&cfg);
    let b = needle_service::cluster::jetstream::JetStreamLog::connect(&cfg, "b").unwrap();
    assert_eq!(a.try_lease("train", "a").unwrap(), None, "free");
    assert_eq!(b.try_lease("train", "b").unwrap().as_deref(), Some("a"), "held by a");
    a.release("train").unwrap();
    assert_eq!(b.try_lease("train", "b").unwrap(), None, "released, then taken by b");
}

#[test]
fn a_model_trained_on_a_replica_that_cannot_apply_the_log_yet_is_activated_through_the_log() {
    let nats = NatsCluster::start(1);
    let shared = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut cfg_b = cluster_cfg(&nats, "b", shared.path(), "T9");
    cfg_b.write_timeout_ms = 300;
    let a = replica(a_dir.path(), cluster_cfg(&nats, "a", shared.path(), "T9"));
    let b = replica(b_dir.path(), cfg_b.clone());
    let artists = (0..6)
        .map(|i| json!({"id": format!("ar:{i}"), "type": "artist", "name": format!("Artist {i}")}))
        .collect();
    a.write_values(artists).unwrap();
    let plays = (0..8)
        .flat_map(|u| (0..4).map(move |i| play(&format!("u{u}"), &format!("ar:{}", (u + i) % 6), &format!("e{u}-{i}"))))
        .collect();
    let seq = a.ingest_events(plays).unwrap().seq;
    caught_up(&b, seq);
    drop(b);
    // b misses entries the log no longer holds, and no snapshot covers them: it applies
    // nothing until it is restored.
    let last = a.ingest_events(vec![play("v", "ar:1", "late")]).unwrap().seq;
    admin_log(&cfg_b).purge_before(last + 1).unwrap();
    let b = replica(b_dir.path(), cfg_b);
    eventually("b reports behind_log", || {
        matches!(
            b.cluster_status().unwrap().follower,
            needle_service::FollowState::BehindLog { .. }
        )
    });
    // The activation entry is in the log, so the training succeeded: a serves the model
    // (fetched from the shared directory) once it applies the entry; b will after restore.
    b.train_now(&mut |_| ()).unwrap();
    assert!(b.recs().model().is_none(), "b applies nothing while behind the log");
    eventually("a serves the model trained on b", || {
        a.recs().model().map(|m| m.version) == Some(1)
    });
}

/// Wait (bounded, longer than a `min_seq` read: the stream may be electing a leader and
/// the follower recreating its consumer) until `s` has applied `seq`.
fn applied(s: &Service, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = s.cluster_status().unwrap();
        if status.applied_seq >= seq {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} has not applied {seq}: {status:?}",
            s.node_id()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// NATS 2.9 reports the time each server created its copy of a stream, so the creation
/// time changes with the stream's leader: the log is recognised by the id in its
/// description, by a replica re-reading the stream and by one restarting.
#[test]
fn a_new_stream_leader_is_the_same_log_for_a_following_and_a_restarting_replica() {
    let mut nats = NatsCluster::start(3);
    let shared = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg = |nats: &NatsCluster, node: &str| ClusterConfig {
        log_replicas: 3,
        ..cluster_cfg(nats, node, shared.path(), "T9")
    };
    let a = replica(a_dir.path(), cfg(&nats, "a"));
    let b = replica(b_dir.path(), cfg(&nats, "b"));
    let first = a.write_values(catalog()).unwrap();
    caught_up(&b, first.seq);
    let bound = needle_service::cluster::identity::read(b_dir.path()).unwrap().unwrap();

    let leader = nats.stream_leader("T9").expect("a leader");
    nats.nodes[leader].kill();
    eventually("another stream leader", || {
        nats.stream_leader("T9").is_some_and(|l| l != leader)
    });
    // Every replica reads the stream's identity again: from the new leader.
    let admin = admin_log(&cfg(&nats, "admin"));
    eventually("the consumers deleted", || admin.delete_consumers().is_ok());
    let mut last = 0;
    for i in 0..10 {
        // The stream elects a leader and the client reconnects: retried (bounded).
        let deadline = Instant::now() + Duration::from_secs(90);
        last = loop {
            match a.ingest_events(vec![play("u", "ar:x", &format!("l{i}"))]) {
                Ok(w) => break w.seq,
                Err(e) => assert!(Instant::now() < deadline, "write {i} not acknowledged: {e}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        };
    }
    applied(&b, last);
    let status = b.cluster_status().unwrap();
    assert!(
        matches!(status.follower, needle_service::FollowState::Following),
        "{:?}",
        status.follower
    );
    let now = admin.state().unwrap().identity;
    assert!(now.same_as(&bound), "{now} is {bound}");

    // A restart checks the directory against the new leader's view.
    drop(b);
    let b = replica(b_dir.path(), cfg(&nats, "b"));
    applied(&b, last);
    assert_eq!(b.history("u", 100).unwrap().map(|h| h.len()), Some(10));
    assert_eq!(
        a.cluster_status().unwrap().state_digest,
        b.cluster_status().unwrap().state_digest
    );
}
