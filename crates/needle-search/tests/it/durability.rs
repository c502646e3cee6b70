//! Writes survive reopening; deletes and upserts behave; the index catches up from the store.

use needle_search::{Engine, EngineConfig, SearchRequest};
use serde_json::json;

fn ids(e: &Engine, q: &str) -> Vec<String> {
    e.search(&SearchRequest {
        q: q.into(),
        ..Default::default()
    })
    .unwrap()
    .hits
    .into_iter()
    .map(|h| h.id)
    .collect()
}

#[test]
fn upsert_delete_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(EngineConfig::new(dir.path())).unwrap();
        let r = e
            .write_values(vec![
                json!({"id":"1","type":"track","name":"First Song"}),
                json!({"id":"2","type":"track","name":""}),
                json!({"id":"3","type":"track","name":"Third Song"}),
                json!({"id":"1","type":"track","name":"Renamed Song"}),
            ])
            .unwrap();
        assert_eq!(r.accepted, 3);
        assert_eq!(r.rejected.len(), 1);
        assert_eq!(r.rejected[0].index, 1);
        e.refresh().unwrap();
        assert_eq!(ids(&e, "renamed"), vec!["1"]);
        assert!(ids(&e, "first").is_empty());
        assert!(e.delete("3").unwrap());
        assert!(!e.delete("3").unwrap());
        assert!(e.get("3").unwrap().is_none());
    }
    {
        // A write that reached the store but never the index (as after a crash between the
        // store's fsync and the index commit): the engine must replay it on open.
        let store = needle_store::CatalogStore::open(dir.path()).unwrap();
        let rec = needle_core::validate::parse_record(&json!({"id":"4","type":"artist","name":"Late Artist"})).unwrap();
        store.apply(&[rec]).unwrap();
    }
    let e = Engine::open(EngineConfig::new(dir.path())).unwrap();
    assert_eq!(e.get("4").unwrap().unwrap().name, "Late Artist");
    assert_eq!(ids(&e, "late artist"), vec!["4"]);
    assert!(ids(&e, "third").is_empty());
    assert_eq!(e.stats().unwrap().entities, 2);
}
