//! Semantic and hybrid search through the service, with a deterministic embedder (hashed
//! words and trigrams: texts sharing words are close), so every expectation follows from
//! the texts: vectors are computed on write, kept across a restart without being
//! recomputed, forgotten on delete; the modes, the auto rule, the fusion and `explain`.

use needle_embed::HashEmbedder;
use needle_search::{EngineConfig, SearchMode, SearchRequest, SearchResponse};
use needle_service::{EmbedderOverride, Service, ServiceConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn config(dir: &std::path::Path) -> ServiceConfig {
    let mut cfg = ServiceConfig::new(EngineConfig::new(dir));
    cfg.embedder = Some(EmbedderOverride(Arc::new(HashEmbedder::new(256))));
    cfg.semantic.types = vec![
        needle_core::EntityType::Show,
        needle_core::EntityType::Episode,
        needle_core::EntityType::Audiobook,
    ];
    cfg
}

fn catalog() -> Vec<serde_json::Value> {
    vec![
        json!({"id": "sh:ev", "type": "show", "name": "Plugged In", "publisher": "Volt Media",
               "description": "electric vehicles batteries charging and the climate crisis", "popularity": 10}),
        json!({"id": "sh:rome", "type": "show", "name": "The History of Rome", "publisher": "Mike",
               "description": "the ancient roman empire from romulus to the fall of the west", "popularity": 50}),
        json!({"id": "sh:knit", "type": "show", "name": "Knit Together", "publisher": "Yarn Co",
               "description": "knitting patterns yarn and needles for beginners", "popularity": 30}),
        json!({"id": "sh:climate", "type": "show", "name": "Climate", "publisher": "Weather Desk",
               "description": "weather forecasts", "popularity": 5}),
        json!({"id": "ab:caesar", "type": "audiobook", "name": "Commentaries on the Gallic War",
               "authors": ["Julius Caesar"], "description": "the roman general on his war in gaul", "popularity": 3}),
        json!({"id": "ep:batt", "type": "episode", "name": "Episode 12", "show_id": "sh:ev",
               "transcript": "today we talk about solid state batteries for electric vehicles"}),
        json!({"id": "tr:x", "type": "track", "name": "Electric Vehicles Climate", "popularity": 99}),
    ]
}

fn open(dir: &std::path::Path) -> Service {
    let s = Service::open(config(dir)).unwrap();
    assert!(
        s.wait_semantic_idle(Duration::from_secs(60)),
        "the embedding worker catches up"
    );
    s
}

fn search(s: &Service, q: &str, mode: SearchMode) -> SearchResponse {
    s.search(&SearchRequest {
        q: q.into(),
        limit: Some(10),
        mode,
        explain: true,
        ..Default::default()
    })
    .unwrap()
}

fn ids(r: &SearchResponse) -> Vec<&str> {
    r.hits.iter().map(|h| h.id.as_str()).collect()
}

#[test]
fn vectors_are_made_on_write_kept_across_a_restart_and_forgotten_on_delete() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let s = open(tmp.path());
        s.write_values(catalog()).unwrap();
        s.refresh().unwrap();
        assert!(s.wait_semantic_idle(Duration::from_secs(60)));
        let st = s.semantic_status().unwrap();
        assert_eq!(st.vectors, 6, "every show, audiobook and episode; no track: {st:?}");
        assert_eq!(st.embedded, 6);
        assert_eq!(st.state.as_deref(), Some("ready"));
        s.shutdown().unwrap();
    }
    let s = open(tmp.path());
    let st = s.semantic_status().unwrap();
    assert_eq!((st.vectors, st.embedded), (6, 0), "read back, not recomputed: {st:?}");
    // A changed text is embedded again; a delete forgets the vector.
    s.write_values(vec![
        json!({"id": "sh:knit", "type": "show", "name": "Knit Together", "description": "crochet"}),
        json!({"id": "sh:climate", "deleted": true}),
    ])
    .unwrap();
    s.refresh().unwrap();
    assert!(s.wait_semantic_idle(Duration::from_secs(60)));
    let st = s.semantic_status().unwrap();
    assert_eq!((st.vectors, st.embedded), (5, 1), "{st:?}");
    let r = search(&s, "weather forecasts", SearchMode::Semantic);
    assert!(!ids(&r).contains(&"sh:climate"), "deleted: {:?}", ids(&r));
}

