//! Bounds on what a request may be: the length of its records' fields, and its ids (not
//! blank).

use crate::common::TestApp;
use axum::http::Method;

#[tokio::test]
async fn blank_ids_are_invalid_in_paths() {
    let app = TestApp::new();
    for uri in [
        "/v1/catalog/%20%20",
        "/v1/users/%20/profile",
        "/v1/users/%20/history",
        "/v1/users/%20%20/recommendations",
        "/v1/items/%20/similar",
    ] {
        let res = app.get(uri).await;
        let body = res.assert_error(400, "invalid_id");
        assert!(
            body["message"].as_str().unwrap_or("").contains("whitespace"),
            "{uri}: {body}"
        );
    }
    app.request(Method::DELETE, "/v1/catalog/%20")
        .await
        .assert_error(400, "invalid_id");
}

mod needs_engine {
    use crate::common::TestApp;
    use serde_json::json;

    #[tokio::test]
    async fn over_long_fields_and_blank_ids_reject_their_record_only() {
        let app = TestApp::new();
        let records = json!([
            {"id": "ok", "type": "track", "name": "Fine", "tags": ["pop"]},
            {"id": "big-tag", "type": "track", "name": "Big", "tags": ["x".repeat(10 * 1024 * 1024)]},
            {"id": "many", "type": "track", "name": "Many", "tags": vec!["t"; 51]},
            {"id": "long", "type": "show", "name": "Long", "description": "d".repeat(10 * 1024 + 1)},
            {"id": "ep", "type": "episode", "name": "Ep", "transcript": "w ".repeat(1024 * 1024 + 1)},
            {"id": "extra", "type": "track", "name": "Extra", "extra": {"k": "e".repeat(16 * 1024)}},
            {"id": "  ", "type": "track", "name": "Blank"},
        ]);
        let res = app.post_json(&records).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let report = res.json();
        assert_eq!(report["accepted"], 1, "{report}");
        let rejected: Vec<(u64, &str, &str)> = report["rejected"]
            .as_array()
            .expect("rejected")
            .iter()
            .map(|r| {
                (
                    r["index"].as_u64().unwrap_or(99),
                    r["code"].as_str().unwrap_or(""),
                    r["message"].as_str().unwrap_or(""),
                )
            })
            .collect();
        let expected = [
            (1, "invalid_field", "field `tags[0]` is longer than 200 characters"),
            (2, "invalid_field", "field `tags` has more than 50 entries"),
            (3, "invalid_field", "field `description` is longer than 10240 bytes"),
            (4, "invalid_field", "field `transcript` is longer than 2097152 bytes"),
            (5, "invalid_field", "field `extra` is longer than 16384 bytes"),
            (6, "invalid_id", "field `id` must not be only whitespace"),
        ];
        assert_eq!(rejected.len(), expected.len(), "{report}");
        for ((index, code, message), (want_index, want_code, want)) in rejected.into_iter().zip(expected) {
            assert_eq!((index, code), (want_index, want_code), "{message}");
            assert!(message.starts_with(want), "{message}");
        }
        // The 10 MB tag is not stored, so no search can return it.
        app.get("/v1/catalog/big-tag")
            .await
            .assert_error(404, "entity_not_found");
    }
}
