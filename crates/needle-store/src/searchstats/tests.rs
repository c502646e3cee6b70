use super::model::{position_weight, ClickParams, ItemVotes, MAX_WEIGHTED_POSITION};
use super::*;
use needle_core::search_event::{normalize_query, Click, LoggedSearch};
use proptest::prelude::*;

pub(super) const DAY: i64 = 86_400_000;
pub(super) const T0: i64 = 1_700_000_000_000;

pub(super) fn search(id: &str, q: &str, user: Option<&str>, results: &[&str], ts: i64) -> LoggedSearch {
    LoggedSearch {
        search_id: id.into(),
        query: q.into(),
        normalized: normalize_query(q),
        user_id: user.map(str::to_string),
        market: None,
        result_ids: results.iter().map(|s| s.to_string()).collect(),
        took_ms: Some(1.0),
        zero_result: results.is_empty(),
        ts,
        event_id: None,
    }
}

pub(super) fn click(ev: &str, sid: &str, item: &str, pos: u32, user: Option<&str>, ts: i64) -> Click {
    Click {
        event_id: ev.into(),
        search_id: sid.into(),
        item_id: item.into(),
        position: pos,
        user_id: user.map(str::to_string),
        ts,
    }
}

fn open() -> (tempfile::TempDir, SearchStats) {
    let d = tempfile::tempdir().expect("tempdir");
    let s = SearchStats::open(d.path(), SearchStatsConfig::default()).expect("open");
    (d, s)
}

/// `n` distinct listeners search `q` and click `item` at `pos`, from entry `seq` on.
pub(super) fn crowd(s: &SearchStats, seq: &mut u64, q: &str, item: &str, pos: u32, n: usize, ts: i64) {
    for i in 0..n {
        let (u, sid) = (format!("u{i}"), format!("{q}-{i}-{ts}"));
        *seq += 1;
        s.apply(
            *seq,
            &[search(&sid, q, Some(&u), &["a", "b", item], ts)],
            &[click(&format!("c-{sid}"), &sid, item, pos, Some(&u), ts + 1000)],
        );
    }
}

#[test]
fn clicks_need_distinct_listeners_and_decay_away() {
    let (_d, s) = open();
    let mut seq = 0;
    crowd(&s, &mut seq, "Yellow", "c", 3, 4, T0);
    assert_eq!(
        s.click_strengths("yellow", T0 + 2000),
        None,
        "four listeners are not enough"
    );
    // One listener clicking a thousand times adds nothing.
    seq += 1;
    s.apply(seq, &[search("loud", "yellow", Some("noisy"), &["a"], T0)], &[]);
    let clicks: Vec<Click> = (0..1000)
        .map(|i| click(&format!("n{i}"), "loud", "a", 1, Some("noisy"), T0 + i))
        .collect();
    seq += 1;
    s.apply(seq, &[], &clicks);
    assert_eq!(s.click_strengths("yellow", T0 + 2000), None);
    crowd(&s, &mut seq, "yellow!", "c", 3, 6, T0 + 10);
    let st = s.click_strengths("yellow", T0 + 2000).expect("five or more listeners");
    assert!(st["c"] > 0.5 && st["c"] < 1.0, "{st:?}");
    assert!(!st.contains_key("a"), "one noisy listener is one vote: {st:?}");
    let later = s.click_strengths("yellow", T0 + 20 * DAY).expect("still there")["c"];
    assert!(later < st["c"] * 0.7, "decays with the half-life: {later}");
    assert_eq!(s.click_strengths("yellow", T0 + 31 * DAY), None, "gone past the window");
}

#[test]
fn replay_is_idempotent_and_state_survives_reopen() {
    let d = tempfile::tempdir().expect("tempdir");
    let s = SearchStats::open(d.path(), SearchStatsConfig::default()).expect("open");
    let mut seq = 0;
    crowd(&s, &mut seq, "hello", "x", 2, 5, T0);
    let before = s.searches_report(T0 - DAY, T0 + DAY, 10);
    // The same entries again (a replay) change nothing.
    let mut again = 0;
    crowd(&s, &mut again, "hello", "x", 2, 5, T0);
    assert_eq!(s.searches_report(T0 - DAY, T0 + DAY, 10), before);
    s.checkpoint(seq, false).expect("checkpoint");
    drop(s);
    let s = SearchStats::open(d.path(), SearchStatsConfig::default()).expect("reopen");
    assert_eq!(s.applied_seq(), seq);
    assert_eq!(s.searches_report(T0 - DAY, T0 + DAY, 10), before);
    assert_eq!(before.searches, 5);
    assert_eq!(before.clicks, 5);
    assert_eq!(before.click_through_rate, 1.0);
    assert_eq!(before.mean_click_position, Some(2.0));
    assert_eq!(before.top_queries[0].normalized, "hello");
    assert_eq!(s.item_report("x", 10, T0 + 2000).queries[0].listeners, 5);
}

