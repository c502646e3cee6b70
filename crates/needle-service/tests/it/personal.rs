//! Personalized search: the lift, its reasons and its guard rails.

use crate::fixture::engine;
use needle_search::SearchRequest;
use needle_service::Service;
use serde_json::json;

fn search(e: &Service, q: &str, user: Option<&str>) -> Vec<needle_search::Hit> {
    e.search(&SearchRequest {
        q: q.into(),
        user_id: user.map(str::to_string),
        limit: Some(10),
        ..Default::default()
    })
    .unwrap()
    .hits
}

fn ids(hits: &[needle_search::Hit]) -> Vec<String> {
    hits.iter().map(|h| h.id.clone()).collect()
}

const NOW: &str = "2026-11-20T12:00:00Z";

fn plays(e: &Service, user: &str, item: &str, n: u32) {
    let r = e
        .ingest_events(vec![
            json!({"user_id": user, "type": "play", "item_id": item, "ts": NOW, "count": n}),
        ])
        .unwrap();
    assert_eq!(r.accepted, 1, "{r:?}");
}

#[test]
fn ambiguous_queries_follow_the_listeners_taste() {
    let (_d, e) = engine();
    // Unpersonalized: the famous Adele "Hello" wins.
    assert_eq!(search(&e, "hello", None)[0].id, "tr:hello-adele");
    // A Lionel Richie fan (plays his other songs, never this one) sees his "Hello" first.
    plays(&e, "lionel-fan", "ar:lionel", 40);
    let hits = search(&e, "hello", Some("lionel-fan"));
    assert_eq!(hits[0].id, "tr:hello-lionel", "{:?}", ids(&hits));
    let why = hits[0].personalization.as_ref().expect("lifted hit says why");
    assert!(
        why.boost > 0.0 && why.reasons.iter().any(|r| r.contains("Lionel Richie")),
        "{why:?}"
    );
    // An Adele fan keeps Adele on top, with a reason.
    plays(&e, "adele-fan", "tr:hello-adele", 3);
    let hits = search(&e, "hello", Some("adele-fan"));
    assert_eq!(hits[0].id, "tr:hello-adele");
    assert!(hits[0].personalization.is_some());
}

