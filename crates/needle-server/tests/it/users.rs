//! `GET /v1/users/{id}/profile`, `GET /v1/users/{id}/history`, `DELETE /v1/users/{id}`,
//! and personalized `GET /v1/search?user_id=`.

use crate::common::TestApp;

#[tokio::test]
async fn bad_listener_ids_are_400_invalid_id() {
    let app = TestApp::new();
    let long = "u".repeat(300);
    let body = app
        .get(&format!("/v1/users/{long}/profile"))
        .await
        .assert_error(400, "invalid_id");
    assert!(body["message"].as_str().unwrap_or("").contains("`user_id`"), "{body}");
    insta::assert_json_snapshot!("user_invalid_id", body);
    app.get("/v1/users/a%01b/history").await.assert_error(400, "invalid_id");
    app.delete(&format!("/v1/users/{long}"))
        .await
        .assert_error(400, "invalid_id");
    app.get("/v1/users/%FF%FE/profile")
        .await
        .assert_error(400, "invalid_parameter");
}

#[tokio::test]
async fn bad_parameters_name_the_parameter() {
    let app = TestApp::new();
    let body = app
        .get("/v1/users/u1/profile?top=0")
        .await
        .assert_error(400, "invalid_parameter");
    insta::assert_json_snapshot!("profile_invalid_top", body);
    for (uri, needle) in [
        ("/v1/users/u1/profile?top=101", "`top`"),
        ("/v1/users/u1/profile?top=abc", "`top`"),
        ("/v1/users/u1/profile?top=1&top=2", "`top`"),
        ("/v1/users/u1/profile?limit=5", "`limit`"),
        ("/v1/users/u1/history?limit=201", "`limit`"),
        ("/v1/users/u1/history?limit=-1", "`limit`"),
        ("/v1/users/u1/history?top=3", "`top`"),
    ] {
        let body = app.get(uri).await.assert_error(400, "invalid_parameter");
        let message = body["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{uri}: {message}");
    }
    app.request(axum::http::Method::POST, "/v1/users/u1/profile")
        .await
        .assert_error(405, "method_not_allowed");
    app.request(axum::http::Method::GET, "/v1/users/u1")
        .await
        .assert_error(405, "method_not_allowed");
}

mod needs_engine {
    use crate::common::TestApp;
    use serde_json::{json, Value};

    /// Two artists with a track called "Hello" each, and a third with "Hello, Goodbye".
    fn catalog() -> Value {
        json!([
            {"id": "ar:adele", "type": "artist", "name": "Adele", "popularity": 90, "tags": ["soul", "pop"]},
            {"id": "ar:lionel", "type": "artist", "name": "Lionel Richie", "popularity": 70, "tags": ["soul", "80s"]},
            {"id": "ar:beatles", "type": "artist", "name": "The Beatles", "popularity": 95, "tags": ["rock"]},
            {"id": "tr:adele:hello", "type": "track", "name": "Hello", "artist_ids": ["ar:adele"],
             "popularity": 90, "tags": ["pop"]},
            {"id": "tr:lionel:hello", "type": "track", "name": "Hello", "artist_ids": ["ar:lionel"],
             "popularity": 70, "tags": ["80s"]},
            {"id": "tr:adele:someone", "type": "track", "name": "Someone Like You", "artist_ids": ["ar:adele"],
             "popularity": 85, "tags": ["pop"]},
            {"id": "tr:lionel:allnight", "type": "track", "name": "All Night Long", "artist_ids": ["ar:lionel"],
             "popularity": 60, "tags": ["80s"]},
            {"id": "tr:beatles:hellogoodbye", "type": "track", "name": "Hello, Goodbye",
             "artist_ids": ["ar:beatles"], "popularity": 95, "tags": ["rock"]},
            {"id": "tr:beatles:yesterday", "type": "track", "name": "Yesterday", "artist_ids": ["ar:beatles"],
             "popularity": 90, "tags": ["rock"]},
        ])
    }

