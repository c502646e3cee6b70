//! Every error the HTTP layer produces on its own has the documented JSON shape.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Method, Request};

#[tokio::test]
async fn unknown_route_is_json_404() {
    let app = TestApp::new();
    let res = app.get("/v1/nope?x=1").await;
    let body = res.assert_error(404, "route_not_found");
    insta::assert_json_snapshot!("route_not_found", body);
    // Also under an existing prefix and for other methods.
    app.get("/v1/catalog/a/b").await.assert_error(404, "route_not_found");
    app.request(Method::PATCH, "/nothing/here")
        .await
        .assert_error(404, "route_not_found");
}

#[tokio::test]
async fn wrong_method_is_json_405_with_allow() {
    let app = TestApp::new();
    let res = app.request(Method::PUT, "/v1/catalog").await;
    let body = res.assert_error(405, "method_not_allowed");
    assert_eq!(body["type"], "invalid_request");
    assert_eq!(
        res.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    insta::assert_json_snapshot!("method_not_allowed", body);
    let res = app.post("/v1/search", None, "{}").await;
    res.assert_error(405, "method_not_allowed");
    let allow = res
        .headers
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(allow.contains("GET"), "{allow}");
    app.request(Method::POST, "/v1/catalog/x")
        .await
        .assert_error(405, "method_not_allowed");
    app.request(Method::DELETE, "/health/live")
        .await
        .assert_error(405, "method_not_allowed");
    app.request(Method::POST, "/metrics")
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn body_over_the_limit_is_json_413() {
    let app = TestApp::with(|c| c.max_body_bytes = 1024);
    let big = format!("[{}]", vec!["{}"; 1000].join(","));
    let res = app.post("/v1/catalog", Some("application/json"), big.clone()).await;
    let body = res.assert_error(413, "payload_too_large");
    insta::assert_json_snapshot!("payload_too_large", body);

    // A declared Content-Length over the limit is refused before reading.
    let req = Request::post("/v1/catalog")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .expect("request");
    app.send(req).await.assert_error(413, "payload_too_large");
    // Other routes do not read bodies but the limit still holds where one is read.
    let ndjson = "{}\n".repeat(600);
    app.post("/v1/catalog", Some("application/x-ndjson"), ndjson)
        .await
        .assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn every_error_carries_the_request_id() {
    let app = TestApp::new();
    let req = Request::get("/v1/nope")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .expect("request");
    let res = app.send(req).await;
    res.assert_error(404, "route_not_found");
    assert_eq!(
        res.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );
    let res = app.get("/health/live").await;
    let id = res
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(id.len() >= 16, "generated request id `{id}`");
}