#[test]
fn offline_embedding_writes_every_vector_and_builds_the_graph_once_at_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let s = open(tmp.path());
        s.write_values(catalog()).unwrap();
        s.refresh().unwrap();
        assert!(s.wait_semantic_idle(Duration::from_secs(60)));
        s.write_values(vec![json!({"id": "sh:climate", "deleted": true})])
            .unwrap();
        s.refresh().unwrap();
        s.shutdown().unwrap();
    }
    // What `needle import` does after loading: vectors for the file only.
    {
        let mut cfg = config(tmp.path());
        cfg.offline_embedding = true;
        let s = Service::open(cfg).unwrap();
        let st = s.semantic_status().unwrap();
        assert_eq!(st.state.as_deref(), Some("ready"), "nothing to load first: {st:?}");
        s.write_values(vec![
            json!({"id": "ab:ovid", "type": "audiobook", "name": "Metamorphoses",
                   "authors": ["Ovid"], "description": "roman myths of transformation"}),
        ])
        .unwrap();
        s.refresh().unwrap();
        assert!(s.wait_semantic_idle(Duration::from_secs(60)));
        let st = s.semantic_status().unwrap();
        assert_eq!((st.vectors, st.embedded), (6, 1), "{st:?}");
        assert!(st.vector_bytes > 0, "the final build loaded the set: {st:?}");
        s.shutdown().unwrap();
    }
    let s = open(tmp.path());
    let st = s.semantic_status().unwrap();
    assert_eq!((st.vectors, st.embedded), (6, 0), "written offline, read back: {st:?}");
    let r = search(&s, "roman myths of transformation", SearchMode::Semantic);
    assert_eq!(ids(&r).first(), Some(&"ab:ovid"), "{:?}", ids(&r));
    assert!(!ids(&r).contains(&"sh:climate"));
}

#[test]
fn a_snapshot_carries_the_vectors_so_a_restore_does_not_recompute_them() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    s.write_values(catalog()).unwrap();
    s.refresh().unwrap();
    assert!(s.wait_semantic_idle(Duration::from_secs(60)));
    let m = s.snapshot().unwrap();
    s.shutdown().unwrap();
    drop(s);
    let node = needle_service::config::cluster::ClusterConfig::default().node_name();
    let src = needle_service::snapshot::path_for(&tmp.path().join("snapshots"), m.applied_seq, &node);
    assert!(src.join("vectors.redb").exists());
    let target = tempfile::tempdir().unwrap();
    Service::restore(&src, target.path()).unwrap();
    let r = open(target.path());
    let st = r.semantic_status().unwrap();
    assert_eq!((st.vectors, st.embedded), (6, 0), "restored, not recomputed: {st:?}");
}

