//! Token revocation is write-log state: applied by the applier, durable, kept across
//! restarts and in snapshots, and part of the state digest.

use needle_core::time::ManualClock;
use needle_search::EngineConfig;
use needle_service::{Service, ServiceConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;

fn open_at(dir: &Path, clock: &Arc<ManualClock>) -> Service {
    Service::open_with_clock(ServiceConfig::new(EngineConfig::new(dir)), clock.clone()).unwrap()
}

#[test]
fn revocations_are_log_entries_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open_at(dir.path(), &clock);
    assert_eq!(s.tokens_not_before("u1"), None);
    let before = s.cluster_status().unwrap().state_digest;
    let r = s.revoke_tokens("u1").unwrap();
    assert_eq!(r.before_ms, T0);
    assert_eq!(r.seq, s.applied_seq(), "answered once applied");
    assert_eq!(s.tokens_not_before("u1"), Some(T0));
    assert_eq!(s.tokens_not_before("u2"), None);
    assert_ne!(s.cluster_status().unwrap().state_digest, before);
    // Revoking again moves the cut-off forward.
    clock.advance(Duration::from_secs(60));
    s.revoke_tokens("u1").unwrap();
    assert_eq!(s.tokens_not_before("u1"), Some(T0 + 60_000));
    // Erasing a listener revokes their tokens too.
    clock.advance(Duration::from_secs(60));
    s.erase_listener("u2").unwrap();
    assert_eq!(s.tokens_not_before("u2"), Some(T0 + 120_000));
    // A bad id is the caller's error, and nothing is written.
    let seq = s.applied_seq();
    assert!(matches!(s.revoke_tokens(" "), Err(needle_service::Error::Invalid(_))));
    assert_eq!(s.applied_seq(), seq);
    let digest = s.cluster_status().unwrap().state_digest;
    s.shutdown().unwrap();
    drop(s);

    let s = open_at(dir.path(), &clock);
    assert_eq!(s.tokens_not_before("u1"), Some(T0 + 60_000));
    assert_eq!(s.tokens_not_before("u2"), Some(T0 + 120_000));
    assert_eq!(s.cluster_status().unwrap().state_digest, digest);
    // Numbering goes on after the revocations (they were not lost from the log's view).
    let r = s.revoke_tokens("u3").unwrap();
    assert!(r.seq > seq, "{} > {seq}", r.seq);
}

#[test]
fn a_revocation_in_the_log_but_not_applied_is_replayed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let applied = {
        let s = open_at(dir.path(), &clock);
        s.revoke_tokens("u1").unwrap();
        s.shutdown().unwrap();
        s.applied_seq()
    };
    // The next entry reached the log but was never applied (a crash in between).
    let mut log = needle_store::FileLog::open(&dir.path().join("log"), applied).unwrap();
    let entry = needle_store::Entry::RevokeTokens {
        user_id: "u9".into(),
        before_ms: T0 + 5,
    };
    let seq = needle_store::Log::append(&mut log, &[entry.encode().unwrap()]).unwrap();
    assert_eq!(seq, applied + 1);
    drop(log);
    let s = open_at(dir.path(), &clock);
    assert_eq!(s.applied_seq(), applied + 1);
    assert_eq!(s.tokens_not_before("u9"), Some(T0 + 5));
    assert_eq!(s.tokens_not_before("u1"), Some(T0));
}

#[test]
fn snapshots_carry_the_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open_at(dir.path(), &clock);
    s.revoke_tokens("u1").unwrap();
    let m = s.snapshot().unwrap();
    assert!(m.files.iter().any(|f| f.path == "tokens.json"), "{:?}", m.files);
    let digest = s.cluster_status().unwrap().state_digest;
    s.shutdown().unwrap();
    drop(s);
    let node = needle_service::config::cluster::ClusterConfig::default().node_name();
    let src = needle_service::snapshot::path_for(&dir.path().join("snapshots"), m.applied_seq, &node);
    let target = tempfile::tempdir().unwrap();
    Service::restore(&src, target.path()).unwrap();
    let r = open_at(target.path(), &clock);
    assert_eq!(r.tokens_not_before("u1"), Some(T0));
    assert_eq!(r.cluster_status().unwrap().state_digest, digest);
}
