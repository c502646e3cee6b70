//! `GET /openapi.json`.

use crate::common::TestApp;
use axum::http::header;

#[tokio::test]
async fn openapi_lists_every_route() {
    let app = TestApp::new();
    let res = app.get("/openapi.json").await;
    assert_eq!(res.status, 200);
    let ct = res
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("application/json"), "{ct}");
    let doc = res.json();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Needle API");

    let expected = [
        ("/v1/catalog", "post"),
        ("/v1/catalog/{id}", "get"),
        ("/v1/catalog/{id}", "delete"),
        ("/v1/stats", "get"),
        ("/v1/search", "get"),
        ("/v1/events", "post"),
        ("/v1/users/{id}", "delete"),
        ("/v1/users/{id}/profile", "get"),
        ("/v1/users/{id}/history", "get"),
        ("/v1/admin/tokens", "post"),
        ("/v1/users/{id}/tokens/revoke", "post"),
        ("/v1/users/{id}/recommendations", "get"),
        ("/v1/items/{id}/similar", "get"),
        ("/v1/recommendations/continue", "post"),
        ("/v1/sessions/{sid}/next", "get"),
        ("/v1/admin/jobs", "get"),
        ("/v1/admin/jobs/{id}", "get"),
        ("/v1/admin/model", "get"),
        ("/v1/admin/recommendations/quality", "get"),
        ("/v1/admin/cluster", "get"),
        ("/v1/admin/snapshots", "get"),
        ("/v1/analytics/searches", "get"),
        ("/v1/analytics/items/{id}", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/v1/suggest", "get"),
        ("/v1/settings/synonyms", "get"),
        ("/v1/settings/synonyms", "put"),
        ("/v1/settings/rules", "get"),
        ("/v1/settings/rules", "put"),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in expected {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["responses"]["200"].is_object(),
            "{method} {path} has no 200 response"
        );
    }
    assert_eq!(
        paths.len(),
        31,
        "unexpected paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );

    let params: Vec<&str> = doc["paths"]["/v1/search"]["get"]["parameters"]
        .as_array()
        .expect("search parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        params,
        [
            "q",
            "types",
            "limit",
            "offset",
            "filter",
            "market",
            "user_id",
            "sort",
            "facets",
            "max_facet_values",
            "explain",
            "mode",
            "semantic_ratio"
        ]
    );
    let facets = &doc["components"]["schemas"]["SearchResponse"]["properties"]["facets"];
    assert!(facets.is_object(), "{facets}");

    let post = &doc["paths"]["/v1/catalog"]["post"]["requestBody"]["content"];
    assert!(
        post["application/json"].is_object() && post["application/x-ndjson"].is_object(),
        "{post}"
    );

    let post = &doc["paths"]["/v1/events"]["post"]["requestBody"]["content"];
    assert!(
        post["application/json"].is_object() && post["application/x-ndjson"].is_object(),
        "{post}"
    );
    let params: Vec<&str> = doc["paths"]["/v1/users/{id}/profile"]["get"]["parameters"]
        .as_array()
        .expect("profile parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["id", "top"]);
    let params: Vec<&str> = doc["paths"]["/v1/users/{id}/history"]["get"]["parameters"]
        .as_array()
        .expect("history parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["id", "limit"]);
    assert!(doc["paths"]["/v1/users/{id}/profile"]["get"]["responses"]["404"].is_object());
    assert!(doc["paths"]["/v1/admin/train"]["post"]["responses"]["202"].is_object());
    assert!(doc["paths"]["/v1/users/{id}/sessions"]["post"]["responses"]["201"].is_object());

    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Entity",
        "ErrorBody",
        "ErrorType",
        "WriteReport",
        "Rejection",
        "SearchResponse",
        "Hit",
        "CatalogStats",
        "EntityType",
        "Event",
        "EventType",
        "EventReport",
        "ProfileView",
        "TopAffinity",
        "RecentEvent",
        "HistoryResponse",
        "UserDeleted",
        "Personalization",
        "Explain",
        "SearchEvent",
        "SearchesReport",
        "ItemReport",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    let error_props: Vec<&String> = schemas["ErrorBody"]["properties"]
        .as_object()
        .expect("props")
        .keys()
        .collect();
    assert_eq!(error_props.len(), 4);
}

/// Every operation that reads parameters lists the `400` they can cause, and every one
/// that reads a body lists `413` and `415` (schema-driven clients check the statuses).
#[tokio::test]
async fn operations_list_the_client_errors_their_inputs_can_cause() {
    let app = TestApp::new();
    let doc = app.get("/openapi.json").await.json();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let responses = &op["responses"];
            let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            let has_body = op["requestBody"].is_object() || (method == "post" && path != "/v1/admin/snapshots");
            if (has_params || has_body) && !responses["400"].is_object() && path != "/v1/admin/train" {
                missing.push(format!("{method} {path}: 400"));
            }
            if has_body {
                for status in ["413", "415"] {
                    if !responses[status].is_object() {
                        missing.push(format!("{method} {path}: {status}"));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented client errors: {missing:#?}");
    let next = &doc["paths"]["/v1/sessions/{sid}/next"]["get"]["responses"]["400"];
    assert!(
        next["description"]
            .as_str()
            .is_some_and(|d| d.contains("invalid_parameter")),
        "{next}"
    );
}
