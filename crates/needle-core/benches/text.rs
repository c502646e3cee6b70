//! Normalization and tokenization throughput.
//!
//! `cargo bench -p needle-core --bench text`
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark fails loudly on bad setup

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use needle_core::text::{fold, tokenize, tokenize_query};

const SAMPLES: &[&str] = &[
    "Mötley Crüe - Kickstart My Heart (feat. Someone)",
    "Beyoncé & Jay-Z — Crazy in Love",
    "東京事変 - 群青日和",
    "Кино — Группа крови",
    "The Joe Rogan Experience #1234: AC/DC, R.E.M. and Ke$ha",
    "लता मंगेशकर - लग जा गले",
];

fn bench(c: &mut Criterion) {
    let bytes: usize = SAMPLES.iter().map(|s| s.len()).sum();
    let mut g = c.benchmark_group("text");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("fold", |b| {
        b.iter(|| SAMPLES.iter().map(|s| fold(s).len()).sum::<usize>())
    });
    g.bench_function("tokenize_index", |b| {
        b.iter(|| SAMPLES.iter().map(|s| tokenize(s).len()).sum::<usize>())
    });
    g.bench_function("tokenize_query", |b| {
        b.iter(|| SAMPLES.iter().map(|s| tokenize_query(s).len()).sum::<usize>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
