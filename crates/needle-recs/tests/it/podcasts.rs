//! Podcasts for listeners who only play music: shows and episodes naming an artist they
//! play, as a whole phrase, with that as the reason; the popular fallback only without
//! such a link.

use needle_core::{Entity, EntityType};
use needle_recs::serve::mem::MemorySource;
use needle_recs::serve::{RecRequest, Recs, Surface};

use crate::reasons::{play, trained, TS};

fn artist(s: &mut MemorySource, id: &str, name: &str) {
    s.add(Entity {
        id: id.into(),
        kind: Some(EntityType::Artist),
        name: name.into(),
        ..Default::default()
    });
}

fn show(s: &mut MemorySource, id: &str, name: &str, description: Option<&str>, popularity: f64) {
    s.add(Entity {
        id: id.into(),
        kind: Some(EntityType::Show),
        name: name.into(),
        description: description.map(str::to_string),
        popularity: Some(popularity),
        ..Default::default()
    });
}

/// Artists "Depeche Mode", "Duran Duran", "Heart" and "Radiohead"; shows about them by
/// name or description, an episode interviewing Duran Duran, 30 shows with "heart" in
/// the title, and shows that only look related ("Mode Depeche", "Depeche").
fn source() -> MemorySource {
    let mut s = MemorySource::default();
    artist(&mut s, "ar:dm", "Depeche Mode");
    artist(&mut s, "ar:dd", "Duran Duran");
    artist(&mut s, "ar:heart", "Heart");
    artist(&mut s, "ar:rh", "Radiohead");
    for i in 0..6 {
        artist(&mut s, &format!("ar:other{i}"), &format!("Other Band {i}"));
    }
    show(&mut s, "sh:strange", "Strange Love: A Depeche Mode Podcast", None, 5.0);
    show(
        &mut s,
        "sh:synth",
        "Synth Talk",
        Some("Each week a classic album; this week Depeche Mode's Violator."),
        3.0,
    );
    show(&mut s, "sh:music", "Music Conversations", None, 2.0);
    s.add(Entity {
        id: "ep:dd".into(),
        kind: Some(EntityType::Episode),
        name: "Interview: Duran Duran on Rio".into(),
        show_id: Some("sh:music".into()),
        release_date: Some("2023-11-01".into()),
        ..Default::default()
    });
    show(
        &mut s,
        "sh:kid-a",
        "Kid A at 25",
        Some("How Radiohead remade themselves."),
        1.0,
    );
    s.entities.get_mut("sh:kid-a").unwrap().tags = vec!["Music History".into()];
    // One word, not a music show: no evidence it is about the band.
    show(
        &mut s,
        "sh:rh-diet",
        "The Radiohead Diet",
        Some("Food for thought."),
        1.0,
    );
    s.entities.get_mut("sh:rh-diet").unwrap().tags = vec!["Health".into()];
    show(&mut s, "sh:mode", "Mode Depeche", Some("Fashion and dispatches."), 50.0);
    show(
        &mut s,
        "sh:depeche",
        "Depeche",
        Some("News dispatches, mode of life."),
        50.0,
    );
    for i in 0..30 {
        show(
            &mut s,
            &format!("sh:heart{i}"),
            &format!("Heart of Topic {i}"),
            None,
            40.0,
        );
    }
    show(&mut s, "sh:gov", "Government Hour", None, 100.0);
    // Listeners of music only.
    for u in 0..30usize {
        let user = format!("u{u}");
        for (k, a) in ["ar:dm", "ar:dd", "ar:heart", "ar:rh"].iter().enumerate() {
            if (u + k) % 3 != 0 {
                play(&mut s, &user, a, 1 + (u % 5) as u32);
            }
        }
        play(&mut s, &user, &format!("ar:other{}", u % 6), 3);
    }
    play(&mut s, "fan", "ar:dm", 40);
    play(&mut s, "fan", "ar:dd", 20);
    play(&mut s, "fan", "ar:heart", 60);
    play(&mut s, "fan", "ar:rh", 5);
    play(&mut s, "heart-only", "ar:heart", 30);
    s
}

fn podcasts(recs: &Recs, src: &MemorySource, user: &str) -> Vec<needle_recs::serve::RecItem> {
    let req = RecRequest {
        surface: Surface::Podcasts,
        types: None,
        limit: 10,
        market: None,
        explicit: true,
        now_ms: Some(TS),
        discovery: None,
    };
    recs.recommend(src, user, &req).unwrap().items
}

#[test]
fn shows_and_episodes_naming_a_played_artist_say_so() {
    let src = source();
    let (_dir, recs) = trained(&src);
    let items = podcasts(&recs, &src, "fan");
    let reason_of = |id: &str| items.iter().find(|i| i.id == id).map(|i| i.reason.as_str());
    assert_eq!(
        reason_of("sh:strange"),
        Some("mentions Depeche Mode, whom you play"),
        "{items:#?}"
    );
    assert_eq!(reason_of("sh:synth"), Some("mentions Depeche Mode, whom you play"));
    assert_eq!(reason_of("ep:dd"), Some("mentions Duran Duran, whom you play"));
    assert_eq!(
        reason_of("sh:kid-a"),
        Some("mentions Radiohead, whom you play"),
        "a rare one-word name, on a music show"
    );
    assert_ne!(
        reason_of("sh:rh-diet"),
        Some("mentions Radiohead, whom you play"),
        "not about music"
    );
    // The name in the title first; the more played artist first.
    let pos = |id: &str| items.iter().position(|i| i.id == id).unwrap();
    assert!(pos("sh:strange") < pos("sh:synth") && pos("sh:strange") < pos("ep:dd"));
    for i in &items {
        if let Some(rest) = i.reason.strip_prefix("mentions ") {
            // True: the artist is played by the fan, and its whole name is in the texts.
            let name = rest.strip_suffix(", whom you play").unwrap();
            let a = src.entities.values().find(|e| e.name == name).unwrap();
            assert!(src.profiles["fan"].items.contains_key(&a.id), "{name}");
            let e = &src.entities[&i.id];
            let text = format!("{} {}", e.name, e.description.as_deref().unwrap_or(""));
            assert!(text.contains(name), "{i:?}");
        } else {
            assert_eq!(i.reason, "popular on this service", "{i:?}");
        }
        // "Heart" is one common word: no show with "heart" in it is linked to the band.
        assert!(!i.reason.contains("Heart"), "{i:?}");
        // Words of a name in another order, or part of it, are no mention.
        assert!(
            !(i.id == "sh:mode" || i.id == "sh:depeche") || i.reason.starts_with("popular"),
            "{i:?}"
        );
    }
    let linked = items.iter().filter(|i| i.reason.starts_with("mentions ")).count();
    assert_eq!(linked, 4, "{items:#?}");
    assert_eq!(
        &items[linked].reason, "popular on this service",
        "the fallback comes after"
    );
}

#[test]
fn without_a_link_the_popular_fallback_says_so() {
    let src = source();
    let (_dir, recs) = trained(&src);
    let items = podcasts(&recs, &src, "heart-only");
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|i| i.reason == "popular on this service"),
        "{items:#?}"
    );
    assert!(items.iter().any(|i| i.id == "sh:gov"), "the most popular show");
}
