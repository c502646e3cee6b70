//! Recommendations through the service: events naming an alias id count for the canonical
//! entity, and podcasts reach a music-only listener through the catalog's search.

use crate::fixture::open;
use needle_core::EntityType;
use needle_recs::serve::{RecRequest, Surface};
use needle_service::Service;
use serde_json::{json, Value};

const NOW: &str = "2026-11-20T12:00:00Z";

fn play(user: &str, item: &str, count: u32) -> Value {
    json!({"user_id": user, "type": "play", "item_id": item, "ts": NOW, "count": count})
}

fn request(surface: Surface, types: Option<Vec<EntityType>>) -> RecRequest {
    RecRequest {
        surface,
        types,
        limit: 10,
        market: None,
        explicit: true,
        now_ms: None,
        discovery: None,
    }
}

/// Eight artists (one of them, `ar:bey`, also known by the Last.fm id `lfm:bey`), a track
/// each, and twelve listeners of three or four artists each.
fn catalog_and_listeners(s: &Service) {
    let mut catalog = vec![json!({"id": "ar:bey", "type": "artist", "name": "Beyoncé", "alias_ids": ["lfm:bey"]})];
    for a in 1..8 {
        catalog.push(json!({"id": format!("ar:{a}"), "type": "artist", "name": format!("Band Number {a}")}));
    }
    for a in ["bey", "1", "2", "3", "4", "5", "6", "7"] {
        catalog.push(json!({"id": format!("tr:{a}"), "type": "track", "name": format!("Song {a}"), "artist_ids": [format!("ar:{a}")]}));
    }
    let r = s.write_values(catalog).unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    let mut events = Vec::new();
    for u in 0..12 {
        for k in 0..4 {
            let a = (u + k * 2) % 8;
            let id = if a == 0 {
                "ar:bey".to_string()
            } else {
                format!("ar:{a}")
            };
            events.push(play(&format!("u{u}"), &id, 1 + k as u32));
        }
    }
    assert_eq!(s.ingest_events(events).unwrap().accepted, 48);
    s.refresh().unwrap();
}

#[test]
fn events_naming_an_alias_id_count_for_the_canonical_entity() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    catalog_and_listeners(&s);
    let r = s
        .ingest_events(vec![
            play("fan", "lfm:bey", 30),
            play("fan", "ar:1", 2),
            play("fan", "not-yet-in-catalog", 1),
        ])
        .unwrap();
    assert_eq!(r.accepted, 3);
    let history: Vec<String> = s
        .history("fan", 10)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|e| e.item_id)
        .collect();
    assert!(history.contains(&"ar:bey".to_string()), "{history:?}");
    assert!(!history.contains(&"lfm:bey".to_string()), "{history:?}");
    assert!(
        history.contains(&"not-yet-in-catalog".to_string()),
        "unknown ids stay: {history:?}"
    );
    let p = s.profile("fan", 5).unwrap().unwrap();
    assert_eq!(p.artists[0].id, "ar:bey", "{:?}", p.artists);
    assert_eq!(p.artists[0].name, "Beyoncé");
    // Recommendations read the same profile: Beyoncé is played, so not recommended as
    // new; her track is recommended as hers.
    s.train_now(&mut |_| ()).unwrap();
    let artists = s
        .recommend("fan", &request(Surface::ForYou, Some(vec![EntityType::Artist])))
        .unwrap();
    assert!(artists.items.iter().all(|i| i.id != "ar:bey"), "{:?}", artists.items);
    let tracks = s
        .recommend("fan", &request(Surface::ForYou, Some(vec![EntityType::Track])))
        .unwrap();
    let bey = tracks.items.iter().find(|i| i.id == "tr:bey").expect("her track");
    assert_eq!(bey.reason, "by Beyoncé, whom you play");
    // The log holds the canonical id: reopening replays the same profile.
    drop(s);
    let s = open(dir.path());
    let p = s.profile("fan", 5).unwrap().unwrap();
    assert_eq!(p.artists[0].id, "ar:bey");
}

