//! Recall and latency of the semantic index against an exact scan, on a real vector file.
//!
//! `cargo run --release -p needle-service --example semantic_recall -- <data-dir> [k]`
//!
//! Reads `<data-dir>/vectors.redb` and its saved graph `vectors.hnsw` (as `needle serve`
//! does), embeds every query of `bench/semantic/queries.tsv` with the installed model
//! (`NEEDLE_EMBED_MODEL_DIR`, else `~/.cache/needle/models/all-minilm-l6-v2`), and for
//! each query compares the index's top k (default 50) with the exact top k over every
//! stored vector: recall@10 and recall@k, and the index's search time p50/p99 (ms).
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)] // a measurement fails loudly and prints its figures

use needle_embed::{Embedder, MiniLm};
use needle_service::semantic::index::VectorSet;
use needle_store::VectorStore;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).expect("usage: semantic_recall <data-dir> [k]"));
    let k: usize = args.get(2).map_or(50, |v| v.parse().unwrap());
    let model_dir = match std::env::var_os("NEEDLE_EMBED_MODEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/needle/models/all-minilm-l6-v2"),
    };
    let model = MiniLm::load(&model_dir).unwrap();
    let store = VectorStore::open(&dir, model.tag(), 384).unwrap();
    let t = Instant::now();
    let set = VectorSet::load(&store, &dir.join("vectors.hnsw")).unwrap();
    println!(
        "index: {} vectors ready in {:.1} s",
        set.len(),
        t.elapsed().as_secs_f64()
    );
    let mut all: Vec<(String, Vec<f32>)> = Vec::new();
    store.for_each(|id, v| all.push((id.to_string(), v.vector))).unwrap();
    let tsv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/semantic/queries.tsv");
    let queries: Vec<String> = std::fs::read_to_string(tsv)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(3).map(str::to_string))
        .collect();
    let (mut r10, mut rk) = (0.0, 0.0);
    let mut micros = Vec::new();
    for q in &queries {
        let qv = model.embed(&[q.as_str()]).unwrap().remove(0);
        let t = Instant::now();
        let got = set.search(&qv, k, &[]);
        micros.push(t.elapsed().as_micros() as u64);
        let mut exact: Vec<(f32, &str)> = all
            .iter()
            .map(|(id, v)| (v.iter().zip(&qv).map(|(a, b)| a * b).sum::<f32>(), id.as_str()))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let truth = |n: usize| exact[..n.min(exact.len())].iter().map(|e| e.1).collect::<Vec<_>>();
        let hit = |n: usize| {
            let t = truth(n);
            got.iter().take(n).filter(|g| t.contains(&g.id.as_str())).count() as f64 / n.min(t.len()).max(1) as f64
        };
        r10 += hit(10);
        rk += hit(k);
    }
    micros.sort_unstable();
    let pct = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    let n = queries.len() as f64;
    println!(
        "{} queries over {} vectors: recall@10 {:.3}, recall@{k} {:.3}; index search p50 {:.2} ms, p99 {:.2} ms",
        queries.len(),
        all.len(),
        r10 / n,
        rk / n,
        pct(0.5),
        pct(0.99)
    );
}
