//! `POST /v1/events`.

use crate::common::TestApp;

#[tokio::test]
async fn body_errors_are_the_catalog_ones() {
    let app = TestApp::new();
    let body = app
        .post("/v1/events", Some("application/json"), "")
        .await
        .assert_error(400, "empty_batch");
    insta::assert_json_snapshot!("events_empty_batch", body);
    app.post("/v1/events", Some("application/json"), "[]")
        .await
        .assert_error(400, "empty_batch");
    app.post("/v1/events", Some("application/json"), "[{\"user_id\": }]")
        .await
        .assert_error(400, "invalid_json");
    app.post("/v1/events", Some("text/csv"), "user,item\n")
        .await
        .assert_error(415, "unsupported_media_type");
    let small = TestApp::with(|c| c.max_batch_records = 2);
    small
        .post("/v1/events", None, "{}\n{}\n{}\n")
        .await
        .assert_error(413, "batch_too_large");
    app.request(axum::http::Method::GET, "/v1/events")
        .await
        .assert_error(405, "method_not_allowed");
}

mod needs_engine {
    use crate::common::TestApp;
    use serde_json::{json, Value};

    fn codes(report: &Value) -> Vec<(u64, String)> {
        report["rejected"]
            .as_array()
            .expect("rejected")
            .iter()
            .map(|r| {
                (
                    r["index"].as_u64().unwrap_or(999),
                    r["code"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn every_event_type_is_accepted_and_counted() {
        let app = TestApp::new();
        let res = app
            .post_events(&json!([
                {"user_id": "u1", "type": "play", "item_id": "t1", "ts": "2024-05-01T12:00:00Z",
                 "ms_played": 180000, "count": 3},
                {"user_id": "u1", "type": "skip", "item_id": "t2", "ts": 1714564800000i64},
                {"user_id": "u1", "type": "save", "item_id": "t3", "ts": "2024-05-01T14:00:01+02:00"},
                {"user_id": "u1", "type": "unsave", "item_id": "t4", "ts": "2024-05-01T12:00:02.250Z"},
                {"user_id": "u1", "type": "follow", "item_id": "ar1", "ts": 1714564803000i64},
                {"user_id": "u1", "type": "unfollow", "item_id": "ar2", "ts": 1714564804000i64},
                {"user_id": "u1", "type": "search_click", "item_id": "t1", "ts": 1714564805000i64,
                 "context": "helo adel"},
            ]))
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(
            res.json(),
            json!({"accepted": 7, "duplicates": 0, "rejected": [], "seq": 1})
        );
        let profile = app.get("/v1/users/u1/profile").await;
        assert_eq!(profile.status, 200, "{}", profile.text());
        assert_eq!(
            profile.json()["events"],
            json!({"play": 3, "skip": 1, "save": 1, "unsave": 1, "follow": 1, "unfollow": 1, "search_click": 1})
        );
        let history = app.get("/v1/users/u1/history").await.json();
        let kinds: Vec<&str> = history["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(
            kinds,
            ["search_click", "unfollow", "follow", "unsave", "save", "skip", "play"]
        );
        assert_eq!(history["events"][0]["context"], "helo adel");
        assert_eq!(history["events"][6]["ms_played"], 180000);
        assert_eq!(history["events"][6]["count"], 3);
    }

    #[tokio::test]
    async fn each_rejection_names_its_field() {
        let app = TestApp::new();
        let ok = r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1}"#;
        let long = "x".repeat(300);
        let context = "c".repeat(1025);
        // (line, code, field named in the message)
        let cases: Vec<(String, &str, &str)> = vec![
            (
                r#"{"type":"play","item_id":"t1","ts":1}"#.into(),
                "missing_field",
                "user_id",
            ),
            (
                r#"{"user_id":"u1","type":"play","ts":1}"#.into(),
                "missing_field",
                "item_id",
            ),
            (
                r#"{"user_id":"u1","item_id":"t1","ts":1}"#.into(),
                "missing_field",
                "type",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1"}"#.into(),
                "missing_field",
                "ts",
            ),
            (
                r#"{"user_id":"u1","type":"listen","item_id":"t1","ts":1}"#.into(),
                "invalid_field",
                "type",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":"yesterday"}"#.into(),
                "invalid_field",
                "ts",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":-5}"#.into(),
                "invalid_field",
                "ts",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1.5}"#.into(),
                "invalid_field",
                "ts",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":true}"#.into(),
                "invalid_field",
                "ts",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1,"count":0}"#.into(),
                "invalid_field",
                "count",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1,"count":"2"}"#.into(),
                "invalid_field",
                "count",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1,"ms_played":-1}"#.into(),
                "invalid_field",
                "ms_played",
            ),
            (
                format!(r#"{{"user_id":"u1","type":"search_click","item_id":"t1","ts":1,"context":"{context}"}}"#),
                "invalid_field",
                "context",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1,"rating":5}"#.into(),
                "unknown_field",
                "rating",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"","ts":1}"#.into(),
                "invalid_id",
                "item_id",
            ),
            (
                format!(r#"{{"user_id":"{long}","type":"play","item_id":"t1","ts":1}}"#),
                "invalid_id",
                "user_id",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1,"event_id":""}"#.into(),
                "invalid_id",
                "event_id",
            ),
            (
                r#"{"user_id":"u1","type":"play","item_id":"t1","ts":1,"event_id":7}"#.into(),
                "invalid_field",
                "event_id",
            ),
            (
                r#"{"user_id":42,"type":"play","item_id":"t1","ts":1}"#.into(),
                "invalid_field",
                "user_id",
            ),
        ];
        let mut lines = vec![ok.to_string()];
        lines.extend(cases.iter().map(|c| c.0.clone()));
        lines.push("[1, 2]".into());
        lines.push("{not json".into());
        lines.push(ok.to_string());
        let res = app
            .post("/v1/events", Some("application/x-ndjson"), lines.join("\n"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        let report = res.json();
        assert_eq!(report["accepted"], 2, "{report}");
        assert_eq!(report["duplicates"], 0, "{report}");
        let rejected = report["rejected"].as_array().expect("rejected");
        assert_eq!(rejected.len(), cases.len() + 2, "{report}");
        for (i, (line, code, field)) in cases.iter().enumerate() {
            let r = &rejected[i];
            assert_eq!(r["index"], i + 1, "{line}: {r}");
            assert_eq!(r["code"], *code, "{line}: {r}");
            let message = r["message"].as_str().unwrap_or("");
            assert!(message.contains(&format!("`{field}`")), "{line}: {message}");
        }
        let n = cases.len();
        assert_eq!(
            codes(&report)[n..],
            [
                (n as u64 + 1, "invalid_record".to_string()),
                (n as u64 + 2, "invalid_json".to_string())
            ]
        );
        // Rejected events changed nothing.
        let profile = app.get("/v1/users/u1/profile").await.json();
        assert_eq!(profile["events"], json!({"play": 2}), "{profile}");
        insta::assert_json_snapshot!("events_rejections", report);
    }

    #[tokio::test]
    async fn an_event_id_is_counted_once() {
        let app = TestApp::new();
        let batch = json!([
            {"event_id": "e1", "user_id": "u1", "type": "play", "item_id": "t1", "ts": 1000},
            {"event_id": "e2", "user_id": "u1", "type": "play", "item_id": "t1", "ts": 2000},
            {"event_id": "e2", "user_id": "u1", "type": "play", "item_id": "t1", "ts": 2000},
            {"event_id": "e1", "user_id": "u2", "type": "play", "item_id": "t1", "ts": 1000},
            {"user_id": "u1", "type": "play", "item_id": "t1", "ts": 3000},
        ]);
        let res = app.post_events(&batch).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let report = res.json();
        insta::assert_json_snapshot!("events_duplicates", report);
        assert_eq!(
            report,
            json!({"accepted": 4, "duplicates": 1, "rejected": [], "seq": 1})
        );
        // The whole batch again: every event with an id is a duplicate, the one without
        // an id counts again.
        let again = app.post_events(&batch).await.json();
        assert_eq!(again, json!({"accepted": 1, "duplicates": 4, "rejected": [], "seq": 2}));
        let profile = app.get("/v1/users/u1/profile").await.json();
        assert_eq!(profile["events"]["play"], 4, "{profile}");
        let u2 = app.get("/v1/users/u2/profile").await.json();
        assert_eq!(u2["events"]["play"], 1, "{u2}");
        // And over NDJSON too.
        let line = r#"{"event_id":"e1","user_id":"u1","type":"play","item_id":"t1","ts":1000}"#;
        let res = app.post("/v1/events", Some("application/x-ndjson"), line).await;
        assert_eq!(
            res.json(),
            json!({"accepted": 0, "duplicates": 1, "rejected": [], "seq": 3})
        );
    }

    #[tokio::test]
    async fn out_of_order_timestamps_are_fine() {
        let app = TestApp::new();
        let res = app
            .post_events(&json!([
                {"user_id": "u1", "type": "play", "item_id": "late", "ts": "2024-06-01T00:00:00Z"},
                {"user_id": "u1", "type": "play", "item_id": "early", "ts": "2020-01-01T00:00:00Z"},
                {"user_id": "u1", "type": "play", "item_id": "middle", "ts": "2022-01-01T00:00:00Z"},
            ]))
            .await;
        assert_eq!(res.json()["accepted"], 3);
        let history = app.get("/v1/users/u1/history").await.json();
        let items: Vec<&str> = history["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["item_id"].as_str())
            .collect();
        assert_eq!(items, ["late", "middle", "early"]);
    }

    #[tokio::test]
    async fn events_are_counted_in_metrics() {
        let app = TestApp::new();
        app.post_events(&json!([
            {"event_id": "e1", "user_id": "u1", "type": "play", "item_id": "t1", "ts": 1},
            {"event_id": "e1", "user_id": "u1", "type": "play", "item_id": "t1", "ts": 1},
            {"user_id": "u1", "type": "play", "ts": 1},
        ]))
        .await;
        let text = app.get("/metrics").await.text();
        for line in [
            "needle_events_total{outcome=\"accepted\"} 1",
            "needle_events_total{outcome=\"duplicate\"} 1",
            "needle_events_total{outcome=\"rejected\"} 1",
            "needle_listeners 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }
}
