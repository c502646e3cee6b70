//! `/health/live` and `/health/ready`.

use crate::common::TestApp;
use serde_json::json;

#[tokio::test]
async fn live_is_always_ok() {
    let app = TestApp::new();
    let res = app.get("/health/live").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"status": "ok"}));
    // HEAD works on GET routes.
    assert_eq!(app.request(axum::http::Method::HEAD, "/health/live").await.status, 200);
}

#[tokio::test]
async fn health_rejects_other_methods() {
    let app = TestApp::new();
    app.post("/health/ready", None, "")
        .await
        .assert_error(405, "method_not_allowed");
}

mod needs_engine {
    use crate::common::TestApp;
    use serde_json::json;

    #[tokio::test]
    async fn ready_when_the_engine_answers() {
        let app = TestApp::new();
        let res = app.get("/health/ready").await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.json(), json!({"status": "ok"}));
    }
}
