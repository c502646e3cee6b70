//! The one write path: sequence numbers, replay of the log after a crash, erasure and
//! model activation as log entries.

use crate::fixture::open;
use needle_core::validate::parse_record;
use needle_store::{Entry, FileLog, Log};
use serde_json::json;

fn play(user: &str, item: &str, id: &str) -> serde_json::Value {
    json!({"user_id": user, "type": "play", "item_id": item, "ts": "2026-11-20T12:00:00Z", "event_id": id})
}

#[test]
fn every_write_gets_the_next_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    assert_eq!(s.applied_seq(), 0);
    let w = s
        .submit_values(vec![json!({"id":"ar:a","type":"artist","name":"A"})])
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(w.1, 1);
    s.ingest_events(vec![play("u", "ar:a", "e1")]).unwrap();
    assert_eq!(s.applied_seq(), 2);
    assert_eq!(s.erase_listener("u").unwrap().seq, 3);
    s.shutdown().unwrap();
    drop(s);
    // Numbering continues after a restart, though the log was trimmed at shutdown.
    let s = open(dir.path());
    assert_eq!(s.applied_seq(), 3);
    s.ingest_events(vec![play("v", "ar:a", "e2")]).unwrap();
    assert_eq!(s.applied_seq(), 4);
}

/// Entries in the log that the stores never saw (a crash after the log's fsync, before
/// the stores' checkpoint) are applied when the service opens, once.
#[test]
fn entries_the_stores_missed_are_replayed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.ingest_events(vec![play("u", "ar:x", "e0")]).unwrap();
        s.shutdown().unwrap();
    }
    {
        let mut log = FileLog::open(&dir.path().join("log"), 1).unwrap();
        let rec = parse_record(&json!({"id":"ar:late","type":"artist","name":"Late Artist"})).unwrap();
        let entries = [
            Entry::Catalog { records: vec![rec] },
            Entry::Events {
                events: vec![
                    needle_core::event::parse_event(&play("u", "ar:late", "e1")).unwrap(),
                    // Already stored: dropped as a duplicate when replayed.
                    needle_core::event::parse_event(&play("u", "ar:x", "e0")).unwrap(),
                ],
            },
            Entry::EraseListener {
                user_id: "gone".into(),
                tokens_before_ms: None,
            },
        ]
        .iter()
        .map(|e| e.encode().unwrap())
        .collect::<Vec<_>>();
        let first = log.append(&entries).unwrap();
        assert_eq!(first, 2);
    }
    for _ in 0..2 {
        let s = open(dir.path());
        assert_eq!(s.applied_seq(), 4);
        assert_eq!(s.get("ar:late").unwrap().unwrap().name, "Late Artist");
        let history = s.history("u", 10).unwrap().unwrap();
        assert_eq!(history.len(), 2, "{history:?}");
        s.shutdown().unwrap();
    }
}

#[test]
fn erasure_goes_through_the_log_and_stays() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.ingest_events(vec![play("u", "ar:a", "e1"), play("w", "ar:a", "e2")])
            .unwrap();
        assert_eq!(s.delete_user("u").unwrap(), 1);
        assert!(s.history("u", 10).unwrap().is_none());
        // The same event id is new again for an erased listener.
        let r = s.ingest_events(vec![play("u", "ar:a", "e1")]).unwrap();
        assert_eq!(r.accepted, 1);
        assert_eq!(s.delete_user("u").unwrap(), 1);
    }
    let s = open(dir.path());
    assert!(s.history("u", 10).unwrap().is_none());
    assert_eq!(s.history("w", 10).unwrap().unwrap().len(), 1);
}

#[test]
fn a_model_is_activated_by_a_log_entry() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut catalog = Vec::new();
    let mut events = Vec::new();
    for a in 0..6 {
        catalog.push(json!({"id": format!("ar:{a}"), "type": "artist", "name": format!("Artist {a}")}));
    }
    for u in 0..8 {
        for a in 0..4 {
            events.push(play(
                &format!("u{u}"),
                &format!("ar:{}", (u + a) % 6),
                &format!("e{u}-{a}"),
            ));
        }
    }
    s.write_values(catalog).unwrap();
    s.ingest_events(events).unwrap();
    let before = s.applied_seq();
    s.train_now(&mut |_| ()).unwrap();
    assert_eq!(s.recs().model().map(|m| m.version), Some(1));
    assert_eq!(s.applied_seq(), before + 1, "activation is one log entry");
    let current = std::fs::read_to_string(dir.path().join("models").join("CURRENT")).unwrap();
    assert_eq!(current.trim(), "model-000001.bin");
}

#[test]
fn events_from_the_future_are_rejected_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = needle_core::time::ManualClock::new(1_764_000_000_000);
    let s = needle_service::Service::open_with_clock(
        needle_service::ServiceConfig::new(needle_search::EngineConfig::new(dir.path())),
        clock.clone(),
    )
    .unwrap();
    let at = |ts: i64, id: &str| json!({"user_id": "u", "type": "play", "item_id": "t", "ts": ts, "event_id": id});
    let r = s
        .ingest_events(vec![
            at(1_764_000_000_000, "now"),
            at(1_764_000_000_000 + 23 * 3600 * 1000, "within-a-day"),
            at(1_764_000_000_000 + 25 * 3600 * 1000, "tomorrow-and-more"),
        ])
        .unwrap();
    assert_eq!(r.accepted, 2);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!((r.rejected[0].index, r.rejected[0].code.as_str()), (2, "invalid_field"));
    assert!(r.rejected[0].message.contains("`ts`"), "{}", r.rejected[0].message);
    // Once the clock has moved on, the same event is accepted.
    clock.advance_ms(2 * 3600 * 1000);
    assert_eq!(
        s.ingest_events(vec![at(1_764_000_000_000 + 25 * 3600 * 1000, "later")])
            .unwrap()
            .accepted,
        1
    );
}
