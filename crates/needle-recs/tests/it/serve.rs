//! The serving layer on an in-memory source: training, the model file round trip, and
//! loading the current version after a restart.

use std::borrow::Cow;

use needle_core::time::{Clock, ManualClock};
use needle_core::{Entity, EntityType, Event, EventType};
use needle_recs::serve::mem::MemorySource;
use needle_recs::serve::{RecRequest, Recs, ServeConfig, ServingModel, Surface};
use needle_recs::RecsError;

fn source() -> MemorySource {
    source_of(&events())
}

fn source_of(events: &[Event]) -> MemorySource {
    let mut s = MemorySource::default();
    for g in 0..3 {
        for i in 0..20 {
            s.add(Entity {
                id: format!("g{g}-i{i}"),
                kind: Some(EntityType::Artist),
                name: format!("artist {g}.{i}"),
                tags: vec![format!("genre{g}")],
                ..Default::default()
            });
        }
        // Never played: they get content vectors from their artist and tags.
        for t in 0..3 {
            s.add(Entity {
                id: format!("g{g}-t{t}"),
                kind: Some(EntityType::Track),
                name: format!("track {g}.{t}"),
                artist_ids: vec![format!("g{g}-i{t}")],
                tags: vec![format!("genre{g}")],
                ..Default::default()
            });
        }
    }
    for e in events {
        s.apply(e);
    }
    s
}

fn events() -> Vec<Event> {
    let mut v = Vec::new();
    for u in 0..60usize {
        let g = u % 3;
        for k in 0..8usize {
            v.push(Event {
                event_id: None,
                user_id: format!("u{u}"),
                kind: EventType::Play,
                item_id: format!("g{g}-i{}", (u * 3 + k * 7) % 20),
                ts: 1_700_000_000_000,
                ms_played: None,
                count: 1 + k as u32,
                context: None,
            });
        }
    }
    v
}

fn config() -> ServeConfig {
    let mut c = ServeConfig::default();
    c.als.factors = 8;
    c.als.regularization = 0.05;
    c.als.iterations = 8;
    c
}

#[test]
fn a_saved_model_loads_back_identically_and_current_follows_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let src = source();
    let recs = Recs::open(dir.path(), config()).unwrap();
    assert!(recs.model().is_none());
    recs.train_now(&src, &mut |_| {}).unwrap();
    recs.train_now(&src, &mut |_| {}).unwrap();
    let live = recs.model().unwrap();
    assert_eq!(live.version, 2);
    let loaded = ServingModel::load_current(dir.path()).unwrap().expect("CURRENT exists");
    assert_eq!(loaded.version, 2);
    assert!(loaded.items.ids().eq(live.items.ids()));
    assert_eq!(loaded.meta, live.meta);
    for i in 0..live.n_vec as u32 {
        assert_eq!(loaded.vector(i), live.vector(i));
    }
    // Content vectors are held once, as `i8` codes in the vector index, in the model just
    // trained and in the one read back; trained items' vectors are the ALS factors.
    assert!(
        live.n_vec > live.n_trained,
        "the fixture has catalog items without plays"
    );
    let f = live.factors();
    for m in [&live, &std::sync::Arc::new(loaded)] {
        assert_eq!(m.index.vector_bytes(), m.n_vec * (f + 4), "one byte per factor");
        for i in 0..m.n_vec {
            let v = m.vector(i as u32).expect("a vector");
            let (scale, codes) = m.index.row_i8(i).expect("codes");
            if i < m.n_trained {
                let als = m.als.item_vector(i).expect("trained");
                assert!(matches!(v, Cow::Borrowed(x) if std::ptr::eq(x, als)), "item {i} copied");
                for (x, c) in als.iter().zip(codes) {
                    assert!((x - *c as f32 * scale).abs() <= scale / 2.0 + 1e-6);
                }
            } else {
                assert!(codes.iter().zip(v.iter()).all(|(c, x)| *c as f32 * scale == *x));
            }
        }
    }
    // A restarted service answers exactly as before.
    let req = RecRequest {
        surface: Surface::ForYou,
        types: None,
        limit: 10,
        market: None,
        explicit: true,
        now_ms: Some(1_700_000_000_000),
        discovery: None,
    };
    let before = recs.recommend(&src, "u4", &req).unwrap();
    let reopened = Recs::open(dir.path(), config()).unwrap();
    let after = reopened.recommend(&src, "u4", &req).unwrap();
    assert_eq!(before, after);
    // u4 is in group 1: the top items come from it.
    assert!(
        before.items.iter().take(5).all(|i| i.id.starts_with("g1-")),
        "{before:?}"
    );
}

