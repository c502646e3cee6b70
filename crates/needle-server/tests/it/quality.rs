//! Quality beyond accuracy (issue #16): `discover`'s `discovery` knob trades taste order
//! for less-listened items, and `GET /v1/admin/recommendations/quality` measures every
//! surface as served.

mod needs_engine {
    use crate::common::TestApp;
    use needle_core::time::now_ms;
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::time::Duration;

    const ARTISTS: usize = 12;
    const TRACKS: usize = 4;
    const LISTENERS: usize = 80;

    fn track(j: usize) -> String {
        format!("tr-{j}")
    }

    /// Whether listener `u` plays track `j`: track 0 by about 90 % of listeners, falling
    /// like `1 / (1 + j/3)` to about 5 % for the last: a long tail.
    fn plays(u: usize, j: usize) -> bool {
        let threshold = 90.0 / (1.0 + j as f64 / 3.0);
        (((u * 7 + j * 13) % 100) as f64) < threshold
    }

    /// Listeners per track in the fixture.
    fn popularity() -> HashMap<String, usize> {
        (0..ARTISTS * TRACKS)
            .map(|j| (track(j), (0..LISTENERS).filter(|&u| plays(u, j)).count()))
            .collect()
    }

    async fn app() -> TestApp {
        let app = TestApp::with(|c| {
            c.recs.als.factors = 8;
            c.recs.als.iterations = 10;
            c.recs.train_on_start = false;
        });
        let mut catalog = Vec::new();
        for a in 0..ARTISTS {
            catalog.push(json!({"id": format!("ar-{a}"), "type": "artist", "name": format!("artist {a}")}));
            for t in 0..TRACKS {
                let j = a * TRACKS + t;
                catalog.push(json!({"id": track(j), "type": "track", "name": format!("song {j}"),
                    "artist_ids": [format!("ar-{a}")]}));
            }
        }
        let r = app.post_json(&Value::Array(catalog)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let ts = now_ms() - 86_400_000;
        let mut events = Vec::new();
        for u in 0..LISTENERS {
            for j in (0..ARTISTS * TRACKS).filter(|&j| plays(u, j)) {
                events.push(json!({"user_id": format!("u{u}"), "type": "play", "item_id": track(j), "ts": ts}));
            }
        }
        let r = app.post_events(&Value::Array(events)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["rejected"].as_array().unwrap().is_empty(), "{}", r.text());
        app
    }

    async fn train(app: &TestApp) {
        let r = app.post("/v1/admin/train", None, "").await;
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["job_id"].as_str().unwrap().to_string();
        for _ in 0..1200 {
            let j = app.get(&format!("/v1/admin/jobs/{id}")).await.json();
            match j["status"].as_str().unwrap() {
                "done" => return,
                "failed" => panic!("training failed: {j}"),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        panic!("training did not finish");
    }

    /// Mean fixture popularity of the items `discover` gives the first 20 listeners.
    async fn discover_popularity(app: &TestApp, discovery: &str) -> f64 {
        let pop = popularity();
        let (mut sum, mut n) = (0usize, 0usize);
        for u in 0..20 {
            let r = app
                .get(&format!(
                    "/v1/users/u{u}/recommendations?surface=discover&limit=5&discovery={discovery}"
                ))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            for item in r.json()["items"].as_array().unwrap() {
                sum += pop[item["id"].as_str().unwrap()];
                n += 1;
            }
        }
        assert!(n > 0, "discover answered nothing at discovery={discovery}");
        sum as f64 / n as f64
    }

    #[tokio::test]
    async fn discovery_trades_taste_order_for_less_listened_tracks() {
        let app = app().await;
        train(&app).await;
        let taste = discover_popularity(&app, "0").await;
        let half = discover_popularity(&app, "0.5").await;
        let most = discover_popularity(&app, "1").await;
        assert!(
            most < half && half <= taste,
            "mean listeners per discovered track: {taste:.1} at 0, {half:.1} at 0.5, {most:.1} at 1"
        );
        // Absent, the configured default (0): the taste order.
        let r = app
            .get("/v1/users/u3/recommendations?surface=discover&limit=5")
            .await
            .json();
        let z = app
            .get("/v1/users/u3/recommendations?surface=discover&limit=5&discovery=0")
            .await
            .json();
        assert_eq!(r["items"], z["items"]);
    }

    #[tokio::test]
    async fn a_bad_discovery_names_the_parameter() {
        let app = app().await;
        train(&app).await;
        for (query, why) in [
            ("surface=for_you&discovery=0.5", "discover only"),
            ("surface=discover&discovery=1.5", "between 0 and 1"),
            ("surface=discover&discovery=-0.1", "between 0 and 1"),
            ("surface=discover&discovery=NaN", "between 0 and 1"),
            ("surface=discover&discovery=lots", "discovery"),
        ] {
            let r = app.get(&format!("/v1/users/u1/recommendations?{query}")).await;
            assert_eq!(r.status, 400, "{query}: {}", r.text());
            let body = r.json();
            assert_eq!(body["code"], "invalid_parameter", "{query}: {body}");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains("discovery") && message.contains(why),
                "{query}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn quality_measures_every_surface_as_served() {
        let app = app().await;
        let r = app.get("/v1/admin/recommendations/quality").await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.json()["code"], "model_not_ready");
        train(&app).await;

        let q = app.get("/v1/admin/recommendations/quality?sample=30&limit=10").await;
        assert_eq!(q.status, 200, "{}", q.text());
        let q = q.json();
        assert_eq!(q["sample"], 30, "{q}");
        assert_eq!(q["limit"], 10);
        let head = q["head_items_share"].as_f64().unwrap();
        assert!(head > 0.0 && head < 0.5, "a long tail has a small head: {q}");
        let surfaces: HashMap<String, Value> = q["surfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["surface"].as_str().unwrap().to_string(), s.clone()))
            .collect();
        for name in ["for_you", "discover", "release_radar", "podcasts", "daily_mix"] {
            assert!(surfaces.contains_key(name), "{name} missing: {q}");
        }
        let fy = &surfaces["for_you"];
        assert_eq!(fy["answered"], 30, "every sampled listener has history: {fy}");
        for key in ["coverage", "head_share", "popular_fallback", "creator_repetition"] {
            let x = fy[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{key} = {x}: {fy}");
        }
        assert!(fy["coverage"].as_f64().unwrap() > 0.0, "{fy}");
        assert!(fy["novelty_bits"].as_f64().unwrap() > 0.0, "{fy}");
        assert!(fy["intra_list_diversity"].as_f64().is_some(), "{fy}");
        // At most `recs.discover_per_artist` (2) tracks per artist in a discover list: at
        // most every second item repeats an artist.
        let d = &surfaces["discover"];
        assert!(d["creator_repetition"].as_f64().unwrap() <= 0.5, "{d}");

        // The knob moves the figures of discover, and only of discover.
        let at = |x: &'static str| {
            let app = &app;
            async move {
                let r = app
                    .get(&format!(
                        "/v1/admin/recommendations/quality?sample=30&limit=10&discovery={x}"
                    ))
                    .await;
                assert_eq!(r.status, 200, "{}", r.text());
                r.json()
            }
        };
        let (q0, q1) = (at("0").await, at("1").await);
        assert_eq!(q1["discovery"], 1.0);
        let get = |q: &Value, s: usize, k: &str| q["surfaces"][s][k].as_f64().unwrap();
        let discover = q0["surfaces"]
            .as_array()
            .unwrap()
            .iter()
            .position(|s| s["surface"] == "discover")
            .unwrap();
        assert!(get(&q1, discover, "arp") < get(&q0, discover, "arp"), "{q0}\n{q1}");
        assert!(
            get(&q1, discover, "novelty_bits") > get(&q0, discover, "novelty_bits"),
            "{q0}\n{q1}"
        );
        let for_you = q0["surfaces"]
            .as_array()
            .unwrap()
            .iter()
            .position(|s| s["surface"] == "for_you")
            .unwrap();
        assert_eq!(q0["surfaces"][for_you], q1["surfaces"][for_you]);

        for (query, param) in [
            ("sample=0", "sample"),
            ("limit=101", "limit"),
            ("discovery=2", "discovery"),
        ] {
            let r = app.get(&format!("/v1/admin/recommendations/quality?{query}")).await;
            assert_eq!(r.status, 400, "{query}: {}", r.text());
            assert!(r.text().contains(param), "{query}: {}", r.text());
        }
    }
}
