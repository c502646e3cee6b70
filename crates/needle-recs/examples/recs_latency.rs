//! Serving latency of the recommendation surfaces on a large synthetic catalog.
//!
//! ```text
//! cargo run --release -p needle-recs --example recs_latency -- [ITEMS] [LISTENERS] [QUERIES]
//! ```
//! Defaults: 1,000,000 tracks (100,000 artists), 20,000 listeners with 40 plays each in 50
//! taste clusters, 2,000 requests per surface. Training uses the server's defaults except
//! `factors = 64`. The catalog lives in a [`MemorySource`] (no disk), so the figures are
//! the recommender's own cost; the server adds its catalog reads (redb) and HTTP.

use std::time::Instant;

use needle_core::EntityType;
use needle_recs::serve::{RecRequest, Recs, SeedRequest, ServeConfig, Surface};

#[path = "common/synthetic.rs"]
mod synthetic;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let items = args.first().copied().unwrap_or(1_000_000);
    let users = args.get(1).copied().unwrap_or(20_000);
    let queries = args.get(2).copied().unwrap_or(2_000);
    let t = Instant::now();
    let src = synthetic::catalog(items, users);
    let artists = (items / 10).max(1);
    eprintln!(
        "synthetic data: {items} tracks, {artists} artists, {users} listeners in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServeConfig::default();
    config.als.factors = 64;
    let recs = Recs::open(dir.path(), config).expect("open");
    let t = Instant::now();
    let stats = recs.train_now(&src, &mut |_| {}).expect("train");
    let m = recs.model().expect("model");
    eprintln!(
        "trained in {:.1}s: {} trained items, {} content items, index {} ({:?})",
        t.elapsed().as_secs_f64(),
        m.n_trained,
        m.n_vec - m.n_trained,
        m.index.kind(),
        stats
    );

    let surfaces = [
        ("for_you", Some(Surface::ForYou)),
        ("discover", Some(Surface::Discover)),
        ("daily_mix", Some(Surface::DailyMix)),
        ("similar", None),
    ];
    println!("| surface (limit 50) | requests | p50 ms | p95 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, surface) in surfaces {
        let mut lat = Vec::with_capacity(queries);
        for q in 0..queries {
            let user = format!("u{}", (q * 7919) % users);
            let t = Instant::now();
            let n = match surface {
                Some(s) => {
                    let req = RecRequest {
                        surface: s,
                        types: Some(vec![EntityType::Track]),
                        limit: 50,
                        market: None,
                        explicit: q % 2 == 0,
                        now_ms: None,
                    };
                    recs.recommend(&src, &user, &req).expect("recommend").items.len()
                }
                None => {
                    let item = format!("t{}", (q * 104_729) % items);
                    let req = SeedRequest {
                        types: None,
                        limit: 50,
                        market: None,
                        explicit: true,
                    };
                    recs.similar(&src, &item, &req).expect("similar").items.len()
                }
            };
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(n > 0, "{name} returned nothing");
        }
        println!(
            "| {name} | {queries} | {:.2} | {:.2} | {:.2} |",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.95),
            pct(&mut lat, 0.99)
        );
    }
}
