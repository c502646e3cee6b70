//! `GET /v1/search`.

use crate::common::TestApp;

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let app = TestApp::new();
    let res = app.get("/v1/search?q=hello&limit=abc").await;
    let body = res.assert_error(400, "invalid_parameter");
    insta::assert_json_snapshot!("invalid_parameter_limit", body);

    let cases = [
        ("limit=0", "`limit`"),
        ("limit=101", "`limit`"),
        ("limit=-3", "`limit`"),
        ("offset=abc", "`offset`"),
        ("offset=991", "`offset`"),
        ("offset=500&limit=600", "`limit`"),
        ("types=track,song", "`types`"),
        ("market=USA", "`market`"),
        ("market=1x", "`market`"),
        ("q=a&q=b", "`q`"),
        ("qq=a", "`qq`"),
        ("user_id=%00", "`user_id`"),
        ("user_id=a%01b", "`user_id`"),
        ("offset=18446744073709551615", "`offset`"),
        ("limit=5&limit=5", "`limit`"),
        ("q=a&Q=b", "`Q`"),
        ("market=se&market=", "`market`"),
        ("mode=fuzzy", "`mode`"),
        ("semantic_ratio=2", "`semantic_ratio`"),
        ("semantic_ratio=NaN", "`semantic_ratio`"),
        ("semantic_ratio=half", "`semantic_ratio`"),
    ];
    for (query, needle) in cases {
        let res = app.get(&format!("/v1/search?{query}")).await;
        let body = res.assert_error(400, "invalid_parameter");
        let message = body["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{query}: {message}");
    }
}

#[tokio::test]
async fn semantic_modes_without_a_model_are_400_and_auto_is_keyword_search() {
    let app = TestApp::new();
    let body = app
        .get("/v1/search?q=roman+empire&mode=hybrid")
        .await
        .assert_error(400, "semantic_unavailable");
    let message = body["message"].as_str().unwrap_or("");
    assert!(message.contains("needle model fetch"), "{message}");
    app.get("/v1/search?q=roman+empire&mode=semantic")
        .await
        .assert_error(400, "semantic_unavailable");
    for mode in ["auto", "keyword"] {
        let res = app
            .get(&format!("/v1/search?q=roman+empire&mode={mode}&semantic_ratio=0.3"))
            .await;
        assert_eq!(res.status, 200, "{mode}: {}", res.text());
    }
    let stats = app.get("/v1/stats").await;
    assert_eq!(stats.status, 200);
    assert_eq!(stats.json()["semantic"]["enabled"], false);
    assert!(stats.json()["semantic"]["reason"]
        .as_str()
        .unwrap_or("")
        .contains("needle model fetch"));
}

#[tokio::test]
async fn unknown_type_lists_the_valid_ones() {
    let app = TestApp::new();
    let body = app
        .get("/v1/search?q=x&types=song")
        .await
        .assert_error(400, "invalid_parameter");
    insta::assert_json_snapshot!("invalid_parameter_types", body);
}

#[tokio::test]
async fn long_query_is_400_query_too_long() {
    let app = TestApp::new();
    let q = "a".repeat(513);
    let body = app
        .get(&format!("/v1/search?q={q}"))
        .await
        .assert_error(400, "query_too_long");
    insta::assert_json_snapshot!("query_too_long", body);
    // Multi-byte characters count in bytes: 171 × 3 bytes = 513.
    let q = "%E2%82%AC".repeat(171);
    app.get(&format!("/v1/search?q={q}"))
        .await
        .assert_error(400, "query_too_long");
}

mod needs_engine {
    use crate::common::{sample_catalog, TestApp};

    async fn loaded() -> TestApp {
        let app = TestApp::new();
        let res = app.post_json(&sample_catalog()).await;
        assert_eq!(res.status, 200, "{}", res.text());
        app.refresh().await;
        app
    }

