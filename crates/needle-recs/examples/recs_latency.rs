//! Serving latency of the recommendation surfaces on a large synthetic catalog.
//!
//! ```text
//! cargo run --release -p needle-recs --example recs_latency -- [ITEMS] [LISTENERS] [QUERIES] [SHOWS]
//! ```
//! Defaults: 1,000,000 tracks (100,000 artists), 20,000 listeners with 40 plays each in 50
//! taste clusters, 2,000 requests per surface, no shows. `SHOWS` adds that many unplayed
//! shows with tag-only vectors: with many shows and few tracks (a real catalog's shape) it
//! also compares, side by side, the two ways of searching the tracks' vectors (the graph
//! with a type filter, and `ServingModel::search`'s scan of the tracks' rows). Training uses the server's defaults except
//! `factors = 64`. After training it times reading the saved model back (a restart). The catalog lives in a [`MemorySource`] (no disk), so the figures are
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
    let shows = args.get(3).copied().unwrap_or(0);
    let t = Instant::now();
    let mut src = synthetic::catalog(items, users);
    synthetic::add_shows(&mut src, shows);
    let artists = (items / 10).max(1);
    eprintln!(
        "synthetic data: {items} tracks, {artists} artists, {shows} shows, {users} listeners in {:.1}s",
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

    // A restart: the saved model (vectors, item tables, the index graph) read back.
    let t = Instant::now();
    match needle_recs::serve::ServingModel::load_current(dir.path()) {
        Ok(Some(loaded)) => {
            let bytes: u64 = fs_err::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|md| md.len())
                .sum();
            eprintln!(
                "model {} loaded in {:.2}s ({:.0} MB in the model directory; index {})",
                loaded.version,
                t.elapsed().as_secs_f64(),
                bytes as f64 / 1e6,
                loaded.index.kind()
            );
        }
        Ok(None) => eprintln!("no saved model to load"),
        Err(e) => eprintln!("loading the saved model failed: {e}"),
    }

    if shows > 0 {
        compare_track_search(&recs, &src, users, queries);
    }
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
                        discovery: None,
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

/// The candidate search of `for_you`/`discover` for tracks, two ways on the same model and
/// the same listener vectors: the vector index with a type filter, and
/// `ServingModel::search` (which scans the tracks' rows when they are a small share).
fn compare_track_search(recs: &Recs, src: &needle_recs::serve::mem::MemorySource, users: usize, queries: usize) {
    use needle_recs::serve::Source;
    let m = recs.model().expect("model");
    let tracks = [EntityType::Track];
    let is_track = |i: u32| m.meta[i as usize].kind == Some(EntityType::Track);
    let (mut graph, mut scan) = (Vec::new(), Vec::new());
    let (mut same, mut total) = (0usize, 0usize);
    for q in 0..queries {
        let user = format!("u{}", (q * 7919) % users);
        let Some(p) = src.profile(&user) else { continue };
        let (items, weights) = m.history_of(&p.items);
        let v = m.fold_in(&items, &weights);
        let t = Instant::now();
        let a = m.index.search(&v, 70, &is_track);
        graph.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let b = m.search(&v, 70, &tracks, &is_track);
        scan.push(t.elapsed().as_secs_f64() * 1e3);
        same += a.iter().filter(|x| b.iter().any(|y| y.id == x.id)).count();
        total += b.len();
    }
    let share = m
        .meta
        .iter()
        .take(m.n_vec)
        .filter(|x| x.kind == Some(EntityType::Track))
        .count() as f64
        / m.n_vec.max(1) as f64;
    println!(
        "track candidates (k = 70; tracks are {:.1}% of {} vectors), {} queries: \
         graph with a type filter p50 {:.2} / p99 {:.2} ms; ServingModel::search p50 {:.2} / p99 {:.2} ms; \
         graph's recall of the exact top 70: {:.3}",
        share * 100.0,
        m.n_vec,
        graph.len(),
        pct(&mut graph, 0.5),
        pct(&mut graph, 0.99),
        pct(&mut scan, 0.5),
        pct(&mut scan, 0.99),
        same as f64 / total.max(1) as f64
    );
}
