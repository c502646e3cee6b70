//! Model-based property test of [`CatalogStore`]: random sequences of batches (upserts of
//! new and existing ids referring to each other, deletes of present and absent ids),
//! reopens, change-feed trims and deferred durability, applied both to the store and to a
//! plain `BTreeMap` model. After every step every read agrees with the model.

use needle_core::validate::parse_record;
use needle_core::{Entity, Record};
use needle_store::{Applied, CatalogStore, ResolvedNames};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Ids of every shape the key order has to handle: prefixes of each other, digits out of
/// numeric order, upper case before lower, a non-ASCII first byte.
const IDS: [&str; 8] = ["ar:1", "ar:10", "ar:2", "al:1", "tr:1", "Z", "ép:1", "a"];
const NAMES: [&str; 3] = ["One", "Two", "Three"];
const TYPES: [&str; 8] = [
    "artist",
    "album",
    "track",
    "playlist",
    "show",
    "episode",
    "audiobook",
    "chapter",
];

#[derive(Debug, Clone)]
enum Op {
    /// One `apply` of these records (a group commit of several client batches).
    Batch(Vec<Value>),
    /// Drop the store and open it again from the same directory.
    Reopen,
    /// `trim_changes` up to the `n`th sequence number in 0..=last_seq+1.
    Trim(usize),
    /// `defer_durability`.
    Defer(bool),
    /// `sync`.
    Sync,
    /// `changes_since(from, limit)` with `from` the `n`th sequence number.
    Feed(usize, usize),
}

fn id() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&IDS[..])
}

fn upsert() -> impl Strategy<Value = Value> {
    (
        id(),
        prop::sample::select(&TYPES[..]),
        prop::sample::select(&NAMES[..]),
        prop::option::of(prop::sample::select(&[0.0, 1.5, 1e6][..])),
        prop::collection::vec(id(), 0..4),
        prop::option::of(id()),
        prop::option::of("[a-z ]{1,12}"),
        prop::collection::vec(prop_oneof![id(), Just("old:1"), Just("old:2")], 0..3),
    )
        .prop_map(|(id, kind, name, popularity, ids, one, text, alias_ids)| {
            let mut v = json!({"id": id, "type": kind, "name": name});
            let o = v.as_object_mut().expect("object");
            // Alias ids: other entities' live ids (which must not win over them) and ids
            // no entity has; never the entity's own id (validation refuses it).
            let alias_ids: BTreeSet<&str> = alias_ids.into_iter().filter(|a| *a != id).collect();
            if !alias_ids.is_empty() {
                o.insert("alias_ids".into(), json!(alias_ids));
            }
            if let Some(p) = popularity {
                o.insert("popularity".into(), json!(p));
            }
            match kind {
                "album" => {
                    o.insert("artist_ids".into(), json!(ids));
                }
                "track" => {
                    o.insert("artist_ids".into(), json!(ids));
                    if let Some(a) = one {
                        o.insert("album_id".into(), json!(a));
                    }
                }
                "playlist" => {
                    // Not a reference: a playlist does not display its tracks' names.
                    o.insert("track_ids".into(), json!(ids));
                }
                "episode" => {
                    if let Some(s) = one {
                        o.insert("show_id".into(), json!(s));
                    }
                    if let Some(t) = text {
                        o.insert("transcript".into(), json!(t));
                    }
                }
                "chapter" => {
                    if let Some(b) = one {
                        o.insert("audiobook_id".into(), json!(b));
                    }
                }
                "show" => {
                    if let Some(p) = text {
                        o.insert("publisher".into(), json!(p));
                    }
                }
                _ => {}
            }
            v
        })
}

fn record() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => upsert(),
        1 => id().prop_map(|id| json!({"id": id, "deleted": true})),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => prop::collection::vec(record(), 1..4).prop_map(Op::Batch),
        2 => Just(Op::Reopen),
        1 => (0usize..64).prop_map(Op::Trim),
        1 => any::<bool>().prop_map(Op::Defer),
        1 => Just(Op::Sync),
        2 => (0usize..64, 0usize..8).prop_map(|(from, limit)| Op::Feed(from, limit)),
    ]
}

