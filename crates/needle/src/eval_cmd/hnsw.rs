//! `needle eval --hnsw`: HNSW recall against exact search.

use anyhow::{Context, Result};
use std::time::Instant;

use needle_recs::index::{IndexBuilder, IndexConfig, VectorIndex};
use needle_recs::models::als::Solver;
use needle_recs::{Als, AlsConfig, ModelConfig};

/// Recall@k of HNSW against exact search, with ALS item vectors and the trained user
/// vectors as queries.
pub(super) fn hnsw_report(split: &needle_recs::split::Split, chosen: &[(String, ModelConfig)], k: usize) -> Result<()> {
    let cfg = chosen
        .iter()
        .find_map(|(_, c)| match c {
            ModelConfig::Als(a) => Some(a.clone()),
            _ => None,
        })
        .unwrap_or_else(|| AlsConfig {
            factors: 128,
            regularization: 1.0,
            alpha: 10.0,
            solver: Solver::Cg,
            ..Default::default()
        });
    let als = Als::train(&split.train, &cfg);
    let f = als.factors();
    let exact = {
        let mut b = IndexBuilder::new(f, IndexConfig::default());
        b.add_all(als.item_factors()).context("ALS item vectors")?;
        b.build_exact()
    };
    println!(
        "## HNSW vs exact on ALS item vectors ({} items, {f} factors), queries = the {} user vectors\n",
        exact.len(),
        als.n_users()
    );
    println!("| M | ef_construction | ef_search | build s | recall@{k} | recall@{k}, filter 10% | µs/query (hnsw) | µs/query (exact) |\n|---|---|---|---|---|---|---|---|");
    for (m, efc) in [(16, 100), (24, 200), (32, 400)] {
        let t = Instant::now();
        let mut b = IndexBuilder::new(
            f,
            IndexConfig {
                exact_threshold: 0,
                m,
                ef_construction: efc,
                ef_search: 64,
            },
        );
        b.add_all(als.item_factors()).context("ALS item vectors")?;
        let h = b.build_hnsw();
        let build = t.elapsed().as_secs_f64();
        for ef in [32, 64, 128, 256] {
            let (mut found, mut total, mut found_f, mut total_f) = (0, 0, 0, 0);
            let (mut th, mut te) = (0f64, 0f64);
            for u in 0..als.n_users() {
                let Some(q) = als.user_vector(u) else { continue };
                let t0 = Instant::now();
                let a = h.search_ef(q, k, ef, &|_| true);
                th += t0.elapsed().as_secs_f64();
                let t1 = Instant::now();
                let e = exact.search(q, k, &|_| true);
                te += t1.elapsed().as_secs_f64();
                found += a.iter().filter(|x| e.iter().any(|y| y.id == x.id)).count();
                total += e.len();
                let filt = |id: u32| id % 10 == 3;
                let a = h.search_ef(q, k, ef, &filt);
                let e = exact.search(q, k, &filt);
                found_f += a.iter().filter(|x| e.iter().any(|y| y.id == x.id)).count();
                total_f += e.len();
            }
            let n = als.n_users() as f64;
            println!(
                "| {m} | {efc} | {ef} | {build:.2} | {:.4} | {:.4} | {:.1} | {:.1} |",
                found as f64 / total as f64,
                found_f as f64 / total_f as f64,
                th / n * 1e6,
                te / n * 1e6
            );
        }
    }
    println!();
    Ok(())
}
