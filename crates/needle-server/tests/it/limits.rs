//! Bounds on what a request may be: its URI and headers (`414`, `431`), its encoding
//! (`gzip` decompressed under `max_body_bytes`, anything else `415`), its body's shape
//! (a JSON scalar is no batch) and content type, the length of its records' fields, and
//! its ids (not blank).

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Method, Request};
use flate2::write::GzEncoder;
use flate2::Compression;
use needle_server::routes::{MAX_HEADER_BYTES, MAX_URI_BYTES};
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn post_encoded(uri: &str, encoding: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_ENCODING, encoding)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test]
async fn long_uris_are_json_414_and_large_headers_json_431() {
    let app = TestApp::new();
    // At the limit: answered by the route (a search for `aaa…` is a 400 for `q`, not 414).
    let q = "a".repeat(MAX_URI_BYTES - "/v1/search?q=".len());
    let res = app.get(&format!("/v1/search?q={q}")).await;
    assert_ne!(res.status.as_u16(), 414, "{}", res.text());
    let res = app.get(&format!("/v1/search?q={q}b")).await;
    let body = res.assert_error(414, "uri_too_long");
    assert!(body["message"].as_str().unwrap_or("").contains("8192"), "{body}");
    // Also on unknown paths: the bound comes before routing and access control.
    app.get(&format!("/{}", "x".repeat(MAX_URI_BYTES)))
        .await
        .assert_error(414, "uri_too_long");

    let big = |n: usize| {
        Request::get("/health/live")
            .header("x-filler", "v".repeat(n))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(app.send(big(MAX_HEADER_BYTES / 2)).await.status, 200);
    let res = app.send(big(MAX_HEADER_BYTES)).await;
    let body = res.assert_error(431, "headers_too_large");
    assert!(body["message"].as_str().unwrap_or("").contains("32768"), "{body}");
}

/// Over a real socket, hyper lets our bounds answer: the client sees JSON, not hyper's
/// empty 414/431 (which only comes beyond hyper's own, much higher, limits).
#[tokio::test]
async fn over_a_socket_the_json_answers_are_what_clients_see() {
    use needle_server::{serve_with_shutdown, AppState, Config};
    use std::io::Read;
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        http_addr: "127.0.0.1:0".into(),
        ..Config::default()
    };
    let engine = std::sync::Arc::new(needle_service::Service::open(config.service_config(true)).expect("engine"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_shutdown(listener, AppState::new(engine, config), async {
        let _ = rx.await;
    }));
    let exchange = move |request: String| -> String {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        stream.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    };
    let (uri, headers) = tokio::task::spawn_blocking(move || {
        let long_uri = format!("/v1/search?q={}", "a".repeat(MAX_URI_BYTES * 4));
        let uri = exchange(format!(
            "GET {long_uri} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
        ));
        let filler = "v".repeat(MAX_HEADER_BYTES * 4);
        let headers = exchange(format!(
            "GET /health/live HTTP/1.1\r\nhost: localhost\r\nx-filler: {filler}\r\nconnection: close\r\n\r\n"
        ));
        (uri, headers)
    })
    .await
    .expect("join");
    assert!(uri.starts_with("HTTP/1.1 414"), "{uri}");
    assert!(uri.contains("\"code\":\"uri_too_long\""), "{uri}");
    assert!(headers.starts_with("HTTP/1.1 431"), "{headers}");
    assert!(headers.contains("\"code\":\"headers_too_large\""), "{headers}");
    tx.send(()).expect("server still running");
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops in time")
        .expect("join");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn a_gzip_bomb_is_json_413_on_its_decompressed_size() {
    let app = TestApp::with(|c| c.max_body_bytes = 64 * 1024);
    // 8 MiB of blank lines compresses to a few KiB: small on the wire, large inflated.
    let bomb = gzip(&vec![b'\n'; 8 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    for uri in ["/v1/catalog", "/v1/events"] {
        let res = app
            .send(post_encoded(uri, "gzip", "application/x-ndjson", bomb.clone()))
            .await;
        let body = res.assert_error(413, "payload_too_large");
        assert!(body["message"].as_str().unwrap_or("").contains("65536"), "{body}");
    }
    // A JSON endpoint too.
    let res = app
        .send(post_encoded("/v1/admin/tokens", "gzip", "application/json", bomb))
        .await;
    res.assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn other_encodings_are_json_415_and_broken_gzip_is_400() {
    let app = TestApp::new();
    for encoding in ["br", "deflate", "zstd", "gzip, br", "compress"] {
        let res = app
            .send(post_encoded(
                "/v1/catalog",
                encoding,
                "application/x-ndjson",
                b"{}".to_vec(),
            ))
            .await;
        let body = res.assert_error(415, "unsupported_encoding");
        assert!(body["message"].as_str().unwrap_or("").contains(encoding), "{body}");
    }
    let mut broken = gzip(b"{\"id\":\"a\"}\n");
    broken.truncate(broken.len() / 2);
    let res = app
        .send(post_encoded("/v1/catalog", "gzip", "application/x-ndjson", broken))
        .await;
    res.assert_error(400, "invalid_body");
    // Not gzip at all.
    let res = app
        .send(post_encoded(
            "/v1/events",
            "gzip",
            "application/x-ndjson",
            b"{}\n".to_vec(),
        ))
        .await;
    res.assert_error(400, "invalid_body");
}

#[tokio::test]
async fn a_json_scalar_body_is_400_on_every_batch_endpoint() {
    let app = TestApp::new();
    for uri in ["/v1/catalog", "/v1/events"] {
        for (ct, body) in [
            (None, "42"),
            (Some("application/json"), "null"),
            (Some("application/x-ndjson"), "\"x\"\n"),
            (None, " true "),
        ] {
            let res = app.post(uri, ct, body).await;
            let err = res.assert_error(400, "invalid_record");
            assert!(err["message"].as_str().unwrap_or("").contains("not records"), "{err}");
        }
    }
}

#[tokio::test]
async fn json_endpoints_refuse_other_content_types_with_415() {
    let app = TestApp::new();
    for (uri, body) in [
        ("/v1/admin/train", "{}"),
        ("/v1/recommendations/continue", r#"{"seed_ids":["t1"]}"#),
        ("/v1/users/u1/sessions", "{}"),
        ("/v1/admin/tokens", r#"{"user_id":"u1"}"#),
    ] {
        for ct in ["text/plain", "application/x-www-form-urlencoded"] {
            let res = app.post(uri, Some(ct), body).await;
            let err = res.assert_error(415, "unsupported_media_type");
            assert!(err["message"].as_str().unwrap_or("").contains(ct), "{uri}: {err}");
        }
    }
    // JSON itself passes the check (and fails later, or not, for its own reasons).
    let res = app
        .post("/v1/recommendations/continue", Some("application/json"), "{}")
        .await;
    assert_eq!(res.status.as_u16(), 400, "{}", res.text());
}

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

/// The `400` the OpenAPI document lists for `GET /v1/admin/jobs/{id}`.
#[tokio::test]
async fn a_job_id_that_is_not_utf8_is_400() {
    let app = TestApp::new();
    app.get("/v1/admin/jobs/%FF")
        .await
        .assert_error(400, "invalid_parameter");
}

mod needs_engine {
    use super::{gzip, post_encoded};
    use crate::common::TestApp;
    use serde_json::json;

    #[tokio::test]
    async fn a_gzip_body_is_read_decompressed() {
        let app = TestApp::new();
        let ndjson = "{\"id\":\"a1\",\"type\":\"artist\",\"name\":\"Adele\"}\n{\"id\":\"t1\",\"type\":\"track\",\"name\":\"Hello\"}\n";
        let res = app
            .send(post_encoded(
                "/v1/catalog",
                "gzip",
                "application/x-ndjson",
                gzip(ndjson.as_bytes()),
            ))
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        let report = res.json();
        assert_eq!(report["accepted"], 2, "{report}");
        assert_eq!(report["rejected"], json!([]), "{report}");
        let res = app.get("/v1/catalog/t1").await;
        assert_eq!(res.json()["name"], "Hello");
    }

    #[tokio::test]
    async fn a_scalar_line_among_records_is_rejected_alone() {
        let app = TestApp::new();
        let res = app
            .post(
                "/v1/catalog",
                Some("application/x-ndjson"),
                "{\"id\":\"a1\",\"type\":\"artist\",\"name\":\"Adele\"}\n42\n",
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        let report = res.json();
        assert_eq!(report["accepted"], 1, "{report}");
        assert_eq!(report["rejected"][0]["index"], 1, "{report}");
        assert_eq!(report["rejected"][0]["code"], "invalid_record", "{report}");
    }

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

/// A request body that arrives only when the test sends it: a write in flight.
struct Held(Option<tokio::sync::oneshot::Receiver<axum::body::Bytes>>);

impl http_body::Body for Held {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        let Some(rx) = self.0.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        match std::pin::Pin::new(rx).poll(cx) {
            std::task::Poll::Pending => std::task::Poll::Pending,
            std::task::Poll::Ready(got) => {
                self.0 = None;
                std::task::Poll::Ready(got.ok().map(|b| Ok(http_body::Frame::data(b))))
            }
        }
    }
}

#[tokio::test]
async fn batch_writes_beyond_max_writes_in_flight_are_503_before_their_body_is_read() {
    let app = TestApp::with(|c| {
        c.concurrency.max_writes_in_flight = 1;
        c.concurrency.max_write_wait_ms = 0;
    });
    let (send_body, rx) = tokio::sync::oneshot::channel();
    let held = Request::post("/v1/catalog")
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::new(Held(Some(rx))))
        .expect("request");
    let router = app.router.clone();
    let first = tokio::spawn(tower::ServiceExt::oneshot(router, held));
    // Let the held write run: it takes the only slot, then waits for its body.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!first.is_finished(), "the held write waits for its body");
    let event = serde_json::json!([{"user_id": "u", "type": "play", "item_id": "t1", "ts": 1_700_000_000_000_i64}]);
    let refused = app.post_events(&event).await;
    let body = refused.assert_error(503, "overloaded");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("concurrency.max_writes_in_flight"),
        "{body}"
    );
    assert_eq!(
        refused.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    // Reads take no write slot.
    assert_eq!(app.get("/v1/stats").await.status, 200);
    // The held write finishes once its body arrives, and frees its slot.
    send_body
        .send(axum::body::Bytes::from_static(
            br#"{"id":"t1","type":"track","name":"Held"}"#,
        ))
        .expect("the write still waits for its body");
    let res = first.await.expect("join").expect("infallible");
    assert_eq!(res.status(), 200);
    assert_eq!(app.post_events(&event).await.status, 200);
}
