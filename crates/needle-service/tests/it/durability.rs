//! Writes survive reopening; deletes and upserts behave; the index catches up from the store.

use needle_search::SearchRequest;
use needle_service::Service;
use serde_json::json;

fn ids(e: &Service, q: &str) -> Vec<String> {
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
        let e = crate::fixture::open(dir.path());
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
        store.apply(&[rec], 0).unwrap();
    }
    let e = crate::fixture::open(dir.path());
    assert_eq!(e.get("4").unwrap().unwrap().name, "Late Artist");
    assert_eq!(ids(&e, "late artist"), vec!["4"]);
    assert!(ids(&e, "third").is_empty());
    assert_eq!(e.stats().unwrap().entities, 2);
}

fn catalog_of_three(dir: &std::path::Path) {
    let e = crate::fixture::open(dir);
    let r = e
        .write_values(vec![
            json!({"id":"a1","type":"artist","name":"Gloria Gaynor"}),
            json!({"id":"t1","type":"track","name":"I Will Survive","artist_ids":["a1"]}),
            json!({"id":"s1","type":"show","name":"Survival Stories","description":"how people endure"}),
        ])
        .unwrap();
    assert_eq!(r.accepted, 3);
    e.shutdown().unwrap();
}

#[test]
fn a_deleted_index_is_rebuilt_from_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    catalog_of_three(dir.path());
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let e = crate::fixture::open(dir.path());
    assert_eq!(ids(&e, "i will survive"), vec!["t1"]);
    // Related names are resolved again: the track is found by its artist.
    assert!(ids(&e, "gaynor survive").contains(&"t1".to_string()));
    assert_eq!(ids(&e, "endure"), vec!["s1"]);
    assert_eq!(e.stats().unwrap().entities, 3);
    // Writes after the rebuild are indexed as usual, and a reopen does not rebuild twice
    // into duplicates.
    e.write_values(vec![
        json!({"id":"t2","type":"track","name":"Never Can Say Goodbye","artist_ids":["a1"]}),
    ])
    .unwrap();
    e.shutdown().unwrap();
    drop(e);
    let e = crate::fixture::open(dir.path());
    assert_eq!(ids(&e, "never can say goodbye"), vec!["t2"]);
    assert_eq!(ids(&e, "i will survive"), vec!["t1"]);
}

#[test]
fn an_index_with_another_schema_is_rebuilt_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    catalog_of_three(dir.path());
    // An index written by an older version: same place, different schema.
    let index_dir = dir.path().join("index");
    std::fs::remove_dir_all(&index_dir).unwrap();
    std::fs::create_dir_all(&index_dir).unwrap();
    {
        let mut b = tantivy::schema::Schema::builder();
        let f = b.add_text_field("name", tantivy::schema::TEXT);
        let old = tantivy::Index::create_in_dir(&index_dir, b.build()).unwrap();
        let mut w: tantivy::IndexWriter = old.writer(15_000_000).unwrap();
        w.add_document(tantivy::doc!(f => "stale")).unwrap();
        w.commit().unwrap();
    }
    let e = crate::fixture::open(dir.path());
    assert_eq!(ids(&e, "i will survive"), vec!["t1"]);
    assert!(ids(&e, "stale").is_empty());
    assert_eq!(e.stats().unwrap().entities, 3);
}
