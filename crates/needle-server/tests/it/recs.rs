//! Recommendations end to end: catalog and events through the API, a training job, then
//! every surface with its business rules.

mod needs_engine {
    use crate::common::TestApp;
    use needle_core::time::now_ms;
    use serde_json::{json, Value};
    use std::collections::HashSet;
    use std::time::Duration;

    const ARTISTS: usize = 4;
    const TRACKS: usize = 6;

    fn day(offset_days: i64) -> String {
        let secs = now_ms() / 1000 + offset_days * 86_400;
        let days = secs.div_euclid(86_400);
        // civil_from_days (Howard Hinnant)
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
        format!("{y:04}-{m:02}-{d:02}")
    }

    fn track(g: &str, a: usize, t: usize) -> String {
        format!("{g}-a{a}-t{t}")
    }

    /// Two genres, each with artists and tracks (all released a year ago), one show with
    /// episodes, plus special items: a new release, a market-limited and an explicit track.
    fn catalog() -> Value {
        let mut v = Vec::new();
        for g in ["rock", "jazz"] {
            for a in 0..ARTISTS {
                v.push(json!({"id": format!("{g}-a{a}"), "type": "artist", "name": format!("{g} artist {a}"), "tags": [g]}));
                for t in 0..TRACKS {
                    v.push(
                        json!({"id": track(g, a, t), "type": "track", "name": format!("{g} song {a}.{t}"),
                        "artist_ids": [format!("{g}-a{a}")], "tags": [g], "release_date": day(-400)}),
                    );
                }
            }
        }
        v.push(
            json!({"id": "rock-new", "type": "track", "name": "brand new rock", "artist_ids": ["rock-a0"],
            "tags": ["rock"], "release_date": day(-3)}),
        );
        v.push(
            json!({"id": "jazz-new", "type": "track", "name": "brand new jazz", "artist_ids": ["jazz-a0"],
            "tags": ["jazz"], "release_date": day(-3)}),
        );
        v.push(json!({"id": "show-1", "type": "show", "name": "Rock Talk", "tags": ["rock"]}));
        v.push(json!({"id": "ep-old", "type": "episode", "name": "old episode", "show_id": "show-1", "release_date": day(-200)}));
        v.push(json!({"id": "ep-new", "type": "episode", "name": "new episode", "show_id": "show-1", "release_date": day(-2)}));
        Value::Array(v)
    }

    /// 24 fans per genre: each plays 8 tracks of their genre and follows two of its artists.
    fn events() -> Value {
        let ts = now_ms() - 86_400_000;
        let mut v = Vec::new();
        for g in ["rock", "jazz"] {
            for u in 0..24usize {
                let user = format!("{g}-fan-{u}");
                for k in 0..8usize {
                    let a = (u + k) % ARTISTS;
                    // Consecutive tracks: every fan's plays span the genre's tracks, so a
                    // genre is one connected taste (with `k * 3` each fan stayed on one
                    // residue of `t`, and a genre split into three unrelated blocks).
                    let t = (u * 5 + k) % TRACKS;
                    v.push(json!({"user_id": user, "type": "play", "item_id": track(g, a, t), "ts": ts, "count": 1 + k % 3}));
                }
                for a in [u % ARTISTS, (u + 1) % ARTISTS] {
                    v.push(json!({"user_id": user, "type": "follow", "item_id": format!("{g}-a{a}"), "ts": ts}));
                }
                if u % 3 == 0 {
                    v.push(json!({"user_id": user, "type": "play", "item_id": "ep-old", "ts": ts}));
                }
            }
        }
        Value::Array(v)
    }

    async fn app() -> TestApp {
        app_with(|_| {}).await
    }

