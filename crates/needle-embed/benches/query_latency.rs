//! Per-query embedding latency as a distribution (p50/p90/p99/max), which criterion's
//! mean does not give: every natural-language query of `bench/semantic/queries.tsv`
//! (121, 2 to 9 words) embedded one at a time, as a search embeds it, for `ROUNDS` rounds
//! in shuffled order after one warm-up round.
//!
//! `cargo bench -p needle-embed --bench query_latency` (release). Uses the real model from
//! `NEEDLE_EMBED_MODEL_DIR` or `~/.cache/needle/models/all-minilm-l6-v2`; without it this
//! prints that nothing was measured. `NEEDLE_BENCH_ROUNDS` overrides the rounds (default 20).
#![allow(clippy::unwrap_used, clippy::disallowed_methods, clippy::print_stdout)] // a benchmark fails loudly and prints its figures

use needle_embed::{Embedder, MiniLm};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    // `cargo bench --no-run` builds this; `cargo test --benches` runs it with `--bench`
    // absent: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = match std::env::var_os("NEEDLE_EMBED_MODEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/needle/models/all-minilm-l6-v2"),
    };
    let model = match MiniLm::load(&dir) {
        Ok(m) => m,
        Err(e) => {
            println!("query_latency: not measured, the model is not installed: {e}");
            return;
        }
    };
    let tsv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/semantic/queries.tsv");
    let text = std::fs::read_to_string(tsv).unwrap();
    let queries: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(3).map(str::to_string))
        .collect();
    assert!(queries.len() > 100, "{tsv}: {} queries", queries.len());
    let rounds: usize = std::env::var("NEEDLE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for q in &queries {
        model.embed(&[q.as_str()]).unwrap();
    }
    let mut order: Vec<usize> = (0..queries.len()).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut micros = Vec::with_capacity(rounds * queries.len());
    for _ in 0..rounds {
        // Fisher-Yates with a fixed xorshift: the same order on every run.
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        for &i in &order {
            let t = Instant::now();
            let v = model.embed(&[queries[i].as_str()]).unwrap();
            micros.push(t.elapsed().as_micros() as u64);
            assert_eq!(v[0].len(), 384);
        }
    }
    micros.sort_unstable();
    let pct = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    println!(
        "query_latency/{}: {} embeddings ({} queries x {rounds} rounds): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        model.tag(),
        micros.len(),
        queries.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}
