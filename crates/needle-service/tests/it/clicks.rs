//! Ranking learned from clicks, end to end through the service: the search log, click
//! events, the click model's guard rails and decay, erasure, analytics.

use crate::fixture::catalog;
use needle_core::time::{Clock, ManualClock};
use needle_search::{EngineConfig, SearchRequest, SearchResponse};
use needle_service::{Service, ServiceConfig};
use serde_json::json;
use std::sync::Arc;

const T0: i64 = 1_790_000_000_000;
const DAY: i64 = 86_400_000;
const INTENDED: &str = "tr:hello-obscure";

fn open(dir: &std::path::Path, clock: &Arc<ManualClock>) -> Service {
    let clock: Arc<dyn Clock> = clock.clone();
    Service::open_with_clock(ServiceConfig::new(EngineConfig::new(dir)), clock).unwrap()
}

fn search(e: &Service, q: &str, user: Option<&str>) -> SearchResponse {
    e.search(&SearchRequest {
        q: q.into(),
        user_id: user.map(str::to_string),
        limit: Some(10),
        explain: true,
        ..Default::default()
    })
    .unwrap()
}

fn ids(r: &SearchResponse) -> Vec<String> {
    r.hits.iter().map(|h| h.id.clone()).collect()
}

/// `user` searches `q` and clicks `item` where it is shown, `times` times.
fn search_and_click(e: &Service, clock: &ManualClock, q: &str, user: Option<&str>, item: &str, times: usize) {
    let r = search(e, q, user);
    let position = ids(&r).iter().position(|i| i == item).expect("item shown") + 1;
    let sid = r.search_id.clone().expect("every answer has a search_id");
    let clicks: Vec<_> = (0..times)
        .map(|i| {
            let mut c = json!({"type": "click", "search_id": sid, "item_id": item, "position": position,
                "ts": clock.now_ms(), "event_id": format!("{sid}-{i}")});
            if let Some(u) = user {
                c["user_id"] = json!(u);
            }
            c
        })
        .collect();
    let report = e.ingest_events(clicks).unwrap();
    assert_eq!((report.accepted, report.rejected.len()), (times, 0), "{report:?}");
}

#[test]
fn clicks_from_distinct_listeners_lift_the_intended_item_and_decay_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let e = open(dir.path(), &clock);
    assert!(e.write_values(catalog()).unwrap().rejected.is_empty());
    e.refresh().unwrap();
    let base = search(&e, "hello", None);
    let at = ids(&base).iter().position(|i| i == INTENDED).expect("shown");
    assert!(
        at >= 2,
        "the intended Hello starts at position 3 or lower: {:?}",
        ids(&base)
    );

    // One noisy listener clicking a thousand times, and anonymous clicks, move nothing.
    search_and_click(&e, &clock, "hello", Some("noisy"), INTENDED, 1000);
    search_and_click(&e, &clock, "Hello!", None, INTENDED, 50);
    // Four more listeners (five with the noisy one... who counts once) are one short.
    for i in 0..3 {
        search_and_click(&e, &clock, "hello", Some(&format!("fan{i}")), INTENDED, 1);
    }
    assert_eq!(
        ids(&search(&e, "hello", None)),
        ids(&base),
        "four listeners move nothing"
    );

    // The fifth distinct listener: first for everyone, anonymous or not.
    search_and_click(&e, &clock, "HELLO", Some("fan3"), INTENDED, 1);
    let lifted = search(&e, "hello", None);
    assert_eq!(lifted.hits[0].id, INTENDED, "{:?}", ids(&lifted));
    assert_eq!(lifted.top_result.as_ref().map(|h| h.id.as_str()), Some(INTENDED));
    assert_eq!(search(&e, "hello", Some("someone-else")).hits[0].id, INTENDED);
    let x = lifted.hits[0].explain.expect("explain=true explains");
    assert!(x.click_boost > 0.0 && x.exact_bonus == 1.5, "{x:?}");
    assert!(lifted.hits[1].explain.expect("explained").click_boost == 0.0);
    // It only reorders: the same matches, the same count.
    let mut a = ids(&lifted);
    let mut b = ids(&base);
    a.sort();
    b.sort();
    assert_eq!((a, lifted.total), (b, base.total));
    // A query that is not the title is not lifted by the title's clicks.
    assert_eq!(ids(&search(&e, "hello goodbye", None))[0], "tr:hello-goodbye");

    // The state survives a restart (checkpointed at shutdown, or replayed from the log).
    drop(e);
    let e = open(dir.path(), &clock);
    assert_eq!(search(&e, "hello", None).hits[0].id, INTENDED);

    // Erasing one of the five takes their vote away.
    e.erase_listener("fan0").unwrap();
    assert_eq!(ids(&search(&e, "hello", None)), ids(&base));
    search_and_click(&e, &clock, "hello", Some("fan4"), INTENDED, 1);
    assert_eq!(search(&e, "hello", None).hits[0].id, INTENDED);

    // Clicks stop; the boost decays back.
    clock.advance(std::time::Duration::from_millis((2 * DAY) as u64));
    assert_eq!(search(&e, "hello", None).hits[0].id, INTENDED, "two days later");
    clock.advance(std::time::Duration::from_millis((29 * DAY) as u64));
    assert_eq!(ids(&search(&e, "hello", None)), ids(&base), "a month later");
}

