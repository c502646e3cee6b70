//! `POST /v1/catalog`, `GET`/`DELETE /v1/catalog/{id}`, `GET /v1/stats`.

use crate::common::TestApp;
use serde_json::json;

#[tokio::test]
async fn empty_batches_are_400() {
    let app = TestApp::new();
    let res = app.post("/v1/catalog", Some("application/json"), "").await;
    let body = res.assert_error(400, "empty_batch");
    insta::assert_json_snapshot!("empty_batch", body);
    for (ct, raw) in [
        (Some("application/json"), "[]"),
        (None, "  \n\n"),
        (Some("application/x-ndjson"), "\n\r\n"),
    ] {
        app.post("/v1/catalog", ct, raw).await.assert_error(400, "empty_batch");
    }
}

#[tokio::test]
async fn malformed_json_array_is_400_invalid_json() {
    let app = TestApp::new();
    let res = app
        .post("/v1/catalog", Some("application/json"), "[{\"id\": \"a\", }]")
        .await;
    let body = res.assert_error(400, "invalid_json");
    assert!(
        body["message"].as_str().unwrap_or("").contains("line 1, column 14"),
        "{body}"
    );
    insta::assert_json_snapshot!("invalid_json_array", body);
    app.post("/v1/catalog", None, "[1, 2")
        .await
        .assert_error(400, "invalid_json");
    app.post("/v1/catalog", None, "[1] [2]")
        .await
        .assert_error(400, "invalid_json");
}

