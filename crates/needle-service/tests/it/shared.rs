//! State replicas share on a real Redis Cluster: two services on different data
//! directories (two replicas) with the same `cluster.redis` see the same DJ sessions,
//! rate-limit buckets and training jobs; a primary killed under a session recovers.

use needle_recs::serve::JobStatus;
use needle_recs::RecsError;
use needle_search::EngineConfig;
use needle_service::testkit::redis::{cli, wait_until, RedisCluster};
use needle_service::{Error, Service, ServiceConfig};
use serde_json::json;
use std::time::Duration;

/// A replica: its own data directory, a small catalog and listeners, a trained model.
fn replica(urls: &[String]) -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServiceConfig::new(EngineConfig::new(dir.path()));
    cfg.cluster.redis = urls.join(",");
    cfg.recs.als.factors = 4;
    cfg.recs.als.iterations = 4;
    let s = Service::open(cfg).unwrap();
    // Tracks: what a DJ session serves by default.
    let catalog: Vec<_> = (0..12)
        .map(|t| json!({"id": format!("t{t}"), "type": "track", "name": format!("Track {t}")}))
        .collect();
    s.write_values(catalog).unwrap();
    let mut events = Vec::new();
    for u in 0..10 {
        for a in 0..5 {
            events.push(
                json!({"user_id": format!("u{u}"), "type": "play", "item_id": format!("t{}", (u + a) % 12),
                "ts": "2026-11-20T12:00:00Z", "event_id": format!("e{u}-{a}")}),
            );
        }
    }
    s.ingest_events(events).unwrap();
    (dir, s)
}

fn trained(urls: &[String]) -> (tempfile::TempDir, Service) {
    let (dir, s) = replica(urls);
    s.train_now(&mut |_| ()).unwrap();
    (dir, s)
}

fn ids(r: &needle_recs::serve::Recommendations) -> Vec<String> {
    r.items.iter().map(|i| i.id.clone()).collect()
}

#[test]
fn a_session_started_on_one_replica_continues_on_another() {
    let cluster = RedisCluster::start();
    let (_a_dir, a) = trained(&cluster.urls());
    let (_b_dir, b) = trained(&cluster.urls());
    let info = a.recs().start_session("u1", None, None, true).unwrap();
    let sid = info.session_id.clone();
    assert_eq!(b.recs().session_owner(&sid).unwrap().as_deref(), Some("u1"));
    let first = b.session_next(&sid, 2).unwrap();
    assert!(!first.items.is_empty());
    // Back on the first replica: what the other served is not served again.
    let second = a.session_next(&sid, 2).unwrap();
    assert!(!second.items.is_empty());
    for id in ids(&second) {
        assert!(!ids(&first).contains(&id), "{id} served twice");
    }
    // The state is one Redis key with the idle TTL (recs.session_idle_s).
    let key = needle_service::shared::session_key(&sid);
    let port = cluster.primary_of(&key);
    let ttl: i64 = cli(port, &["pttl", &key]).trim().parse().unwrap();
    let idle_ms = a.recs().config().session_idle_s as i64 * 1000;
    assert!(ttl > 0 && ttl <= idle_ms, "pttl {ttl}");
    // Unknown sessions are unknown everywhere.
    let err = b.session_next("s-nope", 2).unwrap_err();
    assert!(
        matches!(err, Error::Recs(RecsError::NotFound { what: "session", .. })),
        "{err:?}"
    );
}

#[test]
fn a_rate_bucket_drained_on_one_replica_is_drained_on_the_other() {
    let cluster = RedisCluster::start();
    let (_a_dir, a) = replica(&cluster.urls());
    let (_b_dir, b) = replica(&cluster.urls());
    let (ra, rb) = (a.shared_rate().unwrap(), b.shared_rate().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // 3 at once, then one per 100 s.
        for _ in 0..3 {
            assert_eq!(ra.check("key:backend", 0.01, 3).await, Some(Ok(())));
        }
        let wait = rb
            .check("key:backend", 0.01, 3)
            .await
            .expect("redis answers")
            .unwrap_err();
        assert!(
            wait > Duration::from_secs(90) && wait <= Duration::from_secs(100),
            "{wait:?}"
        );
        assert!(ra.check("key:backend", 0.01, 3).await.unwrap().is_err());
        // Other clients have their own buckets.
        assert_eq!(rb.check("listener:u1", 0.01, 3).await, Some(Ok(())));
    });
}

#[test]
fn a_job_published_by_one_replica_is_read_by_the_other() {
    let cluster = RedisCluster::start();
    let (_a_dir, a) = replica(&cluster.urls());
    let (_b_dir, b) = replica(&cluster.urls());
    let job = a.start_training().unwrap();
    wait_until("the job to finish, seen from the other replica", || {
        b.recs()
            .jobs()
            .get(&job.job_id)
            .is_some_and(|j| j.status == JobStatus::Done)
    });
    let seen = b.recs().jobs().get(&job.job_id).unwrap();
    assert_eq!(seen.model_version, Some(1));
    assert_eq!(seen.progress, 1.0);
    // Numbers come from Redis: the other replica's job gets the next one, not the same.
    let other = b.start_training().unwrap();
    assert_ne!(other.job_id, job.job_id);
    let listed: Vec<String> = a.recs().jobs().list().into_iter().map(|j| j.job_id).collect();
    assert_eq!(
        listed,
        [other.job_id.clone(), job.job_id.clone()],
        "every replica's, newest first"
    );
    assert!(b.recs().jobs().get("train-999999").is_none());
}

#[test]
fn killing_the_primary_of_a_session_loses_nothing_once_its_replica_is_promoted() {
    let mut cluster = RedisCluster::start();
    let (_a_dir, a) = trained(&cluster.urls());
    let (_b_dir, b) = trained(&cluster.urls());
    let sid = a.recs().start_session("u2", None, None, true).unwrap().session_id;
    let first = ids(&a.session_next(&sid, 2).unwrap());
    assert!(!first.is_empty());
    let key = needle_service::shared::session_key(&sid);
    let primary = cluster.primary_of(&key);
    // The replica has the session before its primary dies (replication is asynchronous).
    cluster.wait_replicated(primary);
    cluster.kill(primary);
    // Until the replica is promoted, `next` either works or says clearly to retry.
    let mut unavailable = 0;
    let mut next = None;
    wait_until("the session to work again after the failover", || {
        match b.session_next(&sid, 2) {
            Ok(r) => next = Some(r),
            Err(Error::Recs(RecsError::SharedUnavailable(_))) => unavailable += 1,
            Err(e) => panic!("neither an answer nor shared_state_unavailable: {e:?}"),
        }
        next.is_some()
    });
    let next = ids(&next.unwrap());
    assert!(!next.is_empty());
    for id in &next {
        assert!(!first.contains(id), "{id} served twice: the session's state was lost");
    }
    assert_ne!(cluster.primary_of(&key), primary, "a replica serves the slot now");
    eprintln!("503s while the primary failed over: {unavailable}");
    // The other replica recovers by itself too (its client re-reads the slot map).
    wait_until("the first replica to work again", || a.session_next(&sid, 2).is_ok());
    assert!(a.recs().start_session("u3", None, None, true).is_ok());
}
