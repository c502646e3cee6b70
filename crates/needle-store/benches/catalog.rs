//! The catalog store's read path with compressed records (issue #18, BENCHMARKS §9.3),
//! next to the same records kept as plain JSON, in the same run: `get_display` of random
//! ids (what every search hit costs) and a full scan (`for_each_entity`, what an index
//! rebuild and the recommender's start read), on 50,000 catalog-like records.
//!
//! A store given every record in one batch keeps them plain (it trains its dictionary
//! after the batch, and nothing is rewritten); one given them in batches of 1,000
//! compresses all but the first 4,096.
//!
//! `cargo bench -p needle-store --bench catalog`

use criterion::{criterion_group, criterion_main, Criterion};
use needle_core::validate::parse_record;
use needle_core::Record;
use needle_store::CatalogStore;
use serde_json::json;

const N: usize = 50_000;

fn records() -> Vec<Record> {
    let words = [
        "love", "night", "dance", "blue", "heart", "river", "gold", "fire", "rain", "city",
    ];
    let tags = ["rock", "pop", "indie", "80s", "electronic", "soul", "jazz", "hip-hop"];
    (0..N)
        .map(|i| {
            let w = |k: usize| words[(i / k + k) % words.len()];
            let v = json!({
                "id": format!("tr:{i:06}"),
                "type": "track",
                "name": format!("{} {} {}", w(1), w(7), w(31)),
                "artist_ids": [format!("ar:{}", i % 5_000)],
                "album_id": format!("al:{}", i % 12_000),
                "tags": [tags[i % tags.len()], tags[(i / 3) % tags.len()]],
                "popularity": (i % 1_000) as f64 / 10.0,
                "release_date": format!("{}-0{}-1{}", 1960 + i % 60, 1 + i % 9, i % 10),
                "duration_ms": 120_000 + (i % 180) * 1_000,
                "language": "en",
            });
            parse_record(&v).expect("a valid record")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let (plain_dir, zstd_dir) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let plain = CatalogStore::open(plain_dir.path()).expect("open");
    plain.apply(&recs, 0).expect("apply");
    let zstd = CatalogStore::open(zstd_dir.path()).expect("open");
    for chunk in recs.chunks(1_000) {
        zstd.apply(chunk, 0).expect("apply");
    }
    for (name, store) in [("plain", &plain), ("zstd", &zstd)] {
        let entities = store
            .table_sizes()
            .expect("sizes")
            .into_iter()
            .find(|t| t.name == "entities");
        println!("{name}: entities table {entities:?}");
    }
    let ids: Vec<String> = (0..1_000).map(|k| format!("tr:{:06}", (k * 7_919) % N)).collect();
    let mut g = c.benchmark_group("catalog_get_display_1000");
    for (name, store) in [("plain", &plain), ("zstd", &zstd)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let snap = store.snapshot().expect("snapshot");
                ids.iter()
                    .filter(|id| snap.get_display(id).expect("get").is_some())
                    .count()
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("catalog_scan_50k");
    g.sample_size(10);
    for (name, store) in [("plain", &plain), ("zstd", &zstd)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                store.for_each_entity(|_| n += 1).expect("scan");
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
