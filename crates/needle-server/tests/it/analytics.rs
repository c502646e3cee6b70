//! `GET /v1/analytics/searches` and `/v1/analytics/items/{id}`: what was searched, found
//! and clicked, from searches answered through the router and click events.

use crate::common::{sample_catalog, TestApp};
use needle_core::time::ManualClock;
use serde_json::json;

/// 2026-01-01T10:00:00Z.
const T0: i64 = 1_767_261_600_000;

#[tokio::test]
async fn analytics_count_searches_zero_results_and_clicks() {
    let clock = ManualClock::new(T0);
    let app = TestApp::with_clock(clock.clone(), |_| {});
    assert_eq!(app.post_json(&sample_catalog()).await.status, 200);
    app.refresh().await;
    let first = app.get("/v1/search?q=Hello&user_id=u1").await.json();
    let sid = first["search_id"].as_str().expect("search_id").to_string();
    assert_eq!(first["hits"][0]["id"], "t1");
    app.get("/v1/search?q=hello").await;
    app.get("/v1/search?q=qqqxxzz").await;
    clock.advance(std::time::Duration::from_secs(3600));
    app.get("/v1/search?q=qqqxxzz&market=gb").await;
    let res = app
        .post_events(&json!([
            {"type": "click", "search_id": sid, "item_id": "t1", "position": 1, "user_id": "u1",
             "ts": T0 + 5000, "event_id": "c1"},
            {"type": "click", "search_id": sid, "item_id": "t1", "position": 1, "user_id": "u1",
             "ts": T0 + 5000, "event_id": "c1"},
            {"type": "click", "search_id": sid, "item_id": "t1", "ts": T0, "event_id": "c2"},
        ]))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let report = res.json();
    assert_eq!(
        (report["accepted"].as_u64(), report["duplicates"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["rejected"][0]["index"], 2);
    assert!(report["rejected"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("position"));

    let res = app
        .get("/v1/analytics/searches?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&limit=5")
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    insta::assert_json_snapshot!("analytics_searches", res.json());
    let res = app.get("/v1/analytics/items/t1").await;
    assert_eq!(res.status, 200, "{}", res.text());
    insta::assert_json_snapshot!("analytics_item", res.json());
    // The default range is the last 24 hours.
    let body = app.get("/v1/analytics/searches").await.json();
    assert_eq!(body["searches"], 4, "{body}");
}

#[tokio::test]
async fn analytics_errors_name_the_parameter() {
    let app = TestApp::new();
    for (uri, param) in [
        ("/v1/analytics/searches?from=soon", "`from`"),
        ("/v1/analytics/searches?from=10&to=5", "`from`"),
        ("/v1/analytics/searches?limit=0", "`limit`"),
        ("/v1/analytics/searches?colour=red", "`colour`"),
        ("/v1/analytics/items/t1?limit=x", "`limit`"),
    ] {
        let body = app.get(uri).await.assert_error(400, "invalid_parameter");
        assert!(body["message"].as_str().unwrap_or("").contains(param), "{uri}: {body}");
    }
}

#[tokio::test]
async fn analytics_need_the_admin_scope() {
    use crate::auth::{request, secured_at, Cred, ADMIN, SEARCH};
    use axum::http::Method;
    let app = secured_at(needle_core::time::system(), |_| {});
    for uri in ["/v1/analytics/searches", "/v1/analytics/items/t1"] {
        let res = app.send(request(Method::GET, uri, Cred::Bearer(SEARCH), None)).await;
        assert_eq!(res.status, 403, "{uri}: {}", res.text());
        let res = app.send(request(Method::GET, uri, Cred::Bearer(ADMIN), None)).await;
        assert_eq!(res.status, 200, "{uri}: {}", res.text());
    }
}