#[test]
fn no_history_means_exactly_the_unpersonalized_ranking() {
    let (_d, e) = engine();
    for q in ["hello", "love", "beyonse", "a", "the daily"] {
        let plain = e
            .search(&SearchRequest {
                q: q.into(),
                ..Default::default()
            })
            .unwrap();
        let anon = e
            .search(&SearchRequest {
                q: q.into(),
                user_id: Some("stranger".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(ids(&plain.hits), ids(&anon.hits), "{q}");
        let scores = |h: &[needle_search::Hit]| h.iter().map(|h| h.score).collect::<Vec<_>>();
        assert_eq!(scores(&plain.hits), scores(&anon.hits), "{q}");
        assert!(anon.hits.iter().all(|h| h.personalization.is_none()));
    }
}

#[test]
fn personalization_never_beats_an_exact_match() {
    let (_d, e) = engine();
    // A heavy Beatles listener who saved "Hello, Goodbye" still gets the exact "Hello" songs
    // above it for the query "hello", and known items stay put.
    plays(&e, "beatles-fan", "ar:beatles", 500);
    e.ingest_events(vec![
        json!({"user_id":"beatles-fan","type":"save","item_id":"tr:hello-goodbye","ts":NOW}),
    ])
    .unwrap();
    let hits = ids(&search(&e, "hello", Some("beatles-fan")));
    let pos = |id: &str| hits.iter().position(|h| h == id).unwrap();
    assert!(pos("tr:hello-obscure") < pos("tr:hello-goodbye"), "{hits:?}");
    for (q, want) in [
        ("metalica", "ar:metallica"),
        ("motley crue", "ar:motley"),
        ("halo beyonce", "tr:halo"),
    ] {
        assert_eq!(search(&e, q, Some("beatles-fan"))[0].id, want, "{q}");
    }
}

#[test]
fn skips_push_down_and_items_arriving_later_count() {
    let (_d, e) = engine();
    // Events about an item not yet in the catalog are kept ...
    e.ingest_events(vec![
        json!({"user_id":"u","type":"play","item_id":"tr:hello-new","ts":NOW,"count":20}),
    ])
    .unwrap();
    // ... and count once it arrives.
    e.write_values(vec![
        json!({"id":"tr:hello-new","type":"track","name":"Hello","popularity":0}),
    ])
    .unwrap();
    e.refresh().unwrap();
    assert_eq!(search(&e, "hello", Some("u"))[0].id, "tr:hello-new");
    // Skipping Adele's song many times sinks it below Lionel's for that listener.
    e.ingest_events(vec![
        json!({"user_id":"s","type":"skip","item_id":"tr:hello-adele","ts":NOW,"count":10}),
    ])
    .unwrap();
    let hits = ids(&search(&e, "hello", Some("s")));
    let pos = |id: &str| hits.iter().position(|h| h == id).unwrap();
    assert!(pos("tr:hello-lionel") < pos("tr:hello-adele"), "{hits:?}");
}

#[test]
fn events_are_idempotent_and_profiles_explain_and_erase() {
    let (dir, e) = engine();
    let batch = vec![
        json!({"event_id":"e1","user_id":"u","type":"play","item_id":"tr:halo","ts":NOW,"ms_played":200000}),
        json!({"event_id":"e2","user_id":"u","type":"follow","item_id":"ar:beyonce","ts":1_763_640_000_000i64}),
        json!({"event_id":"e3","user_id":"u","type":"play","item_id":"tr:crazy","ts":NOW,"count":3}),
        json!({"user_id":"u","type":"play","item_id":"tr:enter","ts":"not a time"}),
    ];
    let r = e.ingest_events(batch.clone()).unwrap();
    assert_eq!((r.accepted, r.duplicates, r.rejected.len()), (3, 0, 1));
    assert_eq!(r.rejected[0].index, 3);
    assert!(r.rejected[0].message.contains("ts"));
    let r = e.ingest_events(batch[..3].to_vec()).unwrap();
    assert_eq!((r.accepted, r.duplicates), (0, 3));
    let p = e.profile("u", 5).unwrap().unwrap();
    assert_eq!(p.events.get("play"), Some(&4));
    assert_eq!(p.artists[0].id, "ar:beyonce");
    assert!(
        p.artists[0].why.contains("followed") || p.artists[0].why.contains("plays"),
        "{:?}",
        p.artists[0]
    );
    assert_eq!(p.followed, vec!["ar:beyonce"]);
    assert_eq!(e.history("u", 10).unwrap().unwrap().len(), 3);
    // Profiles are rebuilt from the log on restart, duplicates still recognised.
    drop(e);
    let e = crate::fixture::open(dir.path());
    assert_eq!(e.profile("u", 5).unwrap().unwrap().events.get("play"), Some(&4));
    assert_eq!(e.ingest_events(batch[..1].to_vec()).unwrap().duplicates, 1);
    // Right to be forgotten.
    assert_eq!(e.delete_user("u").unwrap(), 3);
    assert!(e.profile("u", 5).unwrap().is_none());
    assert_eq!(
        e.ingest_events(batch[..1].to_vec()).unwrap().accepted,
        1,
        "erased ids are forgotten at once"
    );
    assert_eq!(e.delete_user("u").unwrap(), 1);
    drop(e);
    let e = crate::fixture::open(dir.path());
    assert!(e.profile("u", 5).unwrap().is_none());
    assert_eq!(
        e.ingest_events(batch[..1].to_vec()).unwrap().accepted,
        1,
        "erased ids are not duplicates"
    );
}