/// The ids `e` displays the names of, written out per field (not via `Entity::references`).
fn refers_to(e: &Entity, id: &str) -> bool {
    e.artist_ids.iter().any(|a| a == id)
        || e.album_id.as_deref() == Some(id)
        || e.show_id.as_deref() == Some(id)
        || e.audiobook_id.as_deref() == Some(id)
}

/// What the store should hold.
#[derive(Default)]
struct Model {
    entities: BTreeMap<String, Entity>,
    feed: BTreeMap<u64, String>,
    seq: u64,
}

impl Model {
    fn referrers(&self, id: &str) -> Vec<String> {
        self.entities
            .values()
            .filter(|e| refers_to(e, id))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Apply a batch the way the store documents it: later records win; every changed
    /// id, and every dependent of an id whose name changed, gets one new sequence number,
    /// in id order, with whether it was in the catalog before the batch.
    fn apply(&mut self, records: &[Record]) -> Applied {
        let before: BTreeSet<String> = self.entities.keys().cloned().collect();
        let mut changed: BTreeMap<String, bool> = BTreeMap::new();
        for rec in records {
            let id = rec.id().to_string();
            let name_changed = match rec {
                Record::Upsert(e) => {
                    let old = self.entities.insert(id.clone(), e.as_ref().clone());
                    old.is_none_or(|o| o.name != e.name)
                }
                Record::Delete(_) => {
                    if self.entities.remove(&id).is_none() {
                        continue;
                    }
                    true
                }
            };
            changed.insert(id.clone(), before.contains(&id));
            if name_changed {
                for dep in self.referrers(&id) {
                    let existed = before.contains(&dep);
                    changed.insert(dep, existed);
                }
            }
        }
        for id in changed.keys() {
            self.seq += 1;
            self.feed.insert(self.seq, id.clone());
        }
        Applied {
            seq: if changed.is_empty() { 0 } else { self.seq },
            changed: changed.into_iter().collect(),
        }
    }

    fn counts(&self) -> (u64, BTreeMap<String, u64>) {
        let mut by_type = BTreeMap::new();
        for e in self.entities.values() {
            *by_type.entry(e.entity_type().to_string()).or_insert(0) += 1;
        }
        (self.entities.len() as u64, by_type)
    }

    /// The entity an id names: its own, else the smallest id listing it as an alias.
    fn canonical(&self, id: &str) -> Option<&Entity> {
        self.entities
            .get(id)
            .or_else(|| self.entities.values().find(|e| e.alias_ids.iter().any(|a| a == id)))
    }

    fn name(&self, id: &str) -> Option<String> {
        self.entities.get(id).map(|e| e.name.clone())
    }

    fn resolve(&self, e: &Entity) -> ResolvedNames {
        ResolvedNames {
            artists: e.artist_ids.iter().filter_map(|a| self.name(a)).collect(),
            album: e.album_id.as_deref().and_then(|a| self.name(a)),
            show: e.show_id.as_deref().and_then(|a| self.name(a)),
            audiobook: e.audiobook_id.as_deref().and_then(|a| self.name(a)),
        }
    }
}

fn without_transcript(e: &Entity) -> Entity {
    Entity {
        transcript: None,
        ..e.clone()
    }
}

/// Every read of the store against the model.
fn check(store: &CatalogStore, model: &Model) -> Result<(), TestCaseError> {
    let snap = store.snapshot().unwrap();
    for id in IDS {
        let want = model.entities.get(id);
        let got = store.get(id).unwrap();
        prop_assert_eq!(got.as_ref(), want, "get({})", id);
        prop_assert_eq!(
            snap.get_display(id).unwrap(),
            want.map(without_transcript),
            "get_display({})",
            id
        );
        prop_assert_eq!(snap.name_of(id).unwrap(), model.name(id), "name_of({})", id);
        prop_assert_eq!(snap.referrers(id).unwrap(), model.referrers(id), "referrers({})", id);
    }
    for id in IDS.iter().chain(&["old:1", "old:2"]) {
        let want = model.canonical(id);
        prop_assert_eq!(
            snap.canonical_id(id).unwrap(),
            want.map(|e| e.id.clone()),
            "canonical_id({})",
            id
        );
        let got = store.get_canonical(id).unwrap();
        prop_assert_eq!(got.as_ref(), want, "get_canonical({})", id);
    }
    for e in model.entities.values() {
        prop_assert_eq!(snap.resolve(e).unwrap(), model.resolve(e), "resolve({})", &e.id);
    }
    prop_assert_eq!(store.counts().unwrap(), model.counts());
    let mut entities = Vec::new();
    store.for_each_entity(|e| entities.push(e)).unwrap();
    let want: Vec<Entity> = model.entities.values().map(without_transcript).collect();
    prop_assert_eq!(entities, want, "for_each_entity: every entity, in id order");
    let mut ids = Vec::new();
    store.for_each_id(|id| ids.push(id.to_string())).unwrap();
    prop_assert_eq!(ids, model.entities.keys().cloned().collect::<Vec<_>>(), "for_each_id");
    prop_assert_eq!(store.last_seq().unwrap(), model.seq, "last_seq");
    let feed: Vec<(u64, String)> = model.feed.iter().map(|(k, v)| (*k, v.clone())).collect();
    prop_assert_eq!(store.changes_since(0, usize::MAX).unwrap(), feed, "change feed");
    Ok(())
}

fn parse(records: &[Value]) -> Vec<Record> {
    records
        .iter()
        .map(|v| parse_record(v).unwrap_or_else(|e| panic!("generated an invalid record {v}: {e:?}")))
        .collect()
}

fn run(dir: &Path, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut store = Some(CatalogStore::open(dir).unwrap());
    let mut model = Model::default();
    let mut deferred = false;
    let mut log_seq = 0u64;
    for op in ops {
        let s = store.as_ref().expect("open");
        let last_seq = s.last_seq().unwrap();
        match op {
            Op::Batch(values) => {
                let records = parse(&values);
                // A snapshot taken before the batch keeps seeing the state before it.
                let before = s.snapshot().unwrap();
                let want_before: Vec<Option<Entity>> = records
                    .iter()
                    .map(|r| model.entities.get(r.id()).map(without_transcript))
                    .collect();
                // Every batch stands for the next write-log entry; the store records it.
                log_seq += 1;
                let got = s.apply(&records, log_seq).unwrap();
                prop_assert_eq!(s.applied_seq().unwrap(), log_seq, "applied_seq");
                let want = model.apply(&records);
                prop_assert_eq!(got.seq, want.seq, "Applied::seq of {:?}", values);
                prop_assert_eq!(&got.changed, &want.changed, "Applied::changed of {:?}", values);
                for (r, old) in records.iter().zip(want_before) {
                    prop_assert_eq!(before.get_display(r.id()).unwrap(), old, "old snapshot");
                }
            }
            Op::Reopen => {
                if deferred {
                    // A bulk loader syncs before it closes the store.
                    s.sync().unwrap();
                }
                // The old store must be closed first: redb locks its file.
                drop(store.take());
                store = Some(CatalogStore::open(dir).unwrap());
                deferred = false;
            }
            Op::Trim(n) => {
                let upto = n as u64 % (model.seq + 2);
                s.trim_changes(upto).unwrap();
                model.feed.retain(|k, _| *k > upto);
            }
            Op::Defer(on) => {
                s.defer_durability(on);
                deferred = on;
            }
            Op::Sync => s.sync().unwrap(),
            Op::Feed(from, limit) => {
                let from = from as u64 % (model.seq + 2);
                let want: Vec<(u64, String)> = model
                    .feed
                    .range(from + 1..)
                    .take(limit)
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                prop_assert_eq!(
                    s.changes_since(from, limit).unwrap(),
                    want,
                    "changes_since({}, {})",
                    from,
                    limit
                );
            }
        }
        let s = store.as_ref().expect("open");
        check(s, &model)?;
        prop_assert!(s.last_seq().unwrap() >= last_seq, "last_seq never goes back");
    }
    Ok(())
}

proptest! {
    // Every batch is an fsync'd commit: 48 sequences of up to 40 steps take about a
    // second on an idle disk, a few under load.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn catalog_store_agrees_with_a_map(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), ops)?;
    }
}

