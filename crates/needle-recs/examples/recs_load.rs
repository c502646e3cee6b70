//! How long a served model takes to load, with and without its saved index graph.
//!
//! ```text
//! cargo run --release -p needle-recs --example recs_load -- [ITEMS] [LISTENERS] [--no-rebuild]
//! ```
//! Defaults: the catalog of `recs_latency` (1,000,000 tracks and 100,000 artists: 1.1M
//! vectors), 20,000 listeners, the server's training defaults (128 factors, HNSW m = 24,
//! ef_construction = 200). Trains once and saves the model (`model-000001.bin` and its graph
//! `.hnsw`), then loads it three ways: with the graph; after a restart-like reload of the
//! same file; and with the graph file removed, as a model saved before graphs were (the
//! graph is rebuilt; skipped with `--no-rebuild`). Every loaded model is checked to answer
//! 1,000 queries exactly as the trained one.

use std::path::Path;
use std::time::Instant;

use needle_recs::serve::model::graph_path;
use needle_recs::serve::{ServeConfig, ServingModel};
use needle_recs::Hit;

#[path = "common/synthetic.rs"]
mod synthetic;

fn answers(m: &ServingModel) -> Vec<Vec<Hit>> {
    let step = (m.n_vec / 1000).max(1);
    (0..m.n_vec as u32)
        .step_by(step)
        .filter_map(|i| m.vector(i).map(std::borrow::Cow::into_owned))
        .map(|q| m.index.search(&q, 50, &|_| true))
        .collect()
}

fn size_mb(p: &Path) -> f64 {
    fs_err::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6)
}

fn main() {
    let rebuild = !std::env::args().any(|a| a == "--no-rebuild");
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let items = args.first().copied().unwrap_or(1_000_000);
    let users = args.get(1).copied().unwrap_or(20_000);
    let src = synthetic::catalog(items, users);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServeConfig::default();

    let t = Instant::now();
    let mut m = ServingModel::train(&src, &config, 1, &mut |_| {}).expect("train");
    let trained_s = t.elapsed().as_secs_f64();
    let path = m.save(dir.path()).expect("save");
    let graph = graph_path(&path);
    println!(
        "trained {} vectors x {} factors ({} index) in {trained_s:.1}s, index build {:.1}s, save {:.1}s",
        m.n_vec,
        m.factors(),
        m.index.kind(),
        m.stats.index_ms as f64 / 1e3,
        m.stats.save_ms as f64 / 1e3
    );
    println!(
        "files: {} {:.0} MB, {} {:.0} MB",
        path.display(),
        size_mb(&path),
        graph.display(),
        size_mb(&graph)
    );
    let want = answers(&m);
    drop(m);

    for run in ["with graph", "with graph, again"] {
        let t = Instant::now();
        let loaded = ServingModel::load(&path).expect("load");
        let s = t.elapsed().as_secs_f64();
        let same = answers(&loaded) == want;
        println!("load {run}: {s:.2}s (same answers: {same})");
    }
    if rebuild {
        fs_err::remove_file(&graph).expect("remove graph");
        let t = Instant::now();
        let loaded = ServingModel::load(&path).expect("load");
        let s = t.elapsed().as_secs_f64();
        let found = answers(&loaded)
            .iter()
            .zip(&want)
            .map(|(a, b)| a.iter().filter(|h| b.iter().any(|x| x.id == h.id)).count())
            .sum::<usize>();
        let total: usize = want.iter().map(Vec::len).sum();
        println!(
            "load without graph (rebuilt, then saved again): {s:.2}s (top-50 overlap with the first build {:.3})",
            found as f64 / total.max(1) as f64
        );
    }
}
