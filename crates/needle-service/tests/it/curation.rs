//! Suggestions through the service, and curation: synonyms and rules set through the log,
//! applied to searches, versioned, and kept across a restart (log replay).

use crate::fixture::{engine, open};
use needle_search::suggest::{QuerySource, SuggestionKind};
use needle_search::SearchRequest;
use needle_service::Service;
use serde_json::json;
use std::sync::Arc;

fn ids(e: &Service, q: &str) -> Vec<String> {
    e.search(&SearchRequest {
        q: q.into(),
        limit: Some(10),
        ..Default::default()
    })
    .unwrap()
    .hits
    .into_iter()
    .map(|h| h.id)
    .collect()
}

fn suggested(e: &Service, q: &str, user: Option<&str>) -> Vec<String> {
    e.suggest(Some(q), user, None, Some(5))
        .unwrap()
        .suggestions
        .into_iter()
        .filter_map(|s| s.id)
        .collect()
}

#[test]
fn suggestions_complete_names_stay_current_and_check_their_parameters() {
    let (_d, e) = engine();
    assert_eq!(
        suggested(&e, "hel", None)[0],
        "tr:helloween",
        "the most popular `hel…` name"
    );
    assert!(
        suggested(&e, "metalica", None).contains(&"ar:metallica".to_string()),
        "a typo"
    );
    e.write_values(vec![
        json!({"id": "tr:new", "type": "track", "name": "Zyzzyva Dance", "popularity": 5}),
    ])
    .unwrap();
    assert_eq!(suggested(&e, "zyz", None), ["tr:new"], "current without a refresh");
    let bad = |q: Option<&str>, m: Option<&str>, l: Option<usize>| match e.suggest(q, None, m, l) {
        Err(needle_service::Error::Invalid(v)) => v.field,
        other => panic!("expected an invalid parameter, got {other:?}"),
    };
    assert_eq!(bad(None, None, None).as_deref(), Some("q"));
    assert_eq!(bad(Some(&"a".repeat(300)), None, None).as_deref(), Some("q"));
    assert_eq!(bad(Some("a"), None, Some(0)).as_deref(), Some("limit"));
    assert_eq!(bad(Some("a"), None, Some(51)).as_deref(), Some("limit"));
    assert_eq!(bad(Some("a"), Some("USA"), None).as_deref(), Some("market"));
}

struct Past;
impl QuerySource for Past {
    fn completions(&self, prefix: &str, _limit: usize) -> Vec<(String, f64)> {
        ["hello adele lyrics"]
            .iter()
            .filter(|q| q.starts_with(prefix))
            .map(|q| (q.to_string(), 1.0))
            .collect()
    }
}

#[test]
fn past_queries_come_from_the_source_once_wired() {
    let (_d, e) = engine();
    let kinds = |e: &Service| -> Vec<SuggestionKind> {
        e.suggest(Some("hello a"), None, None, Some(5))
            .unwrap()
            .suggestions
            .iter()
            .map(|s| s.kind)
            .collect()
    };
    assert!(!kinds(&e).contains(&SuggestionKind::Query));
    e.set_query_source(Arc::new(Past));
    assert!(kinds(&e).contains(&SuggestionKind::Query));
}

#[test]
fn synonyms_find_items_one_way_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.write_values(crate::fixture::catalog()).unwrap();
        e.write_values(vec![
            json!({"id": "al:lp", "type": "album", "name": "Long Play Sessions", "popularity": 10}),
            json!({"id": "tr:dj", "type": "track", "name": "Disc Jockey Blues", "popularity": 10}),
        ])
        .unwrap();
        e.refresh().unwrap();
        assert!(!ids(&e, "lp").contains(&"al:lp".to_string()));
        let (_, before) = e.state_digest().unwrap();
        let v = e
            .set_synonyms(&json!({"groups": [
                {"from": "lp", "to": ["long play"]},
                {"synonyms": ["dj", "disc jockey"]}
            ]}))
            .unwrap();
        assert_eq!(v.version, 1);
        assert!(v.seq > 0);
        assert_ne!(
            e.state_digest().unwrap().1,
            before,
            "the settings are part of the state digest"
        );
        assert_eq!(ids(&e, "lp")[0], "al:lp");
        assert_eq!(ids(&e, "lp sessions")[0], "al:lp");
        assert_eq!(ids(&e, "dj blues")[0], "tr:dj", "multi-way");
        // One-way: `long play` does not find what `lp` names (nothing is named `lp` here:
        // the original words must still match).
        e.write_values(vec![
            json!({"id": "al:lp2", "type": "album", "name": "LP", "popularity": 1}),
        ])
        .unwrap();
        e.refresh().unwrap();
        assert!(ids(&e, "lp").contains(&"al:lp2".to_string()));
        assert!(!ids(&e, "long play").contains(&"al:lp2".to_string()), "no reverse");
        // A typo of a synonym's source is not rewritten (synonyms match exact words).
        assert!(!ids(&e, "lpp").contains(&"al:lp".to_string()));
        // A later version replaces the groups whole.
        let v = e
            .set_synonyms(&json!({"groups": [{"synonyms": ["dj", "disc jockey"]}]}))
            .unwrap();
        assert_eq!(v.version, 2);
        e.shutdown().unwrap();
    }
    let e = open(dir.path());
    assert_eq!(
        suggested(&e, "disc j", None),
        ["tr:dj"],
        "suggestions rebuilt from the store at open"
    );
    assert_eq!(e.synonyms().version, 2);
    assert_eq!(ids(&e, "dj blues")[0], "tr:dj", "in force after the restart");
    assert!(!ids(&e, "lp").contains(&"al:lp".to_string()), "version 1 is gone");
}

#[test]
fn rules_pin_and_hide_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = open(dir.path());
        e.write_values(crate::fixture::catalog()).unwrap();
        e.refresh().unwrap();
        let before = ids(&e, "hello");
        assert_eq!(before[0], "tr:hello-adele");
        let err = e.set_rules(&json!({"rules": [{"query": "hello", "pin": [{"id": "x", "position": 0}]}]}));
        assert!(
            matches!(err, Err(needle_service::Error::Invalid(v)) if v.field.as_deref() == Some("rules[0].pin[0].position"))
        );
        let v = e
            .set_rules(&json!({"rules": [
                {"query": "Hello", "pin": [{"id": "tr:hello-obscure", "position": 1}], "hide": ["tr:hello-adele"]},
                {"query": "hello", "pin": [{"id": "ar:metallica", "position": 2}]}
            ]}))
            .unwrap();
        assert_eq!(v.version, 1);
        let after = ids(&e, "hello!");
        assert_eq!(after[0], "tr:hello-obscure", "pinned first");
        assert_eq!(
            after[1], "ar:metallica",
            "a pin that did not match is fetched and placed"
        );
        assert!(!after.contains(&"tr:hello-adele".to_string()), "hidden");
        assert_eq!(
            ids(&e, "hello goodbye")[0],
            "tr:hello-goodbye",
            "other queries untouched"
        );
        e.shutdown().unwrap();
    }
    let e = open(dir.path());
    assert_eq!((e.rules().version, e.rules().value.len()), (1, 2));
    let after = ids(&e, "hello");
    assert_eq!(after[..2], ["tr:hello-obscure", "ar:metallica"]);
    assert!(!after.contains(&"tr:hello-adele".to_string()));
}