#[test]
fn duplicates_and_zero_results_and_erasure() {
    let (_d, s) = open();
    let mut c = search("s1", "nothing here", Some("u1"), &[], T0);
    c.event_id = Some("e1".into());
    assert_eq!(s.apply(1, &[c.clone()], &[]).accepted, 1);
    c.search_id = "s2".into();
    assert_eq!(s.apply(2, &[c], &[]).duplicates, 1, "same event id and listener");
    let r = s.searches_report(T0 - DAY, T0 + DAY, 10);
    assert_eq!((r.searches, r.zero_result_searches), (1, 1));
    assert_eq!(r.top_zero_result_queries[0].query, "nothing here");
    assert!(s.suggestable_queries(1, T0).is_empty(), "never a zero-result query");
    s.erase(3, "u1");
    assert_eq!(s.queries(), 0, "a query only the erased listener typed is gone");
    let mut seq = 3;
    crowd(&s, &mut seq, "song", "x", 4, 5, T0);
    assert_eq!(s.suggestable_queries(5, T0)[0].0, "song");
    assert!(s.suggestable_queries(6, T0).is_empty(), "k-anonymity");
    seq += 1;
    s.erase(seq, "u0");
    assert!(s.click_strengths("song", T0 + 2000).is_none(), "four listeners left");
    assert!(s.suggestable_queries(5, T0).is_empty());
}

#[test]
fn queries_are_bounded() {
    let d = tempfile::tempdir().expect("tempdir");
    let cfg = SearchStatsConfig {
        max_queries: 100,
        max_recent_searches: 50,
        ..SearchStatsConfig::default()
    };
    let s = SearchStats::open(d.path(), cfg).expect("open");
    // A popular query survives a flood of one-off ones.
    for i in 0..20 {
        s.apply(i + 1, &[search(&format!("p{i}"), "popular", None, &["a"], T0)], &[]);
    }
    for i in 0..1000u64 {
        s.apply(
            100 + i,
            &[search(&format!("o{i}"), &format!("once {i}"), None, &["a"], T0 + 1)],
            &[],
        );
    }
    assert!(s.queries() <= 110, "{}", s.queries());
    assert!(s.click_strengths("popular", T0).is_none());
    let r = s.searches_report(T0 - DAY, T0 + DAY, 1);
    assert_eq!(r.searches, 1020);
    assert_eq!(r.top_queries[0].normalized, "popular");
    assert!(s.state.lock().recent.len() <= 50);
}

fn params() -> ClickParams {
    SearchStatsConfig::default().click_params()
}

proptest! {
    #[test]
    fn strength_is_bounded_and_monotone_in_time(
        votes in proptest::collection::vec((1u64..40, 1u32..30, 0i64..40 * DAY), 0..40),
        dt in 0i64..60 * DAY,
    ) {
        let p = params();
        let mut v = ItemVotes::default();
        for (u, pos, t) in &votes {
            v.vote(*u, *pos, T0 + t, p.eta);
        }
        let now = T0 + 40 * DAY;
        let a = v.strength(now, &p);
        let b = v.strength(now + dt, &p);
        prop_assert!((0.0..1.0).contains(&a));
        prop_assert!(b <= a, "no new clicks: the strength only decays ({a} -> {b})");
        let named = v.listeners(now, p.window_ms);
        if named < p.min_users as usize {
            prop_assert_eq!(a, 0.0);
        }
    }

    #[test]
    fn one_listener_is_one_vote(clicks in 1usize..300, pos in 1u32..50) {
        let p = params();
        let mut one = ItemVotes::default();
        let mut many = ItemVotes::default();
        for i in 0..clicks {
            one.vote(7, pos, T0 + i as i64, p.eta);
        }
        many.vote(7, pos, T0 + clicks as i64 - 1, p.eta);
        prop_assert_eq!(one.strength(T0 + DAY, &p), many.strength(T0 + DAY, &p));
        prop_assert!(position_weight(pos, p.eta) <= position_weight(MAX_WEIGHTED_POSITION, p.eta));
    }
}
