//! Browsing (no query words), `sort=` and facet counts.

use needle_search::{Engine, EngineConfig, Error, FacetField, SearchRequest, SearchResponse};
use serde_json::json;

/// Seven entities written in two batches, so the index has two segments and every
/// ordering is merged across them.
fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
    let batches = [
        vec![
            json!({"id": "t1", "type": "track", "name": "Alpha", "popularity": 50, "release_date": "2020-05-01",
                   "tags": ["Rock", "pop"], "language": "en"}),
            json!({"id": "t3", "type": "track", "name": "Émile", "popularity": 80, "release_date": "2020-05-01",
                   "tags": ["jazz"], "language": "EN"}),
            json!({"id": "al1", "type": "album", "name": "Gamma", "popularity": 30, "release_date": "2021-01",
                   "tags": ["rock"]}),
            json!({"id": "sh1", "type": "show", "name": "charlie"}),
        ],
        vec![
            json!({"id": "t2", "type": "track", "name": "beta", "popularity": 80, "release_date": "1999",
                   "tags": ["rock"], "language": "de"}),
            json!({"id": "t4", "type": "track", "name": "Delta", "popularity": 10, "tags": ["rock"]}),
            json!({"id": "ar1", "type": "artist", "name": "Zed", "popularity": 90}),
        ],
    ];
    for values in batches {
        let records = values
            .iter()
            .map(|v| needle_core::validate::parse_record(v).unwrap())
            .collect();
        engine.apply(needle_search::Batch::new(records), 0).unwrap();
        engine.refresh().unwrap();
    }
    (dir, engine)
}

fn search(e: &Engine, req: SearchRequest) -> SearchResponse {
    e.search(&req, None).unwrap()
}

fn sorted(e: &Engine, q: &str, sort: Option<&str>) -> Vec<String> {
    let req = SearchRequest {
        q: q.into(),
        sort: sort.map(|s| s.parse().unwrap()),
        limit: Some(100),
        ..Default::default()
    };
    search(e, req).hits.into_iter().map(|h| h.id).collect()
}

#[test]
fn an_empty_query_browses_by_popularity_ties_by_id() {
    let (_d, e) = engine();
    let all = ["ar1", "t2", "t3", "t1", "al1", "t4", "sh1"];
    assert_eq!(sorted(&e, "", None), all);
    assert_eq!(sorted(&e, "  ", Some("popularity")), all);
    assert_eq!(sorted(&e, "", Some("relevance")), all);
    assert_eq!(
        sorted(&e, "", Some("popularity:asc")),
        ["sh1", "t4", "al1", "t1", "t2", "t3", "ar1"]
    );
    let r = search(&e, SearchRequest::default());
    assert_eq!(r.total, 7);
    assert!(r.top_result.is_none() && r.sections.is_empty() && r.facets.is_none());
    assert!(r.hits.iter().all(|h| h.highlights.is_empty()));
}

#[test]
fn release_date_newest_first_and_undated_last_either_way() {
    let (_d, e) = engine();
    assert_eq!(
        sorted(&e, "", Some("release_date")),
        ["al1", "t1", "t3", "t2", "ar1", "sh1", "t4"]
    );
    assert_eq!(
        sorted(&e, "", Some("release_date:asc")),
        ["t2", "t1", "t3", "al1", "ar1", "sh1", "t4"]
    );
}

#[test]
fn name_sorts_folded_across_segments() {
    let (_d, e) = engine();
    let az = ["t1", "t2", "sh1", "t4", "t3", "al1", "ar1"];
    assert_eq!(sorted(&e, "", Some("name")), az);
    let mut za = az;
    za.reverse();
    assert_eq!(sorted(&e, "", Some("name:desc")), za);
}

#[test]
fn pages_are_slices_of_one_order_with_an_exact_total() {
    let (_d, e) = engine();
    for sort in ["popularity", "release_date", "name:desc"] {
        let all = sorted(&e, "", Some(sort));
        let mut paged = Vec::new();
        for offset in [0, 3, 6] {
            let r = search(
                &e,
                SearchRequest {
                    sort: Some(sort.parse().unwrap()),
                    limit: Some(3),
                    offset: Some(offset),
                    ..Default::default()
                },
            );
            assert_eq!(r.total, 7, "{sort}");
            paged.extend(r.hits.into_iter().map(|h| h.id));
        }
        assert_eq!(paged, all, "{sort}");
    }
}