/// Regression (found by the property test): an entity created by the batch was reported
/// as already in the catalog when it referred to itself, when a later record of the same
/// batch renamed something it refers to, or when the batch upserted it twice.
#[test]
fn entities_created_by_a_batch_are_reported_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = CatalogStore::open(dir.path()).unwrap();
    let records = parse(&[json!({"id": "ep:1", "type": "episode", "name": "One", "show_id": "ep:1"})]);
    assert_eq!(
        store.apply(&records, 0).unwrap().changed,
        vec![("ep:1".to_string(), false)]
    );

    store
        .apply(&parse(&[json!({"id": "ar:1", "type": "artist", "name": "Old"})]), 0)
        .unwrap();
    let records = parse(&[
        json!({"id": "tr:1", "type": "track", "name": "Song", "artist_ids": ["ar:1"]}),
        json!({"id": "ar:1", "type": "artist", "name": "New"}),
        json!({"id": "tr:2", "type": "track", "name": "A"}),
        json!({"id": "tr:2", "type": "track", "name": "B"}),
        json!({"id": "ep:1", "deleted": true}),
        json!({"id": "ep:1", "type": "episode", "name": "Again"}),
    ]);
    let changed = store.apply(&records, 0).unwrap().changed;
    let want = [("ar:1", true), ("ep:1", true), ("tr:1", false), ("tr:2", false)];
    let want: Vec<(String, bool)> = want.iter().map(|(id, e)| (id.to_string(), *e)).collect();
    assert_eq!(changed, want);
}

