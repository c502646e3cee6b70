//! Suggestion latency, memory and hit rates on a catalog in the import format (JSON Lines,
//! not compressed): `cargo run --example suggest_timing -p needle-search -- catalog.jsonl`.
//!
//! Builds the [`Suggester`] from every valid record, then, for a sample of known items
//! (every 1,100th record with a name: a spread over the whole catalog, not only the
//! popular), and every 57th artist or track (the music of Billboard and Last.fm), asks for the first 2, 3 and 5 letters of the name and for the name with one
//! letter dropped in its first word, reporting whether the item is among the first five
//! suggestions and the latency of each call (p50, p99).
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use needle_search::suggest::{NoQueries, SuggestRequest, Suggester, SuggesterBuilder};
use std::io::BufRead;
use std::time::Instant;

fn rss_mb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: suggest_timing catalog.jsonl");
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let before = rss_mb();
    let started = Instant::now();
    let mut b = SuggesterBuilder::default();
    let mut sample: Vec<(&str, String, String)> = Vec::new();
    let mut n = 0usize;
    for line in file.lines() {
        let line = line.unwrap();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let Ok(needle_core::Record::Upsert(e)) = needle_core::validate::parse_record(&v) else {
            continue;
        };
        n += 1;
        let long = e.name.chars().filter(|c| c.is_alphanumeric()).count() >= 5;
        let music = matches!(
            e.entity_type(),
            needle_core::EntityType::Artist | needle_core::EntityType::Track
        );
        if long && n.is_multiple_of(1100) {
            sample.push(("any", e.id.clone(), e.name.clone()));
        }
        if long && music && n.is_multiple_of(57) {
            sample.push(("music", e.id.clone(), e.name.clone()));
        }
        b.add(&e);
    }
    let s: Suggester = b.finish();
    println!(
        "built {} entities in {:.1} s; heap (estimated) {} MiB; RSS +{} MiB",
        s.len(),
        started.elapsed().as_secs_f64(),
        s.heap_bytes() >> 20,
        rss_mb().saturating_sub(before)
    );
    let mut cases: Vec<(String, String, &str)> = Vec::new();
    for (group, id, name) in &sample {
        let chars: Vec<char> = name.trim_start().chars().collect();
        for (label, k) in [("2 letters", 2), ("3 letters", 3), ("5 letters", 5)] {
            cases.push((format!("{group}, {label}"), chars.iter().take(k).collect(), id));
        }
        let first: Vec<char> = name.split_whitespace().next().unwrap_or("").chars().collect();
        if first.len() >= 5 {
            let mut typo = first.clone();
            typo.remove(2);
            let rest: String = name.trim_start().chars().skip(first.len()).collect();
            cases.push((
                format!("{group}, 1 typo, whole name"),
                typo.into_iter().collect::<String>() + &rest,
                id,
            ));
        }
    }
    let mut times = Vec::with_capacity(cases.len());
    let mut hits: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let mut by_label: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for _round in 0..2 {
        times.clear();
        hits.clear();
        by_label.clear();
        for (label, q, id) in &cases {
            let req = SuggestRequest {
                q: q.clone(),
                market: None,
                limit: 5,
            };
            let t = Instant::now();
            let r = s.suggest(&req, None, &NoQueries);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            times.push(ms);
            by_label.entry(label.as_str()).or_default().push(ms);
            let e = hits.entry(label.as_str()).or_default();
            e.1 += 1;
            if r.suggestions.iter().any(|x| x.id.as_deref() == Some(*id)) {
                e.0 += 1;
            }
        }
    }
    println!(
        "{} calls: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        pct(times.clone(), 0.5),
        pct(times.clone(), 0.99),
        pct(times, 1.0)
    );
    for (label, (hit, all)) in hits {
        let t = by_label.get(label).cloned().unwrap_or_default();
        println!(
            "{label}: item in the first five for {hit} of {all} ({:.1}%); p50 {:.3} ms, p99 {:.3} ms",
            100.0 * hit as f64 / all as f64,
            pct(t.clone(), 0.5),
            pct(t, 0.99)
        );
    }
}