/// The model file at `path` rewritten in the first format (every vector `f32`): the
/// content vectors dequantized from their codes.
fn rewrite_as_first_format(path: &std::path::Path, n_trained: usize, n_vec: usize, f: usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"NEEDLEM2");
    let json_end = 16 + u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let trained_end = json_end + n_trained * f * 4;
    let n_content = n_vec - n_trained;
    let scales_end = trained_end + n_content * 4;
    let codes_end = scales_end + n_content * f;
    let mut out = b"NEEDLEM1".to_vec();
    out.extend_from_slice(&bytes[8..trained_end]);
    for r in 0..n_content {
        let s = f32::from_le_bytes(bytes[trained_end + 4 * r..trained_end + 4 * r + 4].try_into().unwrap());
        for &c in &bytes[scales_end + r * f..scales_end + (r + 1) * f] {
            out.extend_from_slice(&((c as i8) as f32 * s).to_le_bytes());
        }
    }
    out.extend_from_slice(&bytes[codes_end..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_model_file_of_the_first_format_is_read_and_answers_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let src = source();
    let recs = Recs::open(dir.path(), config()).unwrap();
    recs.train_now(&src, &mut |_| {}).unwrap();
    let live = recs.model().unwrap();
    let path = dir.path().join("model-000001.bin");
    let new_len = std::fs::metadata(&path).unwrap().len();
    rewrite_as_first_format(&path, live.n_trained, live.n_vec, live.factors());
    let old_len = std::fs::metadata(&path).unwrap().len();
    let content = (live.n_vec - live.n_trained) as u64;
    assert_eq!(old_len - new_len, content * 3 * live.factors() as u64 - content * 4);
    let old = ServingModel::load_current(dir.path()).unwrap().expect("read");
    for i in 0..live.n_vec as u32 {
        assert_eq!(old.vector(i), live.vector(i), "item {i}");
    }
    let req = RecRequest {
        surface: Surface::ForYou,
        types: None,
        limit: 10,
        market: None,
        explicit: true,
        now_ms: Some(1_700_000_000_000),
        discovery: None,
    };
    let before = recs.recommend(&src, "u4", &req).unwrap();
    let after = Recs::open(dir.path(), config())
        .unwrap()
        .recommend(&src, "u4", &req)
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_damaged_model_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let recs = Recs::open(dir.path(), config()).unwrap();
    recs.train_now(&source(), &mut |_| {}).unwrap();
    let m = recs.model().unwrap();
    let path = dir.path().join("model-000001.bin");
    let bytes = std::fs::read(&path).unwrap();
    // A non-finite trained value or content scale, at the right length: refused, naming it.
    let json_end = 16 + u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    let first_scale = json_end + m.n_trained * m.factors() * 4;
    let scale_of_row = format!("vector {} has a non-finite scale", m.n_trained + 1);
    for (at, what) in [
        (json_end + 4, "trained vector 0 has a non-finite value"),
        (first_scale + 4, scale_of_row.as_str()),
    ] {
        let mut bad = bytes.clone();
        bad[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        std::fs::write(&path, &bad).unwrap();
        let e = ServingModel::load_current(dir.path()).err().expect("refused");
        assert!(e.to_string().contains(what), "{e}");
    }
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(ServingModel::load_current(dir.path()).is_err());
    std::fs::write(&path, b"garbage").unwrap();
    assert!(ServingModel::load_current(dir.path()).is_err());
}

#[test]
fn the_same_listening_gives_the_same_model() {
    // Same events, applied in another order: profiles are hash maps, so listeners and items
    // are enumerated differently; the model must not depend on that.
    let mut events = events();
    let a = source_of(&events);
    events.reverse();
    let b = source_of(&events);
    let ma = ServingModel::train(&a, &config(), 1, &mut |_| {}).unwrap();
    let mb = ServingModel::train(&b, &config(), 1, &mut |_| {}).unwrap();
    assert!(ma.items.ids().eq(mb.items.ids()));
    for i in 0..ma.n_vec as u32 {
        assert_eq!(ma.vector(i), mb.vector(i), "item {}", ma.items.id(i));
    }
}

#[test]
fn sessions_expire_after_being_idle_for_session_idle_s() {
    let dir = tempfile::tempdir().unwrap();
    let src = source();
    let clock = ManualClock::at_system_time();
    let config = ServeConfig {
        session_idle_s: 60,
        ..config()
    };
    let recs = Recs::open(dir.path(), config).unwrap().with_clock(clock.clone());
    recs.train_now(&src, &mut |_| {}).unwrap();
    let info = recs.start_session("u4", None, None, true).unwrap();
    assert_eq!(info.started_at_ms, clock.now_ms());
    let sid = info.session_id;
    // Idleness counts from the last `next`, not from the start.
    for _ in 0..3 {
        clock.advance_ms(59_999);
        assert!(recs.session_next(&src, &sid, 3).is_ok());
    }
    assert_eq!(recs.session_owner(&sid).unwrap().as_deref(), Some("u4"));
    clock.advance_ms(60_000);
    let err = recs.session_next(&src, &sid, 3).unwrap_err();
    assert!(matches!(err, RecsError::NotFound { what: "session", .. }), "{err:?}");
    // Expired sessions are dropped when the next one starts.
    recs.start_session("u5", None, None, true).unwrap();
    assert_eq!(recs.session_owner(&sid).unwrap(), None);
}

#[test]
fn a_session_serves_at_most_session_max_items() {
    let dir = tempfile::tempdir().unwrap();
    let src = source();
    let config = ServeConfig {
        session_max_items: 5,
        ..config()
    };
    let recs = Recs::open(dir.path(), config).unwrap();
    recs.train_now(&src, &mut |_| {}).unwrap();
    let sid = recs
        .start_session("u4", Some(vec![EntityType::Artist]), None, true)
        .unwrap()
        .session_id;
    assert_eq!(recs.session_next(&src, &sid, 3).unwrap().items.len(), 3);
    // The last step is cut to what is left.
    assert_eq!(recs.session_next(&src, &sid, 3).unwrap().items.len(), 2);
    let err = recs.session_next(&src, &sid, 3).unwrap_err();
    assert!(
        matches!(&err, RecsError::SessionExhausted { id, max: 5 } if *id == sid),
        "{err:?}"
    );
    // Other sessions are not affected.
    let other = recs
        .start_session("u4", Some(vec![EntityType::Artist]), None, true)
        .unwrap();
    assert_eq!(recs.session_next(&src, &other.session_id, 1).unwrap().items.len(), 1);
}

#[test]
fn for_you_ranks_by_the_selected_blend_when_it_has_item_tables() {
    use needle_recs::select::{Family, Selection, ServedBlend};
    use needle_recs::{Confidence, Csr, ItemSimilarity};
    let dir = tempfile::tempdir().unwrap();
    let src = source();
    let mut c = config();
    c.select.enabled = false;
    let recs = Recs::open(dir.path(), c.clone()).unwrap();
    recs.train_now(&src, &mut |_| {}).unwrap();
    let req = RecRequest {
        surface: Surface::ForYou,
        types: None,
        limit: 5,
        market: None,
        explicit: true,
        now_ms: Some(1_700_000_000_000),
        discovery: None,
    };
    // u4 plays group 1; ALS alone never puts a group-2 artist first.
    let als_only = recs.recommend(&src, "u4", &req).unwrap();
    let target = "g2-i5";
    assert_ne!(als_only.items[0].id, target, "{als_only:?}");
    // A table in which every item points at `target`, ALS weighted 0: the blend must rank
    // `target` first, as the table scores it.
    let mut m = ServingModel::load_current(dir.path()).unwrap().unwrap();
    let t = m.items.get(target).unwrap();
    let n = m.n_trained;
    let rows: Vec<Vec<(u32, f32)>> = (0..n as u32)
        .map(|i| if i == t { vec![] } else { vec![(t, 1.0)] })
        .collect();
    let f = m.factors();
    m.mix = Some(ServedBlend {
        als_weight: 0.0,
        tables: vec![(
            Family::ItemKnn,
            1.0,
            ItemSimilarity::from_table("item_knn", Csr::from_rows(n, rows), Confidence::Binary),
        )],
        n_active: n,
        als_mean: vec![0.0; f],
        als_cov: vec![0.0; f * f],
        selection: Selection::default(),
    });
    recs.install(m);
    let blended = recs.recommend(&src, "u4", &req).unwrap();
    assert_eq!(blended.items[0].id, target, "{blended:?}");
    assert_eq!(
        blended.items.len(),
        5,
        "the rest is filled from the candidates: {blended:?}"
    );
}

#[test]
fn training_selects_by_validation_and_the_model_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = source();
    let recs = Recs::open(dir.path(), config()).unwrap();
    let stats = recs.train_now(&src, &mut |_| {}).unwrap();
    let sel = stats.selection.expect("selection ran (60 listeners of 8 plays)");
    assert!(sel.valid_listeners >= 10 && sel.valid_interactions >= sel.valid_listeners);
    assert!(sel.candidates.len() >= 4, "{sel:?}");
    assert!(
        sel.candidates.iter().any(|c| c.label.contains("tags=")),
        "tags were tried: {sel:?}"
    );
    assert!(!sel.chosen.is_empty());
    let live = recs.model().unwrap();
    assert_eq!(live.stats.selection.as_ref(), Some(&sel));
    assert_eq!(live.mix.as_ref().map(|m| &m.selection), Some(&sel));
}

#[test]
fn incremental_training_refits_the_chosen_blend_from_the_served_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let mut evs = events();
    let recs = Recs::open(dir.path(), config()).unwrap();
    // Without a served model, an incremental job is a full one.
    let first = recs.train_now_with(&source_of(&evs), true, &mut |_| {}).unwrap();
    let sel = first.selection.expect("selection ran");
    assert_eq!(sel.refitted_from, None);
    assert!(
        sel.als.is_some() && sel.chosen.iter().all(|w| w.config.is_some()),
        "{sel:?}"
    );
    // New plays: a new listener of group 2, and more plays for u1.
    for k in 0..6usize {
        for user in ["newcomer", "u1"] {
            evs.push(Event {
                event_id: None,
                user_id: user.into(),
                kind: EventType::Play,
                item_id: format!("g2-i{}", k * 3),
                ts: 1_700_000_100_000,
                ms_played: None,
                count: 2,
                context: None,
            });
        }
    }
    let src = source_of(&evs);
    let again = recs.train_now_with(&src, true, &mut |_| {}).unwrap();
    let warm = again.selection.expect("reported");
    assert_eq!(warm.refitted_from, Some(1), "{warm:?}");
    assert_eq!(
        (&warm.chosen, &warm.candidates),
        (&sel.chosen, &sel.candidates),
        "no new selection"
    );
    let live = recs.model().unwrap();
    assert_eq!(live.version, 2);
    assert_eq!(live.stats.listeners, 61, "the newcomer is in the refitted model");
    // A refit of a refit still names the selection it came from.
    let third = recs.train_now_with(&src, true, &mut |_| {}).unwrap();
    assert_eq!(third.selection.unwrap().refitted_from, Some(1));
    // A full training selects again.
    let full = recs.train_now(&src, &mut |_| {}).unwrap();
    assert_eq!(full.selection.unwrap().refitted_from, None);
}