/// The alias table through a life cycle, step by step: what `get_canonical` answers for
/// each id after each batch (`-` for nothing).
#[test]
fn alias_ids_follow_upserts_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let store = CatalogStore::open(dir.path()).unwrap();
    let artist = |id: &str, alias_ids: &[&str]| json!({"id": id, "type": "artist", "name": id, "alias_ids": alias_ids});
    let steps: Vec<(Vec<Value>, [&str; 4])> = vec![
        // ids asked:                                          lfm:1    bb:a     bb:b     lfm:2
        (
            vec![artist("lfm:1", &["bb:a", "bb:b"])],
            ["lfm:1", "lfm:1", "lfm:1", "-"],
        ),
        // Re-upserted without `bb:b`: that mapping goes, the other stays.
        (vec![artist("lfm:1", &["bb:a"])], ["lfm:1", "lfm:1", "-", "-"]),
        // A second entity claiming `bb:a`: the smallest owner id answers.
        (vec![artist("lfm:2", &["bb:a"])], ["lfm:1", "lfm:1", "-", "lfm:2"]),
        // An alias id that becomes a live entity's id: the entity itself wins.
        (vec![artist("bb:a", &[])], ["lfm:1", "bb:a", "-", "lfm:2"]),
        (
            vec![json!({"id": "bb:a", "deleted": true})],
            ["lfm:1", "lfm:1", "-", "lfm:2"],
        ),
        // Deleting an owner drops its mappings; the other owner still answers.
        (
            vec![json!({"id": "lfm:1", "deleted": true})],
            ["-", "lfm:2", "-", "lfm:2"],
        ),
        (vec![artist("lfm:2", &[])], ["-", "-", "-", "lfm:2"]),
    ];
    for (i, (batch, want)) in steps.into_iter().enumerate() {
        store.apply(&parse(&batch), 0).unwrap();
        for (asked, want) in ["lfm:1", "bb:a", "bb:b", "lfm:2"].into_iter().zip(want) {
            let got = store.get_canonical(asked).unwrap().map(|e| e.id);
            assert_eq!(got.as_deref().unwrap_or("-"), want, "step {i}: get_canonical({asked})");
            // A plain `get` never follows aliases.
            let plain = store.get(asked).unwrap().map(|e| e.id);
            assert!(plain.is_none_or(|p| p == asked), "step {i}: get({asked})");
        }
    }
}