    /// Listening histories of three listeners with different tastes.
    fn events() -> Value {
        json!([
            {"event_id": "a1", "user_id": "fan:adele", "type": "play", "item_id": "tr:adele:someone",
             "ts": "2025-03-01T10:00:00Z", "count": 40, "ms_played": 285000},
            {"event_id": "a2", "user_id": "fan:adele", "type": "save", "item_id": "tr:adele:someone",
             "ts": "2025-03-01T10:05:00Z"},
            {"event_id": "a3", "user_id": "fan:adele", "type": "skip", "item_id": "tr:lionel:allnight",
             "ts": "2025-03-01T10:06:00Z"},
            {"event_id": "l1", "user_id": "fan:lionel", "type": "play", "item_id": "tr:lionel:allnight",
             "ts": "2025-03-02T20:00:00Z", "count": 25},
            {"event_id": "l2", "user_id": "fan:lionel", "type": "follow", "item_id": "ar:lionel",
             "ts": "2025-03-02T20:01:00Z"},
            {"event_id": "l3", "user_id": "fan:lionel", "type": "search_click", "item_id": "tr:lionel:allnight",
             "ts": "2025-03-02T20:02:00Z", "context": "all night"},
            {"event_id": "b1", "user_id": "fan:beatles", "type": "play", "item_id": "tr:beatles:yesterday",
             "ts": "2025-03-03T08:00:00Z", "count": 100},
            {"event_id": "b2", "user_id": "fan:beatles", "type": "follow", "item_id": "ar:beatles",
             "ts": "2025-03-03T08:01:00Z"},
        ])
    }

    async fn loaded() -> TestApp {
        let app = TestApp::new();
        let res = app.post_json(&catalog()).await;
        assert_eq!(res.json()["accepted"], 9, "{}", res.text());
        let res = app.post_events(&events()).await;
        assert_eq!(
            res.json(),
            json!({"accepted": 8, "duplicates": 0, "rejected": [], "seq": 2}),
            "{}",
            res.text()
        );
        app.refresh().await;
        app
    }

