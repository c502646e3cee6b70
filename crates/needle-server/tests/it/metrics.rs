//! `GET /metrics`.

use crate::common::TestApp;
use axum::http::header;

fn lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(name)).collect()
}

#[tokio::test]
async fn request_metrics_use_the_route_template() {
    let app = TestApp::new();
    let long = "y".repeat(300);
    app.get(&format!("/v1/catalog/{long}"))
        .await
        .assert_error(400, "invalid_id");
    app.get("/v1/catalog/a%01").await.assert_error(400, "invalid_id");
    app.get("/v1/search?limit=abc")
        .await
        .assert_error(400, "invalid_parameter");
    app.get("/definitely/not/here")
        .await
        .assert_error(404, "route_not_found");
    app.get("/health/live").await;

    let res = app.get("/metrics").await;
    assert_eq!(res.status, 200);
    let ct = res
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/plain"), "{ct}");
    let text = res.text();

    let hist = lines(&text, "needle_http_request_duration_seconds_bucket");
    let catalog: Vec<&&str> = hist
        .iter()
        .filter(|l| {
            l.contains("route=\"/v1/catalog/{id}\"") && l.contains("method=\"GET\"") && l.contains("status=\"400\"")
        })
        .collect();
    assert!(!catalog.is_empty(), "no histogram for the route template:\n{text}");
    assert!(
        catalog.iter().any(|l| l.contains("le=\"+Inf\"") && l.ends_with(" 2")),
        "{catalog:?}"
    );
    assert!(
        !text.contains(&long) && !text.contains("a%01"),
        "raw paths leaked into labels"
    );
    assert!(
        !text.contains("/definitely/not/here"),
        "unmatched path leaked into labels"
    );
    assert!(
        lines(&text, "needle_http_requests_total")
            .iter()
            .any(|l| l.contains("route=\"unmatched\"") && l.contains("status=\"404\"")),
        "{text}"
    );
    assert!(text.contains("route=\"/v1/search\""), "{text}");
    assert!(text.contains("route=\"/health/live\""), "{text}");
    assert!(
        text.contains("# TYPE needle_http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        lines(&text, "needle_http_request_duration_seconds_sum").len() >= 4,
        "{text}"
    );
}

#[tokio::test]
async fn routers_have_separate_registries() {
    let a = TestApp::new();
    let b = TestApp::new();
    for _ in 0..3 {
        a.get("/health/live").await;
    }
    let text_a = a.get("/metrics").await.text();
    let text_b = b.get("/metrics").await.text();
    let live = |t: &str| {
        lines(t, "needle_http_requests_total")
            .iter()
            .find(|l| l.contains("route=\"/health/live\""))
            .map(|l| l.to_string())
    };
    assert!(live(&text_a).is_some_and(|l| l.ends_with(" 3")), "{text_a}");
    assert_eq!(live(&text_b), None, "{text_b}");
}

mod needs_engine {
    use crate::common::{sample_catalog, TestApp};

    #[tokio::test]
    async fn catalog_gauges_follow_stats() {
        let app = TestApp::new();
        app.post_json(&sample_catalog()).await;
        app.refresh().await;
        let text = app.get("/metrics").await.text();
        assert!(text.contains("needle_catalog_entities{type=\"track\"} 3"), "{text}");
        assert!(text.contains("needle_catalog_entities{type=\"artist\"} 2"), "{text}");
        assert!(text.contains("needle_catalog_entities{type=\"chapter\"} 0"), "{text}");
        assert!(text.contains("needle_engine_up 1"), "{text}");
    }
}
