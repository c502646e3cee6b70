//! Every acknowledged listening event survives `kill -9` of the server, repeatedly: it is
//! counted in its listener's profile and present in their history after restart, and
//! nothing is counted twice.

use crate::server::{get_json, http, Server};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USERS: usize = 13;
const BATCH: usize = 200;
const WRITERS: usize = 2;

/// One event as sent: (event_id, user, ts).
type Sent = (String, String, i64);

/// The NDJSON body of a batch.
fn body(events: &[Sent]) -> String {
    events
        .iter()
        .map(|(id, user, ts)| {
            format!(
                r#"{{"event_id":"{id}","user_id":"{user}","type":"play","item_id":"t{}","ts":{ts}}}"#,
                ts % 97
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn batch(round: usize, writer: usize, b: usize) -> Vec<Sent> {
    (0..BATCH)
        .map(|i| {
            let n = b * BATCH + i;
            let ts = 1_700_000_000_000 + (round as i64) * 1_000_000_000 + (writer as i64) * 100_000_000 + n as i64;
            (
                format!("r{round}-w{writer}-{n}"),
                format!("k{}", (n * 7 + writer) % USERS),
                ts,
            )
        })
        .collect()
}

/// Stream batches until one fails; returns the acknowledged batches and the one in
/// flight when the server died (its events may or may not be stored).
/// `batches` counts the acknowledged batches of every writer.
fn stream(
    port: u16,
    round: usize,
    writer: usize,
    stop: Arc<AtomicBool>,
    batches: Arc<AtomicUsize>,
) -> (Vec<Sent>, Vec<Sent>) {
    let mut acked = Vec::new();
    for b in 0..100_000 {
        let events = batch(round, writer, b);
        match http(port, "POST", "/v1/events", "application/x-ndjson", &body(&events)) {
            Ok((200, resp)) if resp.contains(&format!("\"accepted\":{BATCH}")) => acked.extend(events),
            Ok((200, resp)) => panic!("batch not fully accepted: {resp}"),
            _ => return (acked, events),
        }
        batches.fetch_add(1, Ordering::Release);
        if stop.load(Ordering::Relaxed) {
            return (acked, Vec::new());
        }
    }
    (acked, Vec::new())
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<Sent> = Vec::new();
    let mut in_flight: Vec<Vec<Sent>> = Vec::new();
    for round in 0..4 {
        let server = Server::start(dir.path());
        let port = server.port;
        let stop = Arc::new(AtomicBool::new(false));
        let batches = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (stop, batches) = (stop.clone(), batches.clone());
                std::thread::spawn(move || stream(port, round, w, stop, batches))
            })
            .collect();
        // Strike mid-stream, after a number of acknowledged batches that differs from
        // round to round (bounded wait; a writer that stopped ends it too).
        let target = 4 + 8 * round;
        let deadline = Instant::now() + Duration::from_secs(120);
        while batches.load(Ordering::Acquire) < target && !writers.iter().any(|w| w.is_finished()) {
            assert!(Instant::now() < deadline, "{target} batches not acknowledged in time");
            std::thread::sleep(Duration::from_millis(2));
        }
        server.kill(); // SIGKILL mid-stream
        stop.store(true, Ordering::Relaxed);
        let mut got = 0;
        for w in writers {
            let (a, f) = w.join().unwrap();
            got += a.len();
            acked.extend(a);
            if !f.is_empty() {
                in_flight.push(f);
            }
        }
        assert!(got > 0, "round {round}: no batch was acknowledged before the kill");
    }

    let server = Server::start(dir.path());
    let port = server.port;
    // Batches whose answer was lost may or may not be stored; sending them again must
    // store exactly the missing ones (their event ids make it idempotent).
    for events in &in_flight {
        let (status, resp) = http(port, "POST", "/v1/events", "application/x-ndjson", &body(events)).unwrap();
        assert_eq!(status, 200, "{resp}");
        let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
        assert_eq!(
            v["accepted"].as_u64().unwrap() + v["duplicates"].as_u64().unwrap(),
            BATCH as u64,
            "{resp}"
        );
    }
    // Acknowledged events are all stored: sending them again is all duplicates.
    for chunk in acked.chunks(5000) {
        let (status, resp) = http(port, "POST", "/v1/events", "application/x-ndjson", &body(chunk)).unwrap();
        assert_eq!(status, 200, "{resp}");
        assert!(
            resp.contains("\"accepted\":0") && resp.contains(&format!("\"duplicates\":{}", chunk.len())),
            "acknowledged events were lost: {resp}"
        );
    }
    let mut expected: HashMap<&str, (u64, i64)> = HashMap::new();
    for (_, user, ts) in acked.iter().chain(in_flight.iter().flatten()) {
        let e = expected.entry(user.as_str()).or_insert((0, i64::MIN));
        e.0 += 1;
        e.1 = e.1.max(*ts);
    }
    assert_eq!(expected.len(), USERS);
    for (user, (plays, newest)) in &expected {
        let p = get_json(port, &format!("/v1/users/{user}/profile"));
        assert_eq!(p["events"]["play"].as_u64(), Some(*plays), "{user}: {p}");
        let h = get_json(port, &format!("/v1/users/{user}/history?limit=1"));
        assert_eq!(h["events"][0]["ts"].as_i64(), Some(*newest), "{user}: {h}");
    }
    server.kill();
}