    fn ids(v: &Value) -> Vec<String> {
        v["hits"]
            .as_array()
            .map(|h| h.iter().filter_map(|h| h["id"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    /// A search answer without its timing.
    fn search(v: Value) -> Value {
        let mut v = v;
        v["took_ms"] = Value::Null;
        v["search_id"] = Value::Null;
        v
    }

    #[tokio::test]
    async fn unknown_listeners_are_404_user_not_found() {
        let app = TestApp::new();
        let body = app
            .get("/v1/users/ghost/profile")
            .await
            .assert_error(404, "user_not_found");
        insta::assert_json_snapshot!("user_not_found", body);
        app.get("/v1/users/ghost/history")
            .await
            .assert_error(404, "user_not_found");
        // Erasing a listener nobody knows is not an error.
        let res = app.delete("/v1/users/ghost").await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.json(), json!({"user_id": "ghost", "deleted_events": 0}));
    }

    #[tokio::test]
    async fn profile_lists_top_affinities_with_why() {
        let app = loaded().await;
        let res = app.get("/v1/users/fan:lionel/profile").await;
        assert_eq!(res.status, 200, "{}", res.text());
        let p = res.json();
        assert_eq!(p["user_id"], "fan:lionel");
        assert_eq!(p["artists"][0]["id"], "ar:lionel", "{p}");
        assert_eq!(p["artists"][0]["name"], "Lionel Richie", "{p}");
        assert_eq!(p["followed"], json!(["ar:lionel"]), "{p}");
        assert!(p["artists"][0]["why"].as_str().unwrap_or("").contains("plays"), "{p}");
        insta::assert_json_snapshot!("profile_fan_lionel", p);

        let p = app.get("/v1/users/fan:adele/profile?top=1").await.json();
        assert_eq!(p["saved"], json!(["tr:adele:someone"]), "{p}");
        for kind in ["artists", "tags", "items"] {
            assert!(p[kind].as_array().is_some_and(|a| a.len() <= 1), "{kind}: {p}");
        }
        assert_eq!(p["artists"][0]["id"], "ar:adele", "{p}");
        // A skipped item has a negative score.
        let p = app.get("/v1/users/fan:adele/profile?top=100").await.json();
        let skipped = p["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == "tr:lionel:allnight"))
            .cloned()
            .unwrap_or_default();
        assert!(skipped["score"].as_f64().is_some_and(|s| s < 0.0), "{p}");
    }

    #[tokio::test]
    async fn history_is_newest_first_and_limited() {
        let app = loaded().await;
        let res = app.get("/v1/users/fan:lionel/history").await;
        assert_eq!(res.status, 200, "{}", res.text());
        let h = res.json();
        insta::assert_json_snapshot!("history_fan_lionel", h);
        let h = app.get("/v1/users/fan:lionel/history?limit=2").await.json();
        let types: Vec<&str> = h["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(types, ["search_click", "follow"]);
    }

    #[tokio::test]
    async fn delete_erases_the_listener_for_good() {
        let app = loaded().await;
        let res = app.delete("/v1/users/fan:lionel").await;
        assert_eq!(res.status, 200, "{}", res.text());
        let body = res.json();
        insta::assert_json_snapshot!("user_deleted", body);
        assert_eq!(body, json!({"user_id": "fan:lionel", "deleted_events": 3}));
        app.get("/v1/users/fan:lionel/profile")
            .await
            .assert_error(404, "user_not_found");
        app.get("/v1/users/fan:lionel/history")
            .await
            .assert_error(404, "user_not_found");
        assert_eq!(
            app.delete("/v1/users/fan:lionel").await.json(),
            json!({"user_id": "fan:lionel", "deleted_events": 0})
        );
        // Others are untouched.
        let p = app.get("/v1/users/fan:adele/profile").await.json();
        assert_eq!(p["events"], json!({"play": 40, "save": 1, "skip": 1}), "{p}");
        // Search for the erased listener is the unpersonalized one.
        let plain = search(app.get("/v1/search?q=hello").await.json());
        let erased = search(app.get("/v1/search?q=hello&user_id=fan:lionel").await.json());
        assert_eq!(plain, erased);
        // New events start a new profile.
        let res = app
            .post_events(&json!([{"user_id": "fan:lionel", "type": "play", "item_id": "tr:adele:hello", "ts": 5}]))
            .await;
        assert_eq!(res.json()["accepted"], 1);
        let p = app.get("/v1/users/fan:lionel/profile").await.json();
        assert_eq!(p["events"], json!({"play": 1}), "{p}");
        assert_eq!(p["followed"], json!([]), "{p}");
    }

    #[tokio::test]
    async fn personalized_search_lifts_each_listeners_taste() {
        let app = loaded().await;
        let plain = app.get("/v1/search?q=hello").await;
        assert_eq!(plain.status, 200, "{}", plain.text());
        let plain = plain.json();
        assert_eq!(ids(&plain)[0], "tr:adele:hello", "{plain}");
        assert!(
            plain["hits"]
                .as_array()
                .is_some_and(|h| h.iter().all(|h| h.get("personalization").is_none())),
            "{plain}"
        );

        // Two listeners with different tastes see different top hits.
        let lionel = app.get("/v1/search?q=hello&user_id=fan:lionel").await.json();
        assert_eq!(ids(&lionel)[0], "tr:lionel:hello", "{lionel}");
        let why = &lionel["hits"][0]["personalization"];
        assert!(why["boost"].as_f64().is_some_and(|b| b > 0.0), "{lionel}");
        let reasons = why["reasons"].to_string();
        assert!(reasons.contains("Lionel Richie"), "{reasons}");
        assert_eq!(lionel["top_result"]["id"], "tr:lionel:hello", "{lionel}");

        let adele = app.get("/v1/search?q=hello&user_id=fan:adele").await.json();
        assert_eq!(ids(&adele)[0], "tr:adele:hello", "{adele}");
        assert!(
            adele["hits"][0]["personalization"]["reasons"]
                .to_string()
                .contains("Adele"),
            "{adele}"
        );
        assert_ne!(ids(&adele)[0], ids(&lionel)[0]);

        // A listener without history gets exactly the unpersonalized answer.
        let nobody = app.get("/v1/search?q=hello&user_id=nobody").await.json();
        assert_eq!(search(nobody), search(plain.clone()));
        let empty = app.get("/v1/search?q=hello&user_id=").await.json();
        assert_eq!(search(empty), search(plain.clone()));

        // Guard rail: loving the Beatles does not put "Hello, Goodbye" above an exact "Hello".
        let beatles = app.get("/v1/search?q=hello&user_id=fan:beatles").await.json();
        let order = ids(&beatles);
        let pos = |id: &str| order.iter().position(|x| x == id).unwrap_or(usize::MAX);
        assert!(pos("tr:adele:hello") < pos("tr:beatles:hellogoodbye"), "{beatles}");
        assert!(pos("tr:lionel:hello") < pos("tr:beatles:hellogoodbye"), "{beatles}");
        insta::assert_json_snapshot!("search_hello_fan_lionel", lionel["hits"][0], {
            ".score" => "[score]",
        });
    }

    #[tokio::test]
    async fn profiles_see_events_at_once() {
        let app = TestApp::new();
        app.post_json(&catalog()).await;
        for i in 0..5u64 {
            let res = app
                .post_events(&json!([{"user_id": "u", "type": "play", "item_id": "tr:adele:hello", "ts": 1000 + i}]))
                .await;
            assert_eq!(res.json()["accepted"], 1);
            // Visible as soon as the batch is acknowledged: no refresh, no sleep.
            let p = app.get("/v1/users/u/profile").await.json();
            assert_eq!(p["events"]["play"], i + 1, "{p}");
            let h = app.get("/v1/users/u/history?limit=1").await.json();
            assert_eq!(h["events"][0]["ts"], 1000 + i, "{h}");
        }
    }

    #[tokio::test]
    async fn years_of_history_survive_a_few_new_plays() {
        let app = TestApp::new();
        app.post_json(&catalog()).await;
        let now = chrono_like_now_ms();
        let res = app
            .post_events(&json!([
                {"user_id": "old", "type": "play", "item_id": "tr:beatles:yesterday",
                 "ts": "2009-06-01T12:00:00Z", "count": 2000},
                {"user_id": "old", "type": "play", "item_id": "tr:adele:hello", "ts": now - 3000},
                {"user_id": "old", "type": "play", "item_id": "tr:adele:hello", "ts": now - 2000},
                {"user_id": "old", "type": "play", "item_id": "tr:adele:hello", "ts": now - 1000},
            ]))
            .await;
        assert_eq!(res.json()["accepted"], 4, "{}", res.text());
        app.refresh().await;
        let p = app.get("/v1/users/old/profile").await.json();
        let score = |id: &str| {
            p["artists"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["id"] == id))
                .and_then(|x| x["score"].as_f64())
                .unwrap_or(0.0)
        };
        // Both count: the old favourite through long-term taste, the new one through both.
        assert!(score("ar:beatles") >= 0.45, "{p}");
        assert!(score("ar:adele") >= 0.45, "{p}");
        assert_eq!(p["long_term_weight"], 0.5, "{p}");
        // And the old favourite still lifts search: "hello" ranks the Beatles' track above
        // Lionel Richie's for this listener, with a true reason.
        let r = app.get("/v1/search?q=hello&user_id=old").await.json();
        let hit = r["hits"]
            .as_array()
            .and_then(|h| h.iter().find(|h| h["id"] == "tr:beatles:hellogoodbye"))
            .cloned()
            .unwrap_or_default();
        assert!(
            hit["personalization"]["reasons"]
                .to_string()
                .contains("you play The Beatles"),
            "{r}"
        );
    }

    #[tokio::test]
    async fn skipping_artists_never_makes_another_one_you_skip() {
        let app = loaded().await;
        // fan:adele skipped a Lionel Richie track tagged 80s; The Beatles share nothing with
        // it, Lionel's "Hello" is by the skipped artist.
        let r = app.get("/v1/search?q=hello&user_id=fan:adele").await.json();
        for h in r["hits"].as_array().cloned().unwrap_or_default() {
            let reasons = h["personalization"]["reasons"].to_string();
            match h["id"].as_str().unwrap_or("") {
                "tr:lionel:hello" => assert_eq!(
                    h["personalization"]["reasons"],
                    json!(["you skip Lionel Richie"]),
                    "{r}"
                ),
                "tr:beatles:hellogoodbye" => assert!(h.get("personalization").is_none(), "{r}"),
                _ => assert!(!reasons.contains("skip"), "{r}"),
            }
        }
    }

    fn chrono_like_now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
