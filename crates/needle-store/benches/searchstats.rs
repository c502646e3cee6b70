//! Analytics query time after 10 million logged searches (issue #14): the searches of 30
//! days over a Zipf-like mix of 200,000 distinct queries (so the 50,000-query cap evicts),
//! a fifth of them finding nothing, a third clicked. `NEEDLE_BENCH_SEARCHES` changes the
//! count.
//!
//! `cargo bench -p needle-store --bench searchstats`

use criterion::{criterion_group, criterion_main, Criterion};
use needle_core::search_event::{Click, LoggedSearch};
use needle_store::{SearchStats, SearchStatsConfig};
use std::time::Instant;

const T0: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;

fn load(n: u64) -> (tempfile::TempDir, SearchStats) {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = SearchStats::open(dir.path(), SearchStatsConfig::default()).expect("open");
    let started = Instant::now();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut searches, mut clicks) = (Vec::with_capacity(512), Vec::new());
    let mut seq = 0;
    for i in 0..n {
        let r = next();
        // Zipf-like: query rank ~ 200000^u.
        let u = (r % 1_000_000) as f64 / 1e6;
        let q = (200_000f64.powf(u)) as u64;
        let ts = T0 + (i as i64) * (30 * DAY) / n as i64;
        let sid = format!("{i:032x}");
        let zero = r % 5 == 0;
        searches.push(LoggedSearch {
            search_id: sid.clone(),
            query: format!("Query {q}"),
            normalized: format!("query {q}"),
            user_id: (r % 3 != 0).then(|| format!("u{}", (r >> 20) % 100_000)),
            market: None,
            result_ids: if zero {
                vec![]
            } else {
                (0..10).map(|k| format!("tr:{}", (q + k) % 50_000)).collect()
            },
            took_ms: Some(2.0),
            zero_result: zero,
            ts,
            event_id: None,
        });
        if !zero && r % 3 == 1 {
            let position = 1 + ((r >> 8) % 10) as u32;
            clicks.push(Click {
                event_id: format!("c{i}"),
                search_id: sid,
                item_id: format!("tr:{}", (q + u64::from(position) - 1) % 50_000),
                position,
                user_id: Some(format!("u{}", (r >> 20) % 100_000)),
                ts: ts + 2000,
            });
        }
        if searches.len() == 512 {
            seq += 1;
            stats.apply(seq, &searches, &clicks);
            searches.clear();
            clicks.clear();
        }
    }
    seq += 1;
    stats.apply(seq, &searches, &clicks);
    eprintln!(
        "{n} searches applied in {:.1} s ({:.2} µs each); {} distinct queries kept",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e6 / n as f64,
        stats.queries()
    );
    let t = Instant::now();
    stats.checkpoint(seq, true).expect("checkpoint");
    let bytes = fs_err::metadata(dir.path().join(needle_store::searchstats::FILE_NAME)).map_or(0, |m| m.len());
    eprintln!(
        "checkpoint: {:.2} s, {:.1} MB written",
        t.elapsed().as_secs_f64(),
        bytes as f64 / 1e6
    );
    let t = Instant::now();
    let reopened = SearchStats::open(dir.path(), SearchStatsConfig::default()).expect("reopen");
    eprintln!(
        "reopen: {:.2} s, {} distinct queries read back",
        t.elapsed().as_secs_f64(),
        reopened.queries()
    );
    drop(reopened);
    (dir, stats)
}

fn bench(c: &mut Criterion) {
    let n = std::env::var("NEEDLE_BENCH_SEARCHES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let (_dir, stats) = load(n);
    let mut g = c.benchmark_group("analytics");
    g.sample_size(20);
    g.bench_function("searches_30_days_top_20", |b| {
        b.iter(|| stats.searches_report(T0, T0 + 30 * DAY, 20))
    });
    g.bench_function("searches_last_day_top_20", |b| {
        b.iter(|| stats.searches_report(T0 + 29 * DAY, T0 + 30 * DAY, 20))
    });
    g.bench_function("item_queries", |b| {
        b.iter(|| stats.item_report("tr:7", 20, T0 + 30 * DAY))
    });
    g.bench_function("click_strengths_of_a_query", |b| {
        b.iter(|| stats.click_strengths("query 1", T0 + 30 * DAY))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