#[test]
fn podcasts_for_a_music_listener_name_the_artist_they_mention() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    catalog_and_listeners(&s);
    let mut shows = vec![
        json!({"id": "sh:bey", "type": "show", "name": "Renaissance Hour", "description": "A season on Beyoncé and her records.", "tags": ["Music"]}),
        json!({"id": "sh:talk", "type": "show", "name": "Talk Talk Radio", "tags": ["Music Commentary"]}),
        json!({"id": "sh:bey-news", "type": "show", "name": "Beyoncé in the News", "tags": ["News"]}),
        json!({"id": "sh:band", "type": "show", "name": "The Band Number 3 Story", "publisher": "Indie Radio"}),
        json!({"id": "sh:words", "type": "show", "name": "Number Three Band", "description": "A band, a number."}),
        json!({"id": "sh:pop", "type": "show", "name": "Morning News", "popularity": 90}),
    ];
    shows.push(json!({"id": "ep:bey", "type": "episode", "name": "Interview: Beyonce", "show_id": "sh:talk", "release_date": "2020-01-01"}));
    assert!(s.write_values(shows).unwrap().rejected.is_empty());
    s.refresh().unwrap();
    s.ingest_events(vec![play("fan", "ar:bey", 30), play("fan", "ar:3", 10)])
        .unwrap();
    s.train_now(&mut |_| ()).unwrap();
    let items = s.recommend("fan", &request(Surface::Podcasts, None)).unwrap().items;
    let reason_of = |id: &str| items.iter().find(|i| i.id == id).map(|i| i.reason.clone());
    assert_eq!(
        reason_of("sh:bey").as_deref(),
        Some("mentions Beyoncé, whom you play"),
        "{items:#?}"
    );
    assert_eq!(
        reason_of("ep:bey").as_deref(),
        Some("mentions Beyoncé, whom you play"),
        "folded"
    );
    assert_eq!(
        reason_of("sh:band").as_deref(),
        Some("mentions Band Number 3, whom you play")
    );
    for i in &items {
        if ["sh:words", "sh:pop", "sh:bey-news"].contains(&i.id.as_str()) {
            // Other words than the name; a one-word name outside a music show.
            assert_eq!(i.reason, "popular on this service", "{i:?}");
        }
    }
    // A listener without any link still gets podcasts, plainly popular.
    s.ingest_events(vec![play("other", "ar:6", 10)]).unwrap();
    let items = s.recommend("other", &request(Surface::Podcasts, None)).unwrap().items;
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|i| i.reason == "popular on this service"),
        "{items:#?}"
    );
}

/// Poll (bounded) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_dj_session_and_the_training_jobs_survive_a_restart() {
    use needle_recs::serve::JobStatus;
    let dir = tempfile::tempdir().unwrap();
    let (sid, first, job_id) = {
        let s = open(dir.path());
        catalog_and_listeners(&s);
        let job = s.start_training().unwrap();
        eventually("the training job is done", || {
            s.recs()
                .jobs()
                .get(&job.job_id)
                .is_some_and(|j| j.status == JobStatus::Done)
        });
        let info = s.recs().start_session("u0", None, None, true).unwrap();
        let first: Vec<String> = s
            .session_next(&info.session_id, 2)
            .unwrap()
            .items
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert!(!first.is_empty());
        s.shutdown().unwrap();
        (info.session_id, first, job.job_id)
    };
    let mut cfg = needle_service::ServiceConfig::new(needle_search::EngineConfig::new(dir.path()));
    cfg.load_model = true;
    let s = Service::open(cfg).unwrap();
    eventually("the model is loaded", || s.recs().model().is_some());
    let done = s
        .recs()
        .jobs()
        .get(&job_id)
        .expect("the finished job is still reported");
    assert_eq!(done.status, JobStatus::Done);
    assert!(done.model_version.is_some());
    let next = s
        .session_next(&sid, 4)
        .expect("the session continues after the restart");
    let again: Vec<String> = next.items.into_iter().map(|i| i.id).collect();
    assert!(!again.is_empty());
    assert!(
        again.iter().all(|id| !first.contains(id)),
        "nothing is served twice: {first:?} then {again:?}"
    );
    // A new job gets a new number: ids never repeat across restarts.
    let job = s.start_training().unwrap();
    assert_ne!(job.job_id, job_id);
    eventually("the second job is done", || {
        s.recs()
            .jobs()
            .get(&job.job_id)
            .is_some_and(|j| j.status == JobStatus::Done)
    });
}
