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

    #[tokio::test]
    async fn not_ready_while_the_saved_model_loads_and_recommendations_say_so() {
        let app = TestApp::new();
        // What a restart with a saved model does before its loader thread ends.
        app.engine.recs().mark_loading();
        let res = app.get("/health/ready").await;
        assert_eq!(res.status, 503, "{}", res.text());
        assert_eq!(res.json(), json!({"status": "loading"}));
        let rec = app.get("/v1/users/u1/recommendations?surface=for_you").await;
        let body = rec.assert_error(503, "model_loading");
        assert!(body["message"].as_str().unwrap().contains("loading"), "{body}");
        assert_eq!(rec.headers.get("retry-after").map(|v| v.to_str().unwrap()), Some("5"));
        app.get("/v1/items/x/similar").await.assert_error(503, "model_loading");
        // The load ends (here: nothing to load): ready, and the 503 says to train.
        app.engine.recs().load_current_in_background();
        assert_eq!(app.get("/health/ready").await.status, 200);
        let rec = app.get("/v1/users/u1/recommendations?surface=for_you").await;
        rec.assert_error(503, "model_not_ready");
        assert!(rec.headers.get("retry-after").is_none());
    }

    #[tokio::test]
    async fn not_ready_while_the_semantic_index_loads_and_forced_modes_say_so() {
        let app = TestApp::with_semantic(|_| {});
        let sem = app.engine.semantic().expect("semantic search is on").clone();
        assert!(app.engine.wait_semantic_idle(std::time::Duration::from_secs(60)));
        let records = json!([{"id": "sh:rome", "type": "show", "name": "The History of Rome",
            "description": "the ancient roman empire from romulus to the fall of the west"}]);
        assert_eq!(app.post_json(&records).await.status, 200);
        app.refresh().await;
        assert!(app.engine.wait_semantic_idle(std::time::Duration::from_secs(60)));
        // What a start does until the worker has read the vectors and their graph.
        sem.mark_loading();
        let res = app.get("/health/ready").await;
        assert_eq!(res.status, 503, "{}", res.text());
        assert_eq!(res.json(), json!({"status": "loading"}));
        for mode in ["hybrid", "semantic"] {
            let res = app.get(&format!("/v1/search?q=ancient+roman+empire&mode={mode}")).await;
            let err = res.assert_error(503, "semantic_loading");
            assert!(err["message"].as_str().unwrap().contains("mode=auto"), "{err}");
            assert_eq!(res.headers.get("retry-after").map(|v| v.to_str().unwrap()), Some("5"));
        }
        // `auto` is keyword search meanwhile: it still answers.
        let auto = app.get("/v1/search?q=history+of+rome&mode=auto").await;
        assert_eq!(auto.status, 200, "{}", auto.text());
        sem.load();
        assert_eq!(app.get("/health/ready").await.status, 200);
        let res = app.get("/v1/search?q=ancient+roman+empire&mode=semantic").await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.json()["hits"][0]["id"], "sh:rome", "{}", res.text());
    }

    #[tokio::test]
    async fn readiness_can_leave_the_semantic_index_out() {
        let app = TestApp::with_semantic(|c| c.semantic.ready_waits_for_index = false);
        let sem = app.engine.semantic().expect("semantic search is on").clone();
        assert!(app.engine.wait_semantic_idle(std::time::Duration::from_secs(60)));
        sem.mark_loading();
        assert_eq!(app.get("/health/ready").await.status, 200);
        app.get("/v1/search?q=roman&mode=hybrid")
            .await
            .assert_error(503, "semantic_loading");
        sem.load();
    }

    #[tokio::test]
    async fn readiness_can_leave_the_model_out() {
        let app = TestApp::with(|c| c.recs.ready_waits_for_model = false);
        app.engine.recs().mark_loading();
        assert_eq!(app.get("/health/ready").await.status, 200);
        app.get("/v1/users/u1/recommendations?surface=for_you")
            .await
            .assert_error(503, "model_loading");
    }
}
