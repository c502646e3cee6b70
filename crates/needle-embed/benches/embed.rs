//! Embedding latency: one short query, and a batch of 32 documents of about 60 words.
//!
//! `cargo bench -p needle-embed --bench embed` (release). Uses the real model from
//! `NEEDLE_EMBED_MODEL_DIR` or `~/.cache/needle/models/all-minilm-l6-v2`; without it only
//! the hash embedder is measured.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark fails loudly on bad setup

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use needle_embed::{Embedder, HashEmbedder, MiniLm};
use std::path::PathBuf;

const QUERY: &str = "podcast about electric cars and climate";
const DOC: &str = "In this episode we talk with a battery researcher about why electric cars \
    got cheaper so fast, what the grid needs when everyone charges at night, how recycling \
    lithium and cobalt works today, and whether hydrogen trucks still have a future. We also \
    answer listener questions about range anxiety, winter driving and second-hand batteries, \
    and close with three books for the holidays.";

fn model() -> Option<MiniLm> {
    let dir = match std::env::var_os("NEEDLE_EMBED_MODEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/needle/models/all-minilm-l6-v2"),
    };
    match MiniLm::load(&dir) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("MiniLm not measured: {e}");
            None
        }
    }
}

fn bench(c: &mut Criterion) {
    let docs: Vec<String> = (0..32).map(|i| format!("Episode {i}. {DOC}")).collect();
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let mut embedders: Vec<Box<dyn Embedder>> = vec![Box::new(HashEmbedder::new(384))];
    if let Some(m) = model() {
        embedders.push(Box::new(m));
    }
    let mut g = c.benchmark_group("embed");
    for e in &embedders {
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("query", e.tag()), |b| {
            b.iter(|| e.embed(&[QUERY]).unwrap())
        });
        g.throughput(Throughput::Elements(docs.len() as u64));
        g.bench_function(BenchmarkId::new("docs32", e.tag()), |b| {
            b.iter(|| e.embed(&docs).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