#[test]
fn browse_with_filters_types_and_market() {
    let (_d, e) = engine();
    let r = search(
        &e,
        SearchRequest {
            filter: Some("tag:rock".into()),
            ..Default::default()
        },
    );
    assert_eq!(r.total, 4);
    let ids: Vec<_> = r.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["t2", "t1", "al1", "t4"]);
    let r = search(
        &e,
        SearchRequest {
            types: vec![needle_core::EntityType::Track],
            filter: Some("NOT tag:jazz".into()),
            sort: Some("name".parse().unwrap()),
            market: Some("se".into()),
            ..Default::default()
        },
    );
    let ids: Vec<_> = r.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!((ids, r.total), (vec!["t1", "t2", "t4"], 3));
}

#[test]
fn a_text_query_sorted_by_a_field_keeps_its_matches() {
    let (_d, e) = engine();
    // "rock" matches by tag: the same four, now by popularity, or by name.
    assert_eq!(sorted(&e, "rock", Some("popularity")), ["t2", "t1", "al1", "t4"]);
    assert_eq!(sorted(&e, "rock", Some("name:desc")), ["al1", "t4", "t2", "t1"]);
    let mut by_relevance = sorted(&e, "rock", None);
    by_relevance.sort();
    assert_eq!(by_relevance, ["al1", "t1", "t2", "t4"]);
    // Nothing has every word: the words but one decide the set.
    assert_eq!(sorted(&e, "rock zzyzzx", Some("popularity")), ["t2", "t1", "al1", "t4"]);
}

#[test]
fn facets_count_every_match_not_only_the_page() {
    let (_d, e) = engine();
    let r = search(
        &e,
        SearchRequest {
            limit: Some(1),
            facets: FacetField::ALL.to_vec(),
            ..Default::default()
        },
    );
    assert_eq!(r.hits.len(), 1);
    let f = r.facets.unwrap();
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(
        v,
        json!({
            "type": {"track": 4, "album": 1, "artist": 1, "show": 1},
            "tags": {"rock": 4, "jazz": 1, "pop": 1},
            "language": {"en": 2, "de": 1},
            "release_year": {"2020": 2, "1999": 1, "2021": 1},
        })
    );
    // Most frequent first, ties by value.
    let tags: Vec<_> = f["tags"].0.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(tags, ["rock", "jazz", "pop"]);

    // A text query: counted over its matches (every pass's), with the page of one.
    let r = search(
        &e,
        SearchRequest {
            q: "rock".into(),
            limit: Some(1),
            facets: vec![FacetField::Type, FacetField::Type],
            ..Default::default()
        },
    );
    assert_eq!(r.total, 4);
    let f = r.facets.unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(
        serde_json::to_value(&f["type"]).unwrap(),
        json!({"track": 3, "album": 1})
    );
}

#[test]
fn facet_values_are_capped() {
    let (_d, e) = engine();
    let r = search(
        &e,
        SearchRequest {
            facets: vec![FacetField::Tags, FacetField::Type],
            max_facet_values: Some(1),
            ..Default::default()
        },
    );
    let f = serde_json::to_value(r.facets.unwrap()).unwrap();
    assert_eq!(f, json!({"tags": {"rock": 4}, "type": {"track": 4}}));
    for bad in [0, 101] {
        let err = e
            .search(
                &SearchRequest {
                    facets: vec![FacetField::Tags],
                    max_facet_values: Some(bad),
                    ..Default::default()
                },
                None,
            )
            .unwrap_err();
        assert!(
            matches!(&err, Error::Validation(v) if v.message.contains("`max_facet_values`")),
            "{err}"
        );
    }
}

#[test]
fn browse_keeps_the_window_bounds() {
    let (_d, e) = engine();
    for (limit, offset) in [(101, 0), (0, 0), (100, 901)] {
        let r = e.search(
            &SearchRequest {
                limit: Some(limit),
                offset: Some(offset),
                ..Default::default()
            },
            None,
        );
        assert!(matches!(r, Err(Error::Validation(_))), "{limit} {offset}");
    }
}

#[test]
fn unknown_sort_and_facet_names_are_refused_naming_the_values() {
    let e = "colour".parse::<needle_search::Sort>().unwrap_err();
    assert!(e.contains("`colour`") && e.contains("release_date"), "{e}");
    let e = serde_json::from_value::<SearchRequest>(json!({"q": "", "facets": ["tags", "mood"]})).unwrap_err();
    assert!(e.to_string().contains("`mood`"), "{e}");
}
