//! A small hand-made catalog covering the cases the relevance suite asks about.

use needle_search::EngineConfig;
use needle_service::{Service, ServiceConfig};
use serde_json::Value;

/// The fixture catalog (`tests/fixtures/catalog.jsonl`, owned by needle-search's tests).
pub fn catalog() -> Vec<Value> {
    include_str!("../../../needle-search/tests/fixtures/catalog.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn open(dir: &std::path::Path) -> Service {
    Service::open(ServiceConfig::new(EngineConfig::new(dir))).unwrap()
}

pub fn engine() -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let report = engine.write_values(catalog()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    engine.refresh().unwrap();
    (dir, engine)
}
