//! A replica whose Redis Cluster (`cluster.redis`) does not answer: sessions answer
//! `503 shared_state_unavailable` with `Retry-After`, rate limits fall back to this
//! replica's own buckets, job status to its own jobs. (The shared state on a real cluster
//! is tested in needle-service's `shared` tests.)

use crate::common::TestApp;
use axum::http::header::RETRY_AFTER;
use serde_json::json;

/// A Redis URL on which nothing listens (connections are refused at once).
fn dead_redis() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("redis://127.0.0.1:{}", l.local_addr().unwrap().port())
}

#[tokio::test]
async fn an_unreachable_redis_fails_sessions_clearly_and_limits_locally() {
    let app = TestApp::with(|c| {
        c.cluster.redis = dead_redis();
        c.rate_limit.requests_per_s = 0.001;
        c.rate_limit.burst = 2;
    });
    let res = app
        .post("/v1/users/u1/sessions", Some("application/json"), json!({}).to_string())
        .await;
    let body = res.assert_error(503, "shared_state_unavailable");
    assert_eq!(body["type"], "system");
    assert_eq!(res.headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    // Job status: this replica's own jobs (none).
    app.get("/v1/admin/jobs/train-1")
        .await
        .assert_error(404, "job_not_found");
    // Two requests took the local bucket's burst of 2.
    let res = app.get("/v1/admin/jobs").await;
    assert_eq!(res.status, 429, "the local bucket is empty: {}", res.text());
    res.assert_error(429, "rate_limited");
}

#[tokio::test]
async fn job_status_falls_back_to_this_replicas_jobs() {
    let app = TestApp::with(|c| c.cluster.redis = dead_redis());
    let res = app.get("/v1/admin/jobs").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json(), json!({"jobs": []}));
    app.get("/v1/admin/jobs/train-1")
        .await
        .assert_error(404, "job_not_found");
}
