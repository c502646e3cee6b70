//! `GET /v1/suggest`, `GET/PUT /v1/settings/synonyms` and `GET/PUT /v1/settings/rules`
//! through the router (no socket).

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Method, Request};
use serde_json::{json, Value};

async fn put(app: &TestApp, uri: &str, body: &Value) -> crate::common::TestResponse {
    let req = Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    app.send(req).await
}

#[tokio::test]
async fn suggest_answers_completions_and_names_bad_parameters() {
    let app = TestApp::new();
    let res = app
        .post_json(&json!([
            {"id": "tr:1", "type": "track", "name": "Hello", "popularity": 90},
            {"id": "ar:1", "type": "artist", "name": "Helloween", "popularity": 10}
        ]))
        .await;
    assert_eq!(res.status, 200);
    let res = app.get("/v1/suggest?q=hel&limit=5").await;
    assert_eq!(res.status, 200);
    insta::assert_json_snapshot!("suggest_hel", res.json());
    for (query, param) in [
        ("", "`q`"),
        ("q=a&limit=0", "`limit`"),
        ("q=a&limit=51", "`limit`"),
        ("q=a&market=USA", "`market`"),
        ("q=a&user_id=a%01b", "`user_id`"),
        ("q=a&qq=b", "`qq`"),
    ] {
        let res = app.get(&format!("/v1/suggest?{query}")).await;
        let body = res.assert_error(400, "invalid_parameter");
        assert!(
            body["message"].as_str().unwrap_or("").contains(param),
            "{query}: {body}"
        );
    }
    let long = "a".repeat(300);
    let res = app.get(&format!("/v1/suggest?q={long}")).await;
    res.assert_error(400, "query_too_long");
}

#[tokio::test]
async fn settings_are_versioned_validated_and_applied() {
    let app = TestApp::new();
    app.post_json(&json!([
        {"id": "al:lp", "type": "album", "name": "Long Play Sessions", "popularity": 5},
        {"id": "tr:2", "type": "track", "name": "Lp Jam", "popularity": 50}
    ]))
    .await;
    app.refresh().await;
    let res = app.get("/v1/settings/synonyms").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"version": 0, "seq": 0, "groups": []}));
    let res = put(
        &app,
        "/v1/settings/synonyms",
        &json!({"groups": [{"from": "lp", "to": ["long play"]}]}),
    )
    .await;
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(body["version"], 1);
    assert!(body["seq"].as_u64().unwrap_or(0) > 0);
    assert_eq!(app.get("/v1/settings/synonyms").await.json(), body);
    let hits = app.get("/v1/search?q=lp").await.json();
    let ids: Vec<&str> = hits["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["id"].as_str())
        .collect();
    assert!(ids.contains(&"al:lp"), "{ids:?}");

    let res = put(&app, "/v1/settings/synonyms", &json!({"groups": [{"from": "lp"}]})).await;
    let err = res.assert_error(400, "missing_field");
    insta::assert_json_snapshot!("synonyms_missing_to", err);

    let res = put(
        &app,
        "/v1/settings/rules",
        &json!({"rules": [{"query": "lp", "hide": ["tr:2"], "pin": [{"id": "al:lp", "position": 1}]}]}),
    )
    .await;
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(
        (body["version"].as_u64(), body["rules"][0]["hide"][0].as_str()),
        (Some(1), Some("tr:2"))
    );
    let hits = app.get("/v1/search?q=lp").await.json();
    let ids: Vec<&str> = hits["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["id"].as_str())
        .collect();
    assert_eq!(ids, ["al:lp"]);
    let res = put(
        &app,
        "/v1/settings/rules",
        &json!({"rules": [{"query": "lp", "pin": [{"id": "x", "position": 101}]}]}),
    )
    .await;
    let err = res.assert_error(400, "invalid_field");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("rules[0].pin[0].position"),
        "{err}"
    );
    let res = put(&app, "/v1/settings/rules", &json!([1])).await;
    res.assert_error(400, "invalid_field");
}
