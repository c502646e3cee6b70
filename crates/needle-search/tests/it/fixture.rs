//! A small hand-made catalog covering the cases the relevance suite asks about.

use needle_search::{Engine, EngineConfig, SearchRequest};
use serde_json::Value;

/// The fixture catalog (`tests/fixtures/catalog.jsonl`, shared with the service's tests).
pub fn catalog() -> Vec<Value> {
    include_str!("../fixtures/catalog.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
    let records = catalog()
        .iter()
        .map(|v| needle_core::validate::parse_record(v).unwrap())
        .collect();
    engine.apply(needle_search::Batch::new(records), 0).unwrap();
    engine.refresh().unwrap();
    (dir, engine)
}

pub fn top_ids(engine: &Engine, q: &str, n: usize) -> Vec<String> {
    let r = engine
        .search(
            &SearchRequest {
                q: q.into(),
                limit: Some(n),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    r.hits.into_iter().map(|h| h.id).collect()
}

pub fn first(engine: &Engine, q: &str) -> String {
    top_ids(engine, q, 10)
        .into_iter()
        .next()
        .unwrap_or_else(|| format!("<no hit for {q}>"))
}

/// Unpersonalized search and unlogged writes, as the relevance tests use the engine.
pub trait Plain {
    /// Search without a taste.
    fn search_plain(&self, req: &SearchRequest) -> needle_search::Result<needle_search::SearchResponse>;
    /// Parse and apply records (they must all be valid).
    fn write_values(&self, values: Vec<Value>);
}

impl Plain for Engine {
    fn search_plain(&self, req: &SearchRequest) -> needle_search::Result<needle_search::SearchResponse> {
        self.search(req, None)
    }

    fn write_values(&self, values: Vec<Value>) {
        let records = values
            .iter()
            .map(|v| needle_core::validate::parse_record(v).unwrap())
            .collect();
        self.apply(needle_search::Batch::new(records), 0).unwrap();
    }
}