#[test]
fn modes_fuse_the_arms_and_keep_names_on_top() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    s.write_values(catalog()).unwrap();
    s.refresh().unwrap();
    assert!(s.wait_semantic_idle(Duration::from_secs(60)));

    // Keyword mode: no semantic part anywhere.
    let k = search(&s, "roman empire", SearchMode::Keyword);
    assert!(k.hits.iter().all(|h| h.explain.unwrap().semantic_rank.is_none()));

    // Semantic mode finds by meaning-bearing words the keyword arm needs all of.
    let r = search(&s, "roman war general", SearchMode::Semantic);
    assert_eq!(r.hits[0].id, "ab:caesar", "{:?}", ids(&r));
    let e = r.hits[0].explain.unwrap();
    assert_eq!(e.semantic_rank, Some(1));
    assert!(e.semantic_similarity.unwrap() > 0.25);
    assert!(!ids(&r).contains(&"tr:x"), "tracks have no vectors");

    // Hybrid: the show named exactly as typed stays first, the rest is fused.
    let h = search(&s, "climate", SearchMode::Hybrid);
    assert_eq!(h.hits[0].id, "sh:climate", "{:?}", ids(&h));
    assert!(ids(&h).contains(&"sh:ev"));
    let ev = h.hits.iter().find(|x| x.id == "sh:ev").unwrap().explain.unwrap();
    assert!(ev.keyword_rank.is_some() && ev.semantic_rank.is_some(), "{ev:?}");

    // Types restrict the semantic arm as they do the keyword arm.
    let only = s
        .search(&SearchRequest {
            q: "electric vehicles batteries".into(),
            types: vec![needle_core::EntityType::Episode],
            mode: SearchMode::Semantic,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&only), ["ep:batt"]);

    // Auto: a description joins the arm, a short name query does not.
    let auto = search(&s, "electric vehicles and the climate crisis", SearchMode::Auto);
    assert!(auto.hits.iter().any(|h| h.explain.unwrap().semantic_rank.is_some()));
    let short = search(&s, "plugged in", SearchMode::Auto);
    assert!(short.hits.iter().all(|h| h.explain.unwrap().semantic_rank.is_none()));
    assert_eq!(short.hits[0].id, "sh:ev");

    // The ratio: 0 is keyword only.
    let zero = s
        .search(&SearchRequest {
            q: "roman war general".into(),
            mode: SearchMode::Hybrid,
            semantic_ratio: Some(0.0),
            explain: true,
            ..Default::default()
        })
        .unwrap();
    assert!(zero.hits.iter().all(|h| h.explain.unwrap().semantic_rank.is_none()));
}

#[test]
fn without_a_model_semantic_modes_are_refused_and_auto_is_keyword_search() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = ServiceConfig::new(EngineConfig::new(tmp.path()));
    cfg.semantic.model_dir = tmp.path().join("no-model").display().to_string();
    let s = Service::open(cfg).unwrap();
    s.write_values(catalog()).unwrap();
    s.refresh().unwrap();
    let why = s.semantic_status().unwrap_err();
    assert!(why.contains("needle model fetch"), "{why}");
    match s.search(&SearchRequest {
        q: "roman".into(),
        mode: SearchMode::Hybrid,
        ..Default::default()
    }) {
        Err(needle_service::Error::SemanticUnavailable(m)) => assert!(m.contains("needle model fetch"), "{m}"),
        other => panic!("expected semantic_unavailable, got {other:?}"),
    }
    let auto = search(&s, "the ancient roman empire", SearchMode::Auto);
    assert_eq!(auto.hits[0].id, "sh:rome");
}

#[test]
fn shows_nobody_played_get_more_like_this_from_their_text() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    s.write_values(catalog()).unwrap();
    s.refresh().unwrap();
    assert!(s.wait_semantic_idle(Duration::from_secs(60)));
    let req = needle_recs::serve::SeedRequest {
        types: None,
        limit: 3,
        market: None,
        explicit: true,
    };
    // No model is trained: the content path answers instead of `model_not_ready`.
    let r = s.similar("sh:ev", &req).unwrap();
    assert_eq!(r.model_version, 0);
    assert!(!r.items.is_empty());
    assert!(r.items.len() <= 3);
    for it in &r.items {
        assert_ne!(it.id, "sh:ev", "never the item itself");
        assert_eq!(it.kind, needle_core::EntityType::Show, "the item's own type");
        assert!(it.reason.contains("Plugged In"), "{}", it.reason);
    }
    let eps = s
        .similar(
            "sh:ev",
            &needle_recs::serve::SeedRequest {
                types: Some(vec![needle_core::EntityType::Episode]),
                ..req
            },
        )
        .unwrap();
    assert_eq!(eps.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["ep:batt"]);
    assert_eq!(eps.items[0].by, ["Plugged In"], "an episode is by its show");
}