#[test]
fn analytics_reflect_the_searches_and_clicks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let e = open(dir.path(), &clock);
    assert!(e.write_values(catalog()).unwrap().rejected.is_empty());
    e.refresh().unwrap();
    for _ in 0..3 {
        search(&e, "qqqzzzxx", Some("u1"));
    }
    search_and_click(&e, &clock, "hello", Some("u2"), INTENDED, 2);
    search(&e, "hello", None);
    // A client-logged search and a bad event in the same batch.
    let r = e
        .ingest_events(vec![
            json!({"type": "search", "search_id": "ext-1", "query": "Yesterday", "result_ids": ["tr:1"],
                "ts": T0, "event_id": "s1"}),
            json!({"type": "click", "search_id": "ext-1", "item_id": "tr:1", "position": 0, "ts": T0, "event_id": "c1"}),
            json!({"type": "search", "search_id": "ext-1", "query": "Yesterday", "ts": T0, "event_id": "s1"}),
        ])
        .unwrap();
    assert_eq!((r.accepted, r.duplicates), (1, 1), "{r:?}");
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].index, 1);
    assert!(r.rejected[0].message.contains("position"));
    e.flush_search_log();
    let a = e.search_analytics(Some(T0 - DAY), Some(T0 + DAY), 10).unwrap();
    assert_eq!(a.searches, 6);
    assert_eq!(a.zero_result_searches, 3);
    assert_eq!(a.clicks, 2);
    assert_eq!(a.top_queries[0].normalized, "qqqzzzxx");
    assert_eq!(a.top_zero_result_queries[0].zero_result, 3);
    let hello = a.top_queries.iter().find(|q| q.normalized == "hello").expect("hello");
    assert_eq!((hello.searches, hello.clicks), (2, 2));
    assert_eq!(hello.click_through_rate, 0.5);
    assert_eq!(a.mean_click_position, Some(3.0));
    let item = e.item_analytics(INTENDED, 10).unwrap();
    assert_eq!(item.queries[0].normalized, "hello");
    assert_eq!(item.queries[0].listeners, 1);
    assert!(
        e.search_analytics(Some(T0), Some(T0), 10).is_err(),
        "from must be before to"
    );
    // k-anonymity: one listener's query is not suggestable.
    assert!(e.suggestable_queries(2).is_empty());
    assert_eq!(e.suggestable_queries(1)[0].0, "hello");
}

/// Past queries are suggested only once `click_min_users` (5) distinct listeners typed
/// them and clicked (k-anonymity): four are not enough, anonymous searches do not count.
#[test]
fn a_past_query_is_suggested_only_once_enough_listeners_typed_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let e = open(dir.path(), &clock);
    assert!(e.write_values(catalog()).unwrap().rejected.is_empty());
    e.refresh().unwrap();
    let past = |e: &Service| {
        // The list of suggestable queries is recomputed at most every 10 s.
        clock.advance_ms(11_000);
        let r = e.suggest(Some("hello wor"), None, None, Some(10)).unwrap();
        r.suggestions
            .iter()
            .filter(|s| s.kind == needle_search::suggest::SuggestionKind::Query)
            .map(|s| s.text.clone())
            .collect::<Vec<_>>()
    };
    search_and_click(&e, &clock, "hello world", Some("solo"), INTENDED, 300);
    search_and_click(&e, &clock, "hello world", None, INTENDED, 30);
    for i in 0..3 {
        search_and_click(&e, &clock, "hello world", Some(&format!("fan{i}")), INTENDED, 1);
    }
    assert!(past(&e).is_empty(), "four listeners: {:?}", past(&e));
    search_and_click(&e, &clock, "hello world", Some("fan3"), INTENDED, 1);
    assert_eq!(past(&e), vec!["hello world".to_string()]);
}
