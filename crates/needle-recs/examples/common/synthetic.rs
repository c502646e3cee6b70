//! The synthetic catalog the recommendation examples share: `items` tracks by `items / 10`
//! artists in 50 taste clusters (each artist tagged with its cluster), and `users` listeners
//! with 40 plays each of tracks of their cluster's artists, skewed to the head.

use needle_core::{Entity, EntityType, Event, EventType};
use needle_recs::serve::mem::MemorySource;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The catalog and listening above, generated from a fixed seed.
pub fn catalog(items: usize, users: usize) -> MemorySource {
    let artists = (items / 10).max(1);
    let clusters = 50;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut src = MemorySource::default();
    for a in 0..artists {
        src.add(Entity {
            id: format!("a{a}"),
            kind: Some(EntityType::Artist),
            name: format!("artist {a}"),
            tags: vec![format!("c{}", a % clusters)],
            ..Default::default()
        });
    }
    for i in 0..items {
        let a = i % artists;
        src.add(Entity {
            id: format!("t{i}"),
            kind: Some(EntityType::Track),
            name: format!("track {i}"),
            artist_ids: vec![format!("a{a}")],
            tags: vec![format!("c{}", a % clusters)],
            popularity: Some(rng.random::<f64>() * 100.0),
            explicit: Some(i % 17 == 0),
            ..Default::default()
        });
    }
    // Listeners play tracks of their cluster's artists, skewed to the head.
    for u in 0..users {
        let c = u % clusters;
        for _ in 0..40 {
            let r: f64 = rng.random();
            let per_cluster = artists / clusters;
            let a = c + clusters * ((r * r * r * per_cluster as f64) as usize).min(per_cluster.saturating_sub(1));
            let track = a + artists * rng.random_range(0..(items / artists).max(1));
            src.apply(&Event {
                event_id: None,
                user_id: format!("u{u}"),
                kind: EventType::Play,
                item_id: format!("t{track}"),
                ts: 1_780_000_000_000,
                ms_played: None,
                count: 1 + rng.random_range(0..5),
                context: None,
            });
        }
    }
    src
}

/// Add `n` shows nobody plays, each tagged with a taste cluster: their vectors come from
/// tags alone, and they outnumber the tracks as podcasts do on a real catalog.
#[allow(dead_code)] // not every example adds shows
pub fn add_shows(src: &mut MemorySource, n: usize) {
    for s in 0..n {
        src.add(Entity {
            id: format!("s{s}"),
            kind: Some(EntityType::Show),
            name: format!("show {s}"),
            tags: vec![format!("c{}", s % 50)],
            ..Default::default()
        });
    }
}
