//! Recall and latency of the semantic index against an exact scan, on a real vector file.
//!
//! `cargo run --release -p needle-service --example semantic_recall -- <data-dir> [k]`
//!
//! Reads `<data-dir>/vectors.redb` and its saved graph `vectors.hnsw` (as `needle serve`
//! does), embeds every query of `bench/semantic/queries.tsv` with the installed model
//! (`NEEDLE_EMBED_MODEL_DIR`, else `~/.cache/needle/models/all-minilm-l6-v2`), and for
//! each query compares the index's top k (default 50) with the exact top k over every
//! stored vector: recall@10 and recall@k, and the index's search time p50/p99 (ms); then
//! the same per type filter (show, audiobook, episode), once as served (types under
//! `SCAN_SHARE` of the vectors scanned row by row) and once always through the graph.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)] // a measurement fails loudly and prints its figures

use needle_core::EntityType;
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
    let mut set = VectorSet::load(&store, &dir.join("vectors.hnsw")).unwrap();
    println!(
        "index: {} vectors ready in {:.1} s",
        set.len(),
        t.elapsed().as_secs_f64()
    );
    let mut all: Vec<(String, u8, Vec<f32>)> = Vec::new();
    store
        .for_each(|id, v| all.push((id.to_string(), v.kind, v.vector)))
        .unwrap();
    let tsv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/semantic/queries.tsv");
    let queries: Vec<String> = std::fs::read_to_string(tsv)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(3).map(str::to_string))
        .collect();
    let vectors: Vec<Vec<f32>> = queries
        .iter()
        .map(|q| model.embed(&[q.as_str()]).unwrap().remove(0))
        .collect();
    measure(&set, &all, &vectors, k, None, "any type");
    for t in [EntityType::Show, EntityType::Audiobook, EntityType::Episode] {
        let n = all.iter().filter(|v| v.1 == t.code() as u8).count();
        let label = format!(
            "{} ({n} vectors, {:.2}%)",
            t.as_str(),
            100.0 * n as f64 / all.len() as f64
        );
        set.set_scan_share(needle_service::semantic::index::SCAN_SHARE);
        measure(&set, &all, &vectors, k, Some(t), &format!("{label}, as served"));
        set.set_scan_share(0.0);
        measure(&set, &all, &vectors, k, Some(t), &format!("{label}, graph walk"));
    }
}

/// Recall against the exact top k among `all` (of type `t`), and the search's latency.
fn measure(
    set: &VectorSet,
    all: &[(String, u8, Vec<f32>)],
    queries: &[Vec<f32>],
    k: usize,
    t: Option<EntityType>,
    label: &str,
) {
    let (mut r10, mut rk) = (0.0, 0.0);
    let mut micros = Vec::new();
    let types: Vec<EntityType> = t.into_iter().collect();
    for qv in queries {
        let t0 = Instant::now();
        let got = set.search(qv, k, &types);
        micros.push(t0.elapsed().as_micros() as u64);
        let mut exact: Vec<(f32, &str)> = all
            .iter()
            .filter(|(_, kind, _)| t.is_none_or(|t| *kind == t.code() as u8))
            .map(|(id, _, v)| (v.iter().zip(qv).map(|(a, b)| a * b).sum::<f32>(), id.as_str()))
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
        "{label}: {} queries, recall@10 {:.3}, recall@{k} {:.3}; search p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        queries.len(),
        r10 / n,
        rk / n,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