    fn ids(v: &serde_json::Value) -> Vec<String> {
        v["hits"]
            .as_array()
            .map(|h| h.iter().filter_map(|h| h["id"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn search_finds_what_was_posted() {
        let app = loaded().await;
        let res = app.get("/v1/search?q=hello").await;
        assert_eq!(res.status, 200, "{}", res.text());
        let body = res.json();
        assert_eq!(ids(&body).first().map(String::as_str), Some("t1"), "{body}");
        assert_eq!(body["top_result"]["id"], "t1");
        assert!(body["total"].as_u64().unwrap_or(0) >= 1);
        assert!(body["took_ms"].is_number());
    }

    #[tokio::test]
    async fn prefix_of_the_last_word_matches() {
        let app = loaded().await;
        let body = app.get("/v1/search?q=karma%20pol").await.json();
        assert_eq!(ids(&body).first().map(String::as_str), Some("t2"), "{body}");
    }

    #[tokio::test]
    async fn types_and_limit_are_applied() {
        let app = loaded().await;
        let body = app.get("/v1/search?q=radiohead&types=artist").await.json();
        assert_eq!(ids(&body), ["ar2"], "{body}");
        let body = app
            .get("/v1/search?q=radiohead&types=track,episode&limit=1")
            .await
            .json();
        assert_eq!(ids(&body).len(), 1, "{body}");
        let t = body["hits"][0]["type"].as_str().unwrap_or("");
        assert!(t == "track" || t == "episode", "{body}");
    }

    #[tokio::test]
    async fn deleted_entities_disappear() {
        let app = loaded().await;
        assert_eq!(app.delete("/v1/catalog/t1").await.status, 200);
        app.refresh().await;
        let body = app.get("/v1/search?q=hello").await.json();
        assert!(!ids(&body).contains(&"t1".to_string()), "{body}");
    }

    #[tokio::test]
    async fn bad_filter_is_400_invalid_filter() {
        let app = loaded().await;
        app.get("/v1/search?q=a&filter=colour%3Ared")
            .await
            .assert_error(400, "invalid_filter");
    }

    #[tokio::test]
    async fn filters_combine_with_or_not_and_parentheses() {
        let app = TestApp::new();
        let records = serde_json::json!([
            {"id": "f:rock", "type": "track", "name": "Filtered rock", "tags": ["rock"]},
            {"id": "f:pop", "type": "track", "name": "Filtered pop", "tags": ["pop"]},
            {"id": "f:jazz", "type": "track", "name": "Filtered jazz", "tags": ["jazz", "pop"]},
        ]);
        assert_eq!(app.post_json(&records).await.status, 200);
        app.refresh().await;
        let found = |filter: &str| {
            let uri = format!("/v1/search?q=filtered&filter={}", urlencode(filter));
            let app = &app;
            async move {
                let mut got = ids(&app.get(&uri).await.json());
                got.sort();
                got
            }
        };
        assert_eq!(found("tag:rock OR tag:pop").await, ["f:jazz", "f:pop", "f:rock"]);
        assert_eq!(found("tag:pop AND NOT tag:jazz").await, ["f:pop"]);
        assert_eq!(found("(tag:rock OR tag:jazz) AND NOT tag:pop").await, ["f:rock"]);
        assert_eq!(found("not tag:pop").await, ["f:rock"]);
        assert_eq!(found("tag:pop, tag:jazz").await, ["f:jazz"]);
        // What the grammar does not accept is a 400 naming where, never 0 hits.
        for (bad, at) in [
            ("tag:rock tag:pop", "position 10"),
            ("tag:rock OR", "position 12"),
            ("(tag:rock", "position 1"),
        ] {
            let body = app
                .get(&format!("/v1/search?q=filtered&filter={}", urlencode(bad)))
                .await
                .assert_error(400, "invalid_filter");
            assert!(body["message"].as_str().unwrap_or("").contains(at), "{bad}: {body}");
        }
    }

    fn urlencode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn response_shape() {
        let app = loaded().await;
        let body = app.get("/v1/search?q=creep&limit=2").await.json();
        assert_eq!(body["search_id"].as_str().map(str::len), Some(32), "{body}");
        insta::assert_json_snapshot!("search_creep", body, {
            ".search_id" => "[search_id]",
            ".took_ms" => "[took_ms]",
            ".**.score" => "[score]",
        });
    }

    #[tokio::test]
    async fn an_empty_query_browses_by_popularity() {
        let app = loaded().await;
        let body = app.get("/v1/search").await.json();
        assert_eq!(
            ids(&body),
            ["ar1", "t1", "ar2", "t3", "t2", "al1", "e1", "s1"],
            "{body}"
        );
        assert_eq!(body["total"], 8);
        assert!(
            body["top_result"].is_null() && body["sections"] == serde_json::json!([]),
            "{body}"
        );
        assert!(body.get("facets").is_none(), "{body}");
        let body = app
            .get("/v1/search?q=&types=track,album&sort=release_date&limit=3")
            .await
            .json();
        assert_eq!(ids(&body), ["al1", "t2", "t1"], "{body}");
        assert_eq!(body["total"], 4);
        let body = app.get("/v1/search?q=radiohead&sort=name:desc").await.json();
        assert_eq!(ids(&body), ["e1", "ar2", "t2", "t3"], "{body}");
    }

    #[tokio::test]
    async fn facets_response_shape() {
        let app = loaded().await;
        let body = app
            .get("/v1/search?facets=type,tags,release_year,language&limit=2&filter=NOT%20type%3Aepisode")
            .await
            .json();
        insta::assert_json_snapshot!("browse_facets", body, {
            ".search_id" => "[search_id]",
            ".took_ms" => "[took_ms]",
        });
        let body = app
            .get("/v1/search?q=radiohead&facets=type&max_facet_values=1")
            .await
            .json();
        assert_eq!(body["facets"], serde_json::json!({"type": {"track": 2}}), "{body}");
    }

    #[tokio::test]
    async fn unknown_sort_or_facet_is_400_naming_it() {
        let app = loaded().await;
        let body = app
            .get("/v1/search?sort=colour")
            .await
            .assert_error(400, "invalid_parameter");
        insta::assert_json_snapshot!("invalid_parameter_sort", body);
        for (query, needle) in [
            ("facets=type,mood", "`mood`"),
            ("facets=type&max_facet_values=101", "`max_facet_values`"),
            ("sort=name:up", "`sort`"),
            ("sort=relevance:asc", "`sort`"),
        ] {
            let body = app
                .get(&format!("/v1/search?{query}"))
                .await
                .assert_error(400, "invalid_parameter");
            let message = body["message"].as_str().unwrap_or("");
            assert!(message.contains(needle), "{query}: {message}");
        }
    }
}
