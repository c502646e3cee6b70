//! The catalog store compresses what it keeps: records with dictionaries it trains on
//! itself, transcripts with zstd. What is read back, and what replicas compare, must not
//! depend on when (or whether) a store compressed.

use needle_core::validate::parse_record;
use needle_core::Record;
use needle_store::CatalogStore;
use serde_json::{json, Value};
use std::path::Path;

/// A track record of the kind a catalog holds, `i` making each different.
fn track(i: usize, name: &str) -> Value {
    json!({
        "id": format!("tr:{i:05}"),
        "type": "track",
        "name": format!("{name} {i}"),
        "artist_ids": [format!("ar:{}", i % 300)],
        "tags": ["rock", "indie", if i.is_multiple_of(2) { "80s" } else { "live" }],
        "popularity": (i % 1000) as f64 / 10.0,
        "release_date": "1987-06-01",
        "language": "en",
    })
}

fn episode(i: usize) -> Value {
    json!({
        "id": format!("ep:{i:05}"),
        "type": "episode",
        "name": format!("Episode {i}"),
        "show_id": "sh:1",
        "transcript": format!("welcome back to the show, today in episode {i} we talk about search engines. ").repeat(50),
    })
}

fn parse(values: &[Value]) -> Vec<Record> {
    values.iter().map(|v| parse_record(v).unwrap()).collect()
}

fn file_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("catalog.redb")).unwrap().len()
}

/// Everything `store` holds, as read back: each record in full (transcripts included).
fn contents(store: &CatalogStore) -> Vec<String> {
    let snap = store.snapshot().unwrap();
    let mut ids = Vec::new();
    store.for_each_id(|id| ids.push(id.to_string())).unwrap();
    ids.iter()
        .map(|id| serde_json::to_string(&snap.get(id).unwrap().unwrap()).unwrap())
        .collect()
}

#[test]
fn records_written_after_the_store_trains_are_compressed_and_read_back_the_same() {
    let n = 6_000;
    let records: Vec<Value> = (0..n).map(|i| track(i, "Song")).chain((0..40).map(episode)).collect();

    // One store fed in small batches: it trains a dictionary at 4,096 records and
    // compresses everything after; another fed everything at once: it trains after the
    // batch, so it keeps every record as plain JSON.
    let (small, whole) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let batched = CatalogStore::open(small.path()).unwrap();
    for chunk in records.chunks(250) {
        batched.apply(&parse(chunk), 0).unwrap();
    }
    let at_once = CatalogStore::open(whole.path()).unwrap();
    at_once.apply(&parse(&records), 0).unwrap();

    let expected = contents(&at_once);
    assert_eq!(expected.len(), n + 40);
    assert_eq!(contents(&batched), expected);
    let digest = |s: &CatalogStore| s.snapshot().unwrap().digest().unwrap();
    assert_eq!(digest(&batched), digest(&at_once), "replicas compare decoded records");

    // The same records written again, now that both stores hold a dictionary: both
    // compress them.
    for chunk in records.chunks(1_000) {
        at_once.apply(&parse(chunk), 0).unwrap();
    }
    assert_eq!(contents(&at_once), expected);
    assert_eq!(digest(&at_once), digest(&batched));

    // Updates, renames and deletes after training, then a reopen (the dictionaries are
    // read back from the file).
    let changes = parse(&[
        track(7, "Renamed"),
        json!({"id": "tr:00008", "deleted": true}),
        track(n + 1, "New"),
        json!({"id": "ep:00003", "type": "episode", "name": "No transcript now", "show_id": "sh:1"}),
    ]);
    batched.apply(&changes, 0).unwrap();
    at_once.apply(&changes, 0).unwrap();
    drop(batched);
    let batched = CatalogStore::open(small.path()).unwrap();
    assert_eq!(contents(&batched), contents(&at_once));
    assert_eq!(digest(&batched), digest(&at_once));
    let e = batched.get("tr:00007").unwrap().unwrap();
    assert_eq!(e.name, "Renamed 7");
    assert!(batched.get("tr:00008").unwrap().is_none());
    assert!(batched.get("ep:00003").unwrap().unwrap().transcript.is_none());
    let t = batched.get("ep:00004").unwrap().unwrap().transcript.unwrap();
    assert!(t.starts_with("welcome back to the show, today in episode 4 "));
    let mut streamed = 0;
    batched.for_each_entity(|_| streamed += 1).unwrap();
    assert_eq!(streamed, n + 40);
}

#[test]
fn compression_and_compaction_shrink_the_file() {
    let n = 20_000;
    let records: Vec<Value> = (0..n).map(|i| track(i, "Song")).collect();
    let dir = tempfile::tempdir().unwrap();
    let store = CatalogStore::open(dir.path()).unwrap();
    for chunk in records.chunks(500) {
        store.apply(&parse(chunk), 0).unwrap();
    }
    // The first three quarters deleted (those written before the store had trained
    // dictionaries among them): their pages are free, but the file keeps its size.
    let deletes: Vec<Value> = (0..n / 4 * 3)
        .map(|i| json!({"id": format!("tr:{i:05}"), "deleted": true}))
        .collect();
    for chunk in deletes.chunks(1_000) {
        store.apply(&parse(chunk), 0).unwrap();
    }
    let raw: usize = records[n / 4 * 3..].iter().map(|r| r.to_string().len()).sum();
    let before = file_size(dir.path());
    assert!(store.compact().unwrap(), "nothing else reads the store");
    let after = file_size(dir.path());
    assert!(after < before, "compaction: {before} -> {after} bytes");
    // Records stored in well under half the bytes of their JSON.
    let sizes = store.table_sizes().unwrap();
    let entities = sizes.iter().find(|t| t.name == "entities").unwrap();
    assert!(
        (entities.stored_bytes as usize) * 2 < raw,
        "{} bytes stored for {raw} bytes of JSON",
        entities.stored_bytes
    );
    // One dictionary left (several were trained on the way to 20,000 records).
    let dicts = sizes.iter().find(|t| t.name == "dictionaries").unwrap();
    assert!(
        dicts.stored_bytes > 1_000 && dicts.stored_bytes <= 16 * 1024 + 64,
        "{dicts:?}"
    );
    // A compacted store reads and writes as before.
    assert_eq!(store.get("tr:19042").unwrap().unwrap().name, "Song 19042");
    assert!(store.get("tr:00042").unwrap().is_none());
    store.apply(&parse(&[track(19_042, "Again")]), 0).unwrap();
    drop(store);
    let store = CatalogStore::open(dir.path()).unwrap();
    assert_eq!(store.get("tr:19042").unwrap().unwrap().name, "Again 19042");
    // A read snapshot under way: compaction waits for another time.
    let snap = store.snapshot().unwrap();
    assert!(!store.compact().unwrap());
    drop(snap);
    assert!(store.compact().unwrap());
}
