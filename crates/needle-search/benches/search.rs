//! Search latency on a synthetic catalog, per query category, next to plain tantivy
//! (QueryParser, BM25, fuzzy terms) on the same documents in the same run.
//!
//! `browse_100k`: browsing (no query words) by popularity with and without a filter,
//! and facet counts over a query's and a browse's every match.
//!
//! `cargo bench -p needle-search --bench search`
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark fails loudly on bad setup

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use needle_search::{Engine, EngineConfig, SearchRequest};
use serde_json::json;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Schema, STORED, TEXT};
use tantivy::{doc, Index, TantivyDocument};

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "re", "sa", "to", "ne", "vi", "ra", "do", "lu", "be", "yo", "ce", "an", "el", "is", "or", "un",
    "ha",
];

/// Deterministic pseudo-random names: 1-4 words of 2-4 syllables.
fn names(n: usize) -> Vec<String> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let words = 1 + next() % 4;
            (0..words)
                .map(|_| {
                    let syl = 2 + next() % 3;
                    (0..syl)
                        .map(|_| SYLLABLES[(next() % SYLLABLES.len() as u64) as usize])
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let n = 100_000;
    let names = names(n);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
    let docs: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"id": format!("t{i}"), "type": "track", "name": name, "popularity": (i % 1000) as f64}))
        .collect();
    for chunk in docs.chunks(20_000) {
        let records = chunk
            .iter()
            .map(|v| needle_core::validate::parse_record(v).unwrap())
            .collect();
        engine.apply(needle_search::Batch::new(records), 0).unwrap();
    }
    engine.refresh().unwrap();

    // Anchor: tantivy as most people use it (default tokenizer, BM25, QueryParser, fuzzy).
    let mut sb = Schema::builder();
    let name_f = sb.add_text_field("name", TEXT | STORED);
    let index = Index::create_in_ram(sb.build());
    let mut w = index.writer(100_000_000).unwrap();
    for name in &names {
        w.add_document(doc!(name_f => name.as_str())).unwrap();
    }
    w.commit().unwrap();
    let reader = index.reader().unwrap();
    let mut qp = QueryParser::for_index(&index, vec![name_f]);
    qp.set_field_fuzzy(name_f, true, 1, true);

    let target = &names[4242];
    let words: Vec<&str> = target.split(' ').collect();
    let typo = {
        let mut w0: Vec<char> = words[0].chars().collect();
        w0.swap(1, 2);
        let mut v = vec![w0.into_iter().collect::<String>()];
        v.extend(words[1..].iter().map(|s| s.to_string()));
        v.join(" ")
    };
    let categories = [
        ("exact", target.clone()),
        ("typo", typo),
        ("prefix1", target[..1].to_string()),
        ("prefix3", target[..3].to_string()),
        (
            "multiword",
            format!("{} {}", words[0], names[17].split(' ').next().unwrap()),
        ),
    ];
    let mut g = c.benchmark_group("search_100k");
    for (cat, q) in &categories {
        g.bench_with_input(BenchmarkId::new("needle", cat), q, |b, q| {
            b.iter(|| {
                engine
                    .search(
                        &SearchRequest {
                            q: q.clone(),
                            ..Default::default()
                        },
                        None,
                    )
                    .unwrap()
            })
        });
        g.bench_with_input(BenchmarkId::new("tantivy_queryparser_fuzzy", cat), q, |b, q| {
            let searcher = reader.searcher();
            b.iter(|| {
                let query = qp.parse_query(q).unwrap();
                let top = searcher
                    .search(&query, &TopDocs::with_limit(10).order_by_score())
                    .unwrap();
                for (_, addr) in &top {
                    let _d: TantivyDocument = searcher.doc(*addr).unwrap();
                }
                top.len()
            })
        });
    }
    g.finish();
}

/// 100k tracks with tags, languages and release dates, for browsing and facets.
fn bench_browse(c: &mut Criterion) {
    let n = 100_000;
    let names = names(n);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
    let languages = ["en", "de", "fr", "es", "ja"];
    let docs: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({
                "id": format!("t{i}"), "type": if i % 10 == 0 { "album" } else { "track" }, "name": name,
                "popularity": (i * 7919 % 1000) as f64,
                "tags": [format!("genre{}", i % 50), format!("mood{}", i % 7)],
                "language": languages[i % languages.len()],
                "release_date": format!("{}-{:02}-01", 1960 + i % 64, 1 + i % 12),
            })
        })
        .collect();
    for chunk in docs.chunks(20_000) {
        let records = chunk
            .iter()
            .map(|v| needle_core::validate::parse_record(v).unwrap())
            .collect();
        engine.apply(needle_search::Batch::new(records), 0).unwrap();
    }
    engine.refresh().unwrap();
    let all_facets = needle_search::FacetField::ALL.to_vec();
    let word = names[4242].split(' ').next().unwrap().to_string();
    let cases = [
        ("popularity_all", SearchRequest::default()),
        (
            "popularity_filter",
            SearchRequest {
                filter: Some("tag:genre7 AND year:>=1990".into()),
                ..Default::default()
            },
        ),
        (
            "release_date_filter",
            SearchRequest {
                filter: Some("tag:genre7".into()),
                sort: Some("release_date".parse().unwrap()),
                ..Default::default()
            },
        ),
        (
            "facets_query",
            SearchRequest {
                q: word[..3.min(word.len())].to_string(),
                facets: all_facets.clone(),
                ..Default::default()
            },
        ),
        (
            "facets_browse_all",
            SearchRequest {
                facets: all_facets,
                ..Default::default()
            },
        ),
    ];
    let mut g = c.benchmark_group("browse_100k");
    for (case, req) in &cases {
        g.bench_with_input(BenchmarkId::new("needle", case), req, |b, req| {
            b.iter(|| engine.search(req, None).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_browse);
criterion_main!(benches);