#[tokio::test]
async fn unsupported_content_type_is_415() {
    let app = TestApp::new();
    let res = app.post("/v1/catalog", Some("text/csv"), "id,name\n1,a\n").await;
    let body = res.assert_error(415, "unsupported_media_type");
    insta::assert_json_snapshot!("unsupported_media_type", body);
    app.post("/v1/catalog", Some("application/x-www-form-urlencoded"), "a=b")
        .await
        .assert_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn batch_over_max_records_is_413() {
    let app = TestApp::with(|c| c.max_batch_records = 2);
    let res = app.post_json(&json!([{}, {}, {}])).await;
    let body = res.assert_error(413, "batch_too_large");
    insta::assert_json_snapshot!("batch_too_large", body);
    app.post("/v1/catalog", Some("application/x-ndjson"), "{}\n{}\n\n{}\n")
        .await
        .assert_error(413, "batch_too_large");
}

#[tokio::test]
async fn ndjson_lines_that_are_not_json_are_rejected_one_by_one() {
    // No line parses, so the engine is not called: this checks the parsing alone.
    let app = TestApp::new();
    let body = "{\"id\": \"a\",\n\n{oops}\r\nnot json at all\n";
    let res = app.post("/v1/catalog", Some("application/x-ndjson"), body).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let report = res.json();
    assert_eq!(report["accepted"], 0);
    let indexes: Vec<u64> = report["rejected"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["index"].as_u64())
        .collect();
    assert_eq!(indexes, [0, 2, 3]);
    insta::assert_json_snapshot!("ndjson_all_lines_invalid", report);
}

#[tokio::test]
async fn bad_ids_are_400_invalid_id() {
    let app = TestApp::new();
    let long = "x".repeat(300);
    let res = app.get(&format!("/v1/catalog/{long}")).await;
    let body = res.assert_error(400, "invalid_id");
    insta::assert_json_snapshot!("invalid_id_too_long", body);
    app.delete(&format!("/v1/catalog/{long}"))
        .await
        .assert_error(400, "invalid_id");
    let body = app.get("/v1/catalog/a%01b").await.assert_error(400, "invalid_id");
    assert!(body["message"].as_str().unwrap_or("").contains("`id`"), "{body}");
    app.delete("/v1/catalog/a%0Ab").await.assert_error(400, "invalid_id");
    // Not UTF-8 once percent-decoded.
    app.get("/v1/catalog/%FF%FE")
        .await
        .assert_error(400, "invalid_parameter");
}

mod needs_engine {
    use crate::common::{sample_catalog, TestApp};
    use serde_json::json;

    #[tokio::test]
    async fn write_then_read_back() {
        let app = TestApp::new();
        let res = app.post_json(&sample_catalog()).await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.json(), json!({"accepted": 8, "rejected": [], "seq": 1}));

        let res = app.get("/v1/catalog/t1").await;
        assert_eq!(res.status, 200, "{}", res.text());
        let e = res.json();
        assert_eq!(e["id"], "t1");
        assert_eq!(e["type"], "track");
        assert_eq!(e["name"], "Hello");
        assert_eq!(e["artist_ids"], json!(["ar1"]));
        assert_eq!(e["duration_ms"], 295000);

        app.get("/v1/catalog/nope").await.assert_error(404, "entity_not_found");
    }

    #[tokio::test]
    async fn ndjson_mixed_batch_maps_rejections_to_lines() {
        let app = TestApp::new();
        let body = [
            r#"{"id":"a1","type":"artist","name":"Adele"}"#,
            r#"{"id":"a2","type":"artist","name":"#,
            r#"{"id":"a3","type":"artist"}"#,
            "",
            r#"{"id":"a4","type":"artist","name":"Björk"}"#,
            r#"{"id":"t9","type":"track","name":"x","show_id":"s1"}"#,
        ]
        .join("\n");
        let res = app.post("/v1/catalog", Some("application/x-ndjson"), body).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let report = res.json();
        assert_eq!(report["accepted"], 2, "{report}");
        let got: Vec<(u64, String)> = report["rejected"]
            .as_array()
            .expect("array")
            .iter()
            .map(|r| {
                (
                    r["index"].as_u64().unwrap_or(999),
                    r["code"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "invalid_json".to_string()),
                (2, "missing_field".to_string()),
                (5, "field_not_allowed".to_string())
            ]
        );
        assert!(
            report["rejected"][0]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("line 2"),
            "{report}"
        );
        assert_eq!(app.get("/v1/catalog/a4").await.json()["name"], "Björk");
    }

    #[tokio::test]
    async fn json_array_rejections_keep_positions() {
        let app = TestApp::new();
        let res = app
            .post_json(&json!([
                {"id": "a1", "type": "artist", "name": "A"},
                42,
                {"id": "a2", "type": "artist", "name": "B", "popularity": -1}
            ]))
            .await;
        let report = res.json();
        assert_eq!(report["accepted"], 1, "{report}");
        assert_eq!(report["rejected"][0]["index"], 1);
        assert_eq!(report["rejected"][0]["code"], "invalid_record");
        assert_eq!(report["rejected"][1]["index"], 2);
        assert_eq!(report["rejected"][1]["code"], "invalid_field");
    }

    #[tokio::test]
    async fn delete_then_404() {
        let app = TestApp::new();
        app.post_json(&sample_catalog()).await;
        let res = app.delete("/v1/catalog/t2").await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.json(), json!({"deleted": true, "id": "t2"}));
        app.get("/v1/catalog/t2").await.assert_error(404, "entity_not_found");
        app.delete("/v1/catalog/t2").await.assert_error(404, "entity_not_found");
    }

    /// An alias id answers with the canonical entity (its `id` says which); deleting goes
    /// by the canonical id only; a re-upsert without the alias drops it.
    #[tokio::test]
    async fn get_by_alias_id() {
        let app = TestApp::new();
        let res = app
            .post_json(&json!([
                {"id": "lfm:artist:295", "type": "artist", "name": "Beyoncé",
                 "aliases": ["Beyonce"], "alias_ids": ["bb:artist:beyonce", "bb:artist:beyonce-knowles"]},
                {"id": "bb:track:1", "type": "track", "name": "Halo", "artist_ids": ["lfm:artist:295"]}
            ]))
            .await;
        assert_eq!(res.json()["accepted"], 2, "{}", res.text());
        for asked in ["lfm:artist:295", "bb:artist:beyonce", "bb:artist:beyonce-knowles"] {
            let res = app.get(&format!("/v1/catalog/{asked}")).await;
            assert_eq!(res.status, 200, "{asked}: {}", res.text());
            let e = res.json();
            assert_eq!(e["id"], "lfm:artist:295", "{asked}");
            assert_eq!(
                e["alias_ids"],
                json!(["bb:artist:beyonce", "bb:artist:beyonce-knowles"])
            );
        }
        app.delete("/v1/catalog/bb:artist:beyonce")
            .await
            .assert_error(404, "entity_not_found");
        app.post_json(&json!([{"id": "lfm:artist:295", "type": "artist", "name": "Beyoncé",
            "alias_ids": ["bb:artist:beyonce"]}]))
            .await;
        assert_eq!(
            app.get("/v1/catalog/bb:artist:beyonce").await.json()["id"],
            "lfm:artist:295"
        );
        app.get("/v1/catalog/bb:artist:beyonce-knowles")
            .await
            .assert_error(404, "entity_not_found");
        let res = app
            .post_json(&json!([{"id": "x", "type": "artist", "name": "X", "alias_ids": ["x"]}]))
            .await;
        assert_eq!(res.json()["rejected"][0]["code"], "invalid_field", "{}", res.text());
    }

    #[tokio::test]
    async fn delete_records_in_a_batch() {
        let app = TestApp::new();
        app.post_json(&sample_catalog()).await;
        let res = app
            .post("/v1/catalog", None, "{\"id\":\"t3\",\"deleted\":true}\n")
            .await;
        assert_eq!(res.json()["accepted"], 1, "{}", res.text());
        app.get("/v1/catalog/t3").await.assert_error(404, "entity_not_found");
    }

    #[tokio::test]
    async fn stats_count_by_type() {
        let app = TestApp::new();
        app.post_json(&sample_catalog()).await;
        app.refresh().await;
        let res = app.get("/v1/stats").await;
        assert_eq!(res.status, 200, "{}", res.text());
        let stats = res.json();
        assert_eq!(stats["entities"], 8, "{stats}");
        assert_eq!(stats["by_type"]["track"], 3, "{stats}");
        assert_eq!(stats["by_type"]["artist"], 2, "{stats}");
        assert_eq!(stats["searchable"], 8, "{stats}");
    }
}
