//! A test app: a real engine in a temporary directory behind the real router.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use needle_core::time::Clock;
use needle_server::{router, AppState, Config};
use needle_service::Service as Engine;
use serde_json::Value;
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

/// One router over one engine in its own temporary data directory.
pub struct TestApp {
    pub router: Router,
    pub engine: Arc<Engine>,
    /// The router's state (keys reload, metrics).
    pub state: AppState,
    config: Config,
    clock: Arc<dyn Clock>,
    /// Semantic search with the deterministic `HashEmbedder` (no model file).
    semantic: bool,
    _dir: TempDir,
}

impl TestApp {
    /// Default configuration.
    pub fn new() -> TestApp {
        TestApp::with(|_| {})
    }

    /// Default configuration changed by `f` (`data_dir` is set to a fresh temp dir first).
    pub fn with(f: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::with_clock(needle_core::time::system(), f)
    }

    /// [`TestApp::with`], reading the time from `clock` (a `ManualClock` the test advances).
    pub fn with_clock(clock: Arc<dyn Clock>, f: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        f(&mut config);
        TestApp::open(dir, config, clock, false)
    }

    /// [`TestApp::with`] with semantic search on: vectors from the deterministic
    /// `HashEmbedder` (texts sharing words are close), computed on write.
    pub fn with_semantic(f: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        f(&mut config);
        TestApp::open(dir, config, needle_core::time::system(), true)
    }

    fn open(dir: TempDir, config: Config, clock: Arc<dyn Clock>, semantic: bool) -> TestApp {
        let mut service_config = config.service_config(true);
        if semantic {
            service_config.embedder = Some(needle_service::EmbedderOverride(Arc::new(
                needle_embed::HashEmbedder::new(64),
            )));
        }
        let engine = Arc::new(
            needle_service::Service::open_with_clock(service_config, Arc::clone(&clock)).expect("engine opens"),
        );
        let state = AppState::with_clock(Arc::clone(&engine), config.clone(), Arc::clone(&clock));
        TestApp {
            router: router(state.clone()),
            engine,
            state,
            config,
            clock,
            semantic,
            _dir: dir,
        }
    }

    /// Shut the service down and open a new one on the same data directory (a restart).
    pub fn reopen(self) -> TestApp {
        let TestApp {
            router,
            engine,
            state,
            config,
            clock,
            semantic,
            _dir: dir,
        } = self;
        drop((router, state));
        engine.shutdown().expect("shuts down");
        drop(engine);
        TestApp::open(dir, config, clock, semantic)
    }

    /// Send one request.
    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let res = self.router.clone().oneshot(req).await.expect("router is infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body reads");
        TestResponse { status, headers, body }
    }

    pub async fn request(&self, method: Method, uri: &str) -> TestResponse {
        self.send(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.request(Method::GET, uri).await
    }

    pub async fn delete(&self, uri: &str) -> TestResponse {
        self.request(Method::DELETE, uri).await
    }

    /// `POST` with an optional content type.
    pub async fn post(&self, uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> TestResponse {
        let mut req = Request::builder().method(Method::POST).uri(uri);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        self.send(req.body(body.into()).expect("request")).await
    }

    /// `POST /v1/catalog` of a JSON array.
    pub async fn post_json(&self, records: &Value) -> TestResponse {
        self.post("/v1/catalog", Some("application/json"), records.to_string())
            .await
    }

    /// `POST /v1/events` of a JSON array.
    pub async fn post_events(&self, events: &Value) -> TestResponse {
        self.post("/v1/events", Some("application/json"), events.to_string())
            .await
    }

    /// Make every acknowledged write searchable.
    pub async fn refresh(&self) {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || engine.refresh())
            .await
            .expect("join")
            .expect("refresh");
    }
}

/// A buffered response.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Assert a JSON error of this status and code with exactly the documented fields;
    /// returns the body.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text());
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "content-type `{ct}`; body: {}",
            self.text()
        );
        let body = self.json();
        let obj = body.as_object().expect("error body is an object");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "link", "message", "type"], "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["link"], format!("https://needle.dev/docs/errors#{code}"), "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert!(self.headers.contains_key("x-request-id"), "no x-request-id");
        body
    }
}

/// A small catalog: two artists, an album, three tracks, a show and an episode.
pub fn sample_catalog() -> Value {
    serde_json::json!([
        {"id": "ar1", "type": "artist", "name": "Adele", "popularity": 90},
        {"id": "ar2", "type": "artist", "name": "Radiohead", "popularity": 80},
        {"id": "al1", "type": "album", "name": "25", "artist_ids": ["ar1"], "release_date": "2015-11-20"},
        {"id": "t1", "type": "track", "name": "Hello", "artist_ids": ["ar1"], "album_id": "al1",
         "duration_ms": 295000, "popularity": 85, "tags": ["pop"]},
        {"id": "t2", "type": "track", "name": "Karma Police", "artist_ids": ["ar2"], "popularity": 70,
         "tags": ["rock"], "release_date": "1997"},
        {"id": "t3", "type": "track", "name": "Creep", "artist_ids": ["ar2"], "popularity": 75, "tags": ["rock"]},
        {"id": "s1", "type": "show", "name": "Song Exploder", "publisher": "Hrishikesh Hirway"},
        {"id": "e1", "type": "episode", "name": "Radiohead - Creep", "show_id": "s1", "duration_ms": 1200000}
    ])
}
