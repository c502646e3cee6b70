//! Model-based test of `EventStore`: random applies (with repeated event ids), erasures,
//! stale entries, syncs and reopens against a plain model of what must be stored.

use needle_core::profile::ProfileConfig;
use needle_core::{Event, EventType};
use needle_store::EventStore;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
enum Op {
    /// Events as (user, item, event id) from small pools, so ids repeat.
    Apply(Vec<(u8, u8, Option<u8>)>),
    Erase(u8),
    /// An entry the store already holds (a replay after a crash): must change nothing.
    Stale,
    Sync,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => prop::collection::vec((0u8..4, 0u8..6, prop::option::of(0u8..8)), 0..5).prop_map(Op::Apply),
        1 => (0u8..4).prop_map(Op::Erase),
        1 => Just(Op::Stale),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

fn event(user: u8, item: u8, id: Option<u8>) -> Event {
    Event {
        event_id: id.map(|i| format!("e{i}")),
        user_id: format!("u{user}"),
        kind: EventType::Play,
        item_id: format!("tr:{item}"),
        ts: 1_700_000_000_000,
        ms_played: None,
        count: 1,
        context: None,
    }
}

#[derive(Default)]
struct Model {
    /// Plays stored per user.
    plays: BTreeMap<String, u64>,
    /// (user, event id) pairs seen.
    seen: BTreeSet<(String, String)>,
    seq: u64,
}

fn open(dir: &std::path::Path) -> EventStore {
    EventStore::open(dir, ProfileConfig::default()).unwrap()
}

fn check(store: &EventStore, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(store.applied_seq(), model.seq);
    prop_assert_eq!(store.users(), model.plays.len());
    for u in 0..4u8 {
        let user = format!("u{u}");
        let got = store.with_profile(&user, &mut |p| p.counts[EventType::Play.code() as usize]);
        prop_assert_eq!(got, model.plays.get(&user).copied(), "plays of {}", user);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn event_store_matches_its_model(ops in prop::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Some(open(dir.path()));
        let mut model = Model::default();
        for op in ops {
            let s = store.as_ref().unwrap();
            match op {
                Op::Apply(raw) => {
                    model.seq += 1;
                    let events: Vec<Event> = raw.iter().map(|&(u, i, id)| event(u, i, id)).collect();
                    // Half the entries are stored as the log encoded them (duplicates included).
                    let encoded = needle_store::Entry::Events { events: events.clone() }.encode().unwrap();
                    let bytes = (model.seq % 2 == 0).then_some(encoded.as_slice());
                    let got = s.apply(model.seq, events.clone(), bytes).unwrap();
                    let (mut accepted, mut duplicates) = (0, 0);
                    for e in &events {
                        if let Some(id) = &e.event_id {
                            if !model.seen.insert((e.user_id.clone(), id.clone())) {
                                duplicates += 1;
                                continue;
                            }
                        }
                        accepted += 1;
                        *model.plays.entry(e.user_id.clone()).or_default() += 1;
                    }
                    prop_assert_eq!((got.accepted, got.duplicates), (accepted, duplicates));
                }
                Op::Erase(u) => {
                    model.seq += 1;
                    let user = format!("u{u}");
                    let removed = s.erase(model.seq, &user).unwrap();
                    prop_assert_eq!(removed, model.plays.remove(&user).unwrap_or(0));
                    model.seen.retain(|(owner, _)| *owner != user);
                }
                Op::Stale => {
                    if model.seq > 0 {
                        let got = s.apply(model.seq, vec![event(0, 0, None)], None).unwrap();
                        prop_assert_eq!(got.accepted, 0);
                        prop_assert_eq!(s.erase(model.seq, "u1").unwrap(), 0);
                    }
                }
                Op::Sync => s.sync().unwrap(),
                Op::Reopen => {
                    drop(store.take());
                    store = Some(open(dir.path()));
                }
            }
            check(store.as_ref().unwrap(), &model)?;
        }
    }
}