    async fn app_with(f: impl FnOnce(&mut needle_server::Config)) -> TestApp {
        let app = TestApp::with(|c| {
            c.recs.als.factors = 16;
            c.recs.als.regularization = 0.05;
            c.recs.als.iterations = 12;
            c.recs.als.alpha = 5.0;
            f(c);
        });
        let r = app.post_json(&catalog()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["rejected"].as_array().unwrap().is_empty(), "{}", r.text());
        let r = app.post_events(&events()).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["rejected"].as_array().unwrap().is_empty(), "{}", r.text());
        app
    }

    async fn train(app: &TestApp) -> Value {
        let r = app.post("/v1/admin/train", None, "").await;
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["job_id"].as_str().unwrap().to_string();
        for _ in 0..600 {
            let j = app.get(&format!("/v1/admin/jobs/{id}")).await.json();
            match j["status"].as_str().unwrap() {
                "done" => return j,
                "failed" => panic!("training failed: {j}"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        panic!("training did not finish");
    }

    async fn events_for(app: &TestApp, events: Value) {
        let r = app.post_events(&events).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }

    fn ids(v: &Value) -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[tokio::test]
    async fn training_job_reports_progress_and_versions_models() {
        let app = app().await;
        let r = app.get("/v1/users/rock-fan-1/recommendations").await;
        r.assert_error(503, "model_not_ready");
        let job = train(&app).await;
        assert_eq!(job["model_version"], 1);
        assert_eq!(job["progress"], 1.0);
        assert_eq!(job["stats"]["listeners"], 48, "{job}");
        assert!(job["stats"]["trained_items"].as_u64().unwrap() >= 30, "{job}");
        let m = app.get("/v1/admin/model").await.json();
        assert_eq!(m["model_version"], 1);
        assert_eq!(m["index"], "exact");
        assert!(
            m["content_items"].as_u64().unwrap() >= 2,
            "new releases get content vectors: {m}"
        );
        let job2 = train(&app).await;
        assert_eq!(job2["model_version"], 2);
        app.get("/v1/admin/jobs/train-99")
            .await
            .assert_error(404, "job_not_found");
        let list = app.get("/v1/admin/jobs").await.json();
        assert_eq!(list["jobs"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn for_you_follows_taste_and_explains() {
        let app = app().await;
        train(&app).await;
        for (user, genre) in [("rock-fan-3", "rock"), ("jazz-fan-5", "jazz")] {
            let r = app
                .get(&format!("/v1/users/{user}/recommendations?types=track&limit=10"))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            let body = r.json();
            assert_eq!(body["surface"], "for_you");
            assert_eq!(body["model_version"], 1);
            let items = body["items"].as_array().unwrap();
            assert_eq!(items.len(), 10);
            let played: HashSet<String> = app.get(&format!("/v1/users/{user}/history?limit=200")).await.json()
                ["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["item_id"].as_str().unwrap().to_string())
                .collect();
            let on_genre = items
                .iter()
                .take(5)
                .filter(|i| i["id"].as_str().unwrap().starts_with(genre))
                .count();
            assert_eq!(on_genre, 5, "{user}: {body}");
            for i in items {
                assert_eq!(i["type"], "track");
                assert!(
                    !played.contains(i["id"].as_str().unwrap()),
                    "played item recommended: {i}"
                );
            }
            let reason = items[0]["reason"].as_str().unwrap();
            let by = items[0]["by"].as_array().unwrap();
            assert!(!by.is_empty(), "credits: {}", items[0]);
            // The track's own artist when the listener plays them, else the liked item
            // closest to it.
            match reason
                .strip_suffix(", whom you play")
                .and_then(|r| r.strip_prefix("by "))
            {
                Some(artist) => assert!(by.iter().any(|b| b == artist), "{reason}: {}", items[0]),
                None => assert!(reason.starts_with("because you play "), "{reason}"),
            }
        }
    }

    #[tokio::test]
    async fn cold_start_gets_popular_and_rules_hold() {
        let app = app().await;
        // Market-limited and explicit tracks, added before training.
        let r = app
            .post_json(&json!([
                {"id": "rock-se", "type": "track", "name": "swedish rock", "artist_ids": ["rock-a1"], "markets": ["SE"], "popularity": 1e9},
                {"id": "rock-x", "type": "track", "name": "explicit rock", "artist_ids": ["rock-a1"], "explicit": true, "popularity": 1e9}
            ]))
            .await;
        assert_eq!(r.status, 200);
        train(&app).await;
        let r = app.get("/v1/users/nobody/recommendations?types=track&limit=30").await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body["items"].as_array().unwrap().len(), 30);
        assert!(body["items"][0]["reason"].as_str().unwrap().starts_with("popular"));
        let all = ids(&body);
        assert!(all.contains(&"rock-se".to_string()) && all.contains(&"rock-x".to_string()));
        let us = ids(&app
            .get("/v1/users/nobody/recommendations?types=track&limit=30&market=us")
            .await
            .json());
        assert!(!us.contains(&"rock-se".to_string()), "{us:?}");
        let se = app
            .get("/v1/users/nobody/recommendations?types=track&limit=5&market=SE")
            .await
            .json();
        assert_eq!(se["items"][0]["reason"], "popular in SE");
        let clean = ids(&app
            .get("/v1/users/nobody/recommendations?types=track&limit=30&explicit=false")
            .await
            .json());
        assert!(!clean.contains(&"rock-x".to_string()));
        let unique: HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "duplicates: {all:?}");
        app.get("/v1/users/nobody/recommendations?surface=weekly")
            .await
            .assert_error(400, "invalid_parameter");
    }

    #[tokio::test]
    async fn unwanted_items_never_come_back() {
        let app = app().await;
        train(&app).await;
        let first = ids(&app
            .get("/v1/users/rock-fan-2/recommendations?types=track&limit=5")
            .await
            .json());
        let ts = now_ms();
        let skips: Vec<Value> = first
            .iter()
            .flat_map(|id| {
                (0..2).map(move |k| json!({"user_id": "rock-fan-2", "type": "skip", "item_id": id, "ts": ts + k}))
            })
            .collect();
        events_for(&app, Value::Array(skips)).await;
        for surface in ["for_you", "discover", "daily_mix"] {
            let again = ids(&app
                .get(&format!(
                    "/v1/users/rock-fan-2/recommendations?surface={surface}&types=track&limit=20"
                ))
                .await
                .json());
            for id in &first {
                assert!(!again.contains(id), "{surface} returned unwanted {id}");
            }
        }
    }

    #[tokio::test]
    async fn discover_caps_artists_and_is_stable() {
        let app = app().await;
        train(&app).await;
        let a = app
            .get("/v1/users/jazz-fan-4/recommendations?surface=discover&limit=6")
            .await
            .json();
        let b = app
            .get("/v1/users/jazz-fan-4/recommendations?surface=discover&limit=6")
            .await
            .json();
        assert_eq!(ids(&a), ids(&b), "stable within the week");
        assert_eq!(a["surface"], "discover");
        let mut per_artist = std::collections::HashMap::new();
        for i in a["items"].as_array().unwrap() {
            assert_eq!(i["type"], "track");
            *per_artist.entry(i["by"][0].as_str().unwrap().to_string()).or_insert(0) += 1;
        }
        assert!(per_artist.values().all(|&n| n <= 2), "{per_artist:?}");
    }

    #[tokio::test]
    async fn release_radar_and_podcasts_bring_what_is_new() {
        let app = app().await;
        events_for(
            &app,
            json!([{"user_id": "rock-fan-0", "type": "follow", "item_id": "show-1", "ts": now_ms()}]),
        )
        .await;
        train(&app).await;
        let rr = app
            .get("/v1/users/rock-fan-0/recommendations?surface=release_radar")
            .await
            .json();
        let got = ids(&rr);
        assert_eq!(got.first().map(String::as_str), Some("rock-new"), "{rr}");
        assert!(!got.contains(&"jazz-new".to_string()), "{rr}");
        assert_eq!(rr["items"][0]["reason"], "new from rock artist 0");
        // Nothing older than the window.
        assert!(rr["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["release_date"].as_str() >= Some(day(-29).as_str())));
        let pod = app
            .get("/v1/users/rock-fan-0/recommendations?surface=podcasts")
            .await
            .json();
        assert_eq!(pod["items"][0]["id"], "ep-new", "{pod}");
        assert_eq!(pod["items"][0]["reason"], "new episode of Rock Talk");
        assert!(!ids(&pod).contains(&"ep-old".to_string()));
    }

    #[tokio::test]
    async fn daily_mixes_each_follow_one_taste() {
        let app = app().await;
        let ts = now_ms() - 3_600_000;
        let mut ev = Vec::new();
        for g in ["rock", "jazz"] {
            for a in 0..ARTISTS {
                for t in 0..3 {
                    ev.push(
                        json!({"user_id": "both", "type": "play", "item_id": track(g, a, t), "ts": ts, "count": 3}),
                    );
                }
            }
        }
        events_for(&app, Value::Array(ev)).await;
        train(&app).await;
        let r = app
            .get("/v1/users/both/recommendations?surface=daily_mix&limit=8")
            .await
            .json();
        let mixes = r["mixes"].as_array().unwrap();
        assert!(mixes.len() >= 2, "{r}");
        for m in mixes {
            let n = m["mix"].as_u64().unwrap();
            let items: Vec<&Value> = r["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["mix"] == n)
                .collect();
            assert!(!items.is_empty() && items.len() <= 8, "{r}");
            let rock = items
                .iter()
                .filter(|i| i["id"].as_str().unwrap().starts_with("rock"))
                .count();
            assert!(rock == 0 || rock == items.len(), "mix {n} mixes genres: {items:?}");
            assert!(items.iter().any(|i| i["reason"] == "one of your favourites"));
        }
    }

    #[tokio::test]
    async fn similar_and_continue() {
        let app = app().await;
        train(&app).await;
        let r = app.get("/v1/items/rock-a1-t2/similar?limit=8").await.json();
        assert_eq!(r["surface"], "similar");
        let got = ids(&r);
        assert_eq!(got.len(), 8);
        assert!(!got.contains(&"rock-a1-t2".to_string()));
        assert!(got.iter().take(5).all(|i| i.starts_with("rock")), "{r}");
        assert!(r["items"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("similar to rock song 1.2"));
        // Fans follow neighbouring artists (a1+a2, a2+a3): those are a2's related artists.
        let mut artists = ids(&app.get("/v1/items/jazz-a2/similar?limit=2").await.json());
        artists.sort();
        assert_eq!(artists, ["jazz-a1", "jazz-a3"]);
        app.get("/v1/items/nope/similar")
            .await
            .assert_error(404, "item_not_found");

        let body = json!({"seed_ids": ["jazz-a0-t0", "jazz-a1-t1", "jazz-a2-t2"], "limit": 6});
        let r = app
            .post(
                "/v1/recommendations/continue",
                Some("application/json"),
                body.to_string(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let c = r.json();
        let got = ids(&c);
        assert_eq!(got.len(), 6);
        assert!(got.iter().take(4).all(|i| i.starts_with("jazz")), "{c}");
        assert!(!got
            .iter()
            .any(|i| ["jazz-a0-t0", "jazz-a1-t1", "jazz-a2-t2"].contains(&i.as_str())));
        assert!(c["items"][0]["reason"].as_str().unwrap().starts_with("goes well after"));
        let r = app
            .post(
                "/v1/recommendations/continue",
                Some("application/json"),
                r#"{"seed_ids": []}"#,
            )
            .await;
        r.assert_error(400, "invalid_parameter");
        assert!(r.json()["message"].as_str().unwrap().contains("seed_ids"));
        app.post(
            "/v1/recommendations/continue",
            Some("application/json"),
            r#"{"seeds": ["x"]}"#,
        )
        .await
        .assert_error(400, "invalid_json");
    }

    #[tokio::test]
    async fn sessions_alternate_and_react_to_skips() {
        let app = app().await;
        // A listener who likes both genres a little.
        let ts = now_ms() - 3_600_000;
        let mut ev = Vec::new();
        for g in ["rock", "jazz"] {
            for a in 0..2 {
                ev.push(json!({"user_id": "dj", "type": "play", "item_id": track(g, a, 0), "ts": ts, "count": 2}));
            }
        }
        events_for(&app, Value::Array(ev)).await;
        train(&app).await;
        let r = app.post("/v1/users/dj/sessions", Some("application/json"), "{}").await;
        assert_eq!(r.status, 201, "{}", r.text());
        let sid = r.json()["session_id"].as_str().unwrap().to_string();
        let first = app.get(&format!("/v1/sessions/{sid}/next?limit=4")).await.json();
        let items = first["items"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0]["reason"], "one of your favourites");
        assert_ne!(items[1]["reason"], "one of your favourites");
        // The listener skips every jazz track served and plays rock: discoveries turn to rock.
        let now = now_ms();
        let mut ev = Vec::new();
        for a in 0..ARTISTS {
            ev.push(json!({"user_id": "dj", "type": "skip", "item_id": track("jazz", a, 3), "ts": now}));
            ev.push(json!({"user_id": "dj", "type": "play", "item_id": track("rock", a, 3), "ts": now}));
        }
        events_for(&app, Value::Array(ev)).await;
        let next = app.get(&format!("/v1/sessions/{sid}/next?limit=10")).await.json();
        let discoveries: Vec<&Value> = next["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["reason"] != "one of your favourites")
            .collect();
        assert!(!discoveries.is_empty(), "{next}");
        let rock = discoveries
            .iter()
            .filter(|i| i["id"].as_str().unwrap().starts_with("rock"))
            .count();
        assert!(rock * 10 >= discoveries.len() * 8, "after skipping jazz: {next}");
        let served: HashSet<String> = ids(&first).into_iter().collect();
        assert!(
            ids(&next).iter().all(|i| !served.contains(i)),
            "no repeats within a session"
        );
        app.get("/v1/sessions/s-nope/next")
            .await
            .assert_error(404, "session_not_found");
    }

    #[tokio::test]
    async fn a_session_ends_after_session_max_items() {
        let app = app_with(|c| c.recs.session_max_items = 3).await;
        train(&app).await;
        let r = app
            .post("/v1/users/rock-fan-1/sessions", Some("application/json"), "{}")
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let sid = r.json()["session_id"].as_str().unwrap().to_string();
        let first = app.get(&format!("/v1/sessions/{sid}/next?limit=10")).await;
        assert_eq!(first.status, 200, "{}", first.text());
        assert_eq!(ids(&first.json()).len(), 3, "cut to what the session has left");
        let body = app
            .get(&format!("/v1/sessions/{sid}/next"))
            .await
            .assert_error(409, "session_exhausted");
        assert_eq!(body["type"], "invalid_request");
        assert!(
            body["message"].as_str().unwrap().contains("recs.session_max_items"),
            "{body}"
        );
    }

    /// A router over `dir` (no temp dir of its own), for restarts.
    fn open_at(dir: &std::path::Path) -> (axum::Router, std::sync::Arc<needle_service::Service>) {
        let mut config = needle_server::Config {
            data_dir: dir.to_path_buf(),
            ..needle_server::Config::default()
        };
        config.recs.als.factors = 16;
        config.recs.als.regularization = 0.05;
        let engine = std::sync::Arc::new(needle_service::Service::open(config.service_config(true)).expect("engine"));
        let state = needle_server::AppState::new(engine.clone(), config);
        (needle_server::router(state), engine)
    }

    async fn call(router: &axum::Router, method: &str, uri: &str, body: &str) -> (u16, Value) {
        use tower::ServiceExt;
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let res = router.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn the_model_survives_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let (router, engine) = open_at(&dir);
        assert_eq!(
            call(&router, "POST", "/v1/catalog", &catalog().to_string()).await.0,
            200
        );
        assert_eq!(call(&router, "POST", "/v1/events", &events().to_string()).await.0, 200);
        let (st, job) = call(&router, "POST", "/v1/admin/train", "").await;
        assert_eq!(st, 202, "{job}");
        let uri = "/v1/users/rock-fan-7/recommendations?types=track&limit=10";
        let mut before = Value::Null;
        for _ in 0..600 {
            let (st, body) = call(&router, "GET", uri, "").await;
            if st == 200 {
                before = body;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(before["model_version"], 1, "{before}");
        drop(router);
        let e = engine.clone();
        tokio::task::spawn_blocking(move || e.shutdown())
            .await
            .unwrap()
            .unwrap();
        drop(engine);

        let (router, engine) = open_at(&dir);
        let mut after = Value::Null;
        for _ in 0..600 {
            let (st, body) = call(&router, "GET", uri, "").await;
            if st == 200 {
                after = body;
                break;
            }
            // While the saved model loads the answer is `model_loading` (with
            // Retry-After), never `model_not_ready`: a model exists.
            assert_eq!(body["code"], "model_loading", "{body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(after, before, "the reloaded model answers as before");
        let e = engine.clone();
        tokio::task::spawn_blocking(move || e.shutdown())
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn requests_during_training_see_a_whole_model() {
        let app = app().await;
        train(&app).await;
        let r = app.post("/v1/admin/train", None, "").await;
        assert_eq!(r.status, 202);
        let mut versions = HashSet::new();
        for _ in 0..40 {
            let r = app
                .get("/v1/users/rock-fan-1/recommendations?types=track&limit=5")
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            versions.insert(r.json()["model_version"].as_u64().unwrap());
            assert_eq!(r.json()["items"].as_array().unwrap().len(), 5);
        }
        assert!(versions.iter().all(|v| *v == 1 || *v == 2), "{versions:?}");
    }
}

#[tokio::test]
async fn query_parameters_are_strict() {
    let app = crate::common::TestApp::new();
    for (uri, needle) in [
        ("/v1/users/u1/recommendations?limit=1&limit=2", "`limit`"),
        ("/v1/users/u1/recommendations?colour=red", "`colour`"),
        ("/v1/users/u1/recommendations?limit=0", "`limit`"),
        ("/v1/users/u1/recommendations?market=SWE", "`market`"),
        ("/v1/items/t1/similar?surface=discover", "`surface`"),
        ("/v1/items/t1/similar?explicit=maybe", "`explicit`"),
        ("/v1/sessions/s1/next?limit=101", "`limit`"),
        ("/v1/sessions/s1/next?market=se", "`market`"),
    ] {
        let body = app.get(uri).await.assert_error(400, "invalid_parameter");
        let message = body["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{uri}: {message}");
    }
}
