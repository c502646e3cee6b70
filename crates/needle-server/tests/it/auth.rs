//! Access control and limits: API keys and scopes, listener tokens, rate limits, bounded
//! concurrency, and the configuration rules around them (`crate::auth`, `crate::limits`).

use crate::common::{TestApp, TestResponse};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request};
use needle_core::time::{Clock, ManualClock};
use needle_server::auth::{AuthConfig, KeyConfig, Scope};
use needle_server::Config;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const ADMIN: &str = "admin-key-0123456789abcdef";
pub(crate) const INGEST: &str = "ingest-key-0123456789abcdef";
pub(crate) const SEARCH: &str = "search-key-0123456789abcdef";
const BOTH: &str = "both-key-0123456789abcdef";
pub(crate) const SECRET: &str = "token-secret-0123456789abcdef-0123456789";

pub(crate) fn keys() -> Vec<KeyConfig> {
    let key = |name: &str, key: &str, scopes: &[Scope]| KeyConfig {
        name: name.into(),
        key: key.into(),
        scopes: scopes.to_vec(),
    };
    vec![
        key("ops", ADMIN, &[Scope::Admin]),
        key("pipeline", INGEST, &[Scope::Ingest]),
        key("backend", SEARCH, &[Scope::Search]),
        key("both", BOTH, &[Scope::Search, Scope::Ingest]),
    ]
}

/// A server with the four keys and a token secret, changed by `f`.
fn secured(f: impl FnOnce(&mut Config)) -> TestApp {
    secured_at(needle_core::time::system(), f)
}

/// [`secured`], reading the time from `clock`.
pub(crate) fn secured_at(clock: Arc<dyn Clock>, f: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::with_clock(clock, |c| {
        c.auth = AuthConfig {
            keys: keys(),
            token_secret: Some(SECRET.into()),
            ..AuthConfig::default()
        };
        f(c);
    })
}

/// How a request carries its credential.
#[derive(Clone, Copy)]
pub(crate) enum Cred<'a> {
    None,
    Bearer(&'a str),
    Header(&'a str),
}

pub(crate) fn request(method: Method, uri: &str, cred: Cred<'_>, body: Option<Value>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(uri);
    match cred {
        Cred::None => {}
        Cred::Bearer(k) => r = r.header(header::AUTHORIZATION, format!("Bearer {k}")),
        Cred::Header(k) => r = r.header("x-api-key", k),
    }
    match body {
        Some(b) => {
            // As every HTTP/1.1 client sends it.
            let b = b.to_string();
            r.header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, b.len())
                .body(Body::from(b))
                .expect("request")
        }
        None => r.body(Body::empty()).expect("request"),
    }
}

pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    uri: &str,
    cred: Cred<'_>,
    body: Option<Value>,
) -> TestResponse {
    app.send(request(method, uri, cred, body)).await
}

fn header_of<'a>(res: &'a TestResponse, name: &str) -> &'a str {
    res.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub(crate) async fn mint(app: &TestApp, user_id: &str, ttl_s: u64) -> String {
    let res = call(
        app,
        Method::POST,
        "/v1/admin/tokens",
        Cred::Bearer(ADMIN),
        Some(json!({"user_id": user_id, "ttl_s": ttl_s})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    let expires = body["expires_at"].as_str().expect("expires_at");
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    body["token"].as_str().expect("token").to_string()
}

pub(crate) fn events(users: &[&str]) -> Value {
    let list: Vec<Value> = users
        .iter()
        .map(|u| json!({"user_id": u, "type": "play", "item_id": "t1", "ts": 1_700_000_000_000_i64}))
        .collect();
    Value::Array(list)
}

#[tokio::test]
async fn open_on_loopback_without_keys() {
    let app = TestApp::new();
    for uri in ["/v1/stats", "/v1/search?q=a", "/v1/catalog/nope"] {
        let res = app.get(uri).await;
        assert!(![401, 403].contains(&res.status.as_u16()), "{uri}: {}", res.text());
    }
    // A key sent to an open server is ignored, not refused.
    let res = call(
        &app,
        Method::GET,
        "/v1/stats",
        Cred::Bearer("whatever-key-000000"),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // Tokens need a secret.
    call(
        &app,
        Method::POST,
        "/v1/admin/tokens",
        Cred::None,
        Some(json!({"user_id": "u1"})),
    )
    .await
    .assert_error(501, "tokens_not_configured");
}

#[tokio::test]
async fn missing_or_invalid_keys_are_401_with_a_challenge() {
    let app = secured(|_| {});
    let res = app.get("/v1/stats").await;
    let body = res.assert_error(401, "missing_api_key");
    assert!(body["message"].as_str().unwrap_or("").contains("X-Api-Key"), "{body}");
    assert_eq!(header_of(&res, "www-authenticate"), "Bearer realm=\"needle\"");

    for cred in [
        Cred::Bearer("not-a-key-0123456789abcdef"),
        Cred::Header("not-a-key-0123456789abcdef"),
        Cred::Bearer(&ADMIN[1..]),
    ] {
        let res = call(&app, Method::GET, "/v1/stats", cred, None).await;
        res.assert_error(401, "invalid_api_key");
        assert!(header_of(&res, "www-authenticate").contains("invalid_token"));
    }
    let basic = Request::builder()
        .uri("/v1/stats")
        .header(header::AUTHORIZATION, format!("Basic {ADMIN}"))
        .body(Body::empty())
        .expect("request");
    app.send(basic).await.assert_error(401, "invalid_api_key");
    // Unknown routes are not revealed to strangers.
    app.get("/v1/nope").await.assert_error(401, "missing_api_key");
    call(&app, Method::GET, "/v1/nope", Cred::Bearer(ADMIN), None)
        .await
        .assert_error(404, "route_not_found");
}

#[tokio::test]
async fn health_metrics_openapi_and_the_page_stay_open() {
    let app = secured(|c| {
        c.rate_limit.requests_per_s = 0.001;
        c.rate_limit.burst = 1;
    });
    for _ in 0..3 {
        for uri in [
            "/health/live",
            "/health/ready",
            "/metrics",
            "/openapi.json",
            "/",
            "/ui/app.js",
            "/ui/style.css",
        ] {
            let res = app.get(uri).await;
            assert_eq!(res.status, 200, "{uri}: {}", res.text());
        }
    }
}

/// Every protected route, the scope it needs, and whether a listener token for `u1` may call it.
fn route_table() -> Vec<(Method, &'static str, Option<Value>, Scope)> {
    vec![
        (
            Method::POST,
            "/v1/catalog",
            Some(json!([{"id": "t9", "type": "track", "name": "Nine"}])),
            Scope::Admin,
        ),
        (Method::DELETE, "/v1/catalog/t9", None, Scope::Admin),
        (Method::GET, "/v1/catalog/t1", None, Scope::Search),
        (Method::GET, "/v1/stats", None, Scope::Search),
        (Method::GET, "/v1/search?q=hello", None, Scope::Search),
        (Method::POST, "/v1/events", Some(events(&["u9"])), Scope::Ingest),
        (Method::GET, "/v1/users/u1/profile", None, Scope::Search),
        (Method::GET, "/v1/users/u1/history", None, Scope::Search),
        (Method::GET, "/v1/users/u1/recommendations", None, Scope::Search),
        (Method::POST, "/v1/users/u1/sessions", Some(json!({})), Scope::Search),
        (Method::GET, "/v1/sessions/s1/next", None, Scope::Search),
        (Method::GET, "/v1/items/t1/similar", None, Scope::Search),
        (
            Method::POST,
            "/v1/recommendations/continue",
            Some(json!({"item_ids": ["t1"]})),
            Scope::Search,
        ),
        (Method::DELETE, "/v1/users/u8", None, Scope::Admin),
        (Method::GET, "/v1/admin/jobs", None, Scope::Admin),
        (Method::GET, "/v1/admin/model", None, Scope::Admin),
        (Method::GET, "/v1/admin/recommendations/quality", None, Scope::Admin),
        (
            Method::POST,
            "/v1/admin/tokens",
            Some(json!({"user_id": "u1"})),
            Scope::Admin,
        ),
    ]
}

#[tokio::test]
async fn each_scope_is_refused_where_it_should_be_and_accepted_where_it_should() {
    let app = secured(|_| {});
    app.send(request(
        Method::POST,
        "/v1/catalog",
        Cred::Bearer(ADMIN),
        Some(crate::common::sample_catalog()),
    ))
    .await;
    let holders: [(&str, &[Scope]); 4] = [
        (ADMIN, &[Scope::Admin, Scope::Ingest, Scope::Search]),
        (INGEST, &[Scope::Ingest]),
        (SEARCH, &[Scope::Search]),
        (BOTH, &[Scope::Search, Scope::Ingest]),
    ];
    for (i, (key, has)) in holders.iter().enumerate() {
        for (method, uri, body, needs) in route_table() {
            // Alternate the two ways of sending a key.
            let cred = if i % 2 == 0 {
                Cred::Bearer(key)
            } else {
                Cred::Header(key)
            };
            let res = call(&app, method.clone(), uri, cred, body).await;
            let status = res.status.as_u16();
            if has.contains(&needs) {
                assert!(
                    ![401, 403].contains(&status),
                    "{method} {uri} with scopes {has:?}: {status} {}",
                    res.text()
                );
            } else {
                let body = res.assert_error(403, "forbidden_scope");
                let message = body["message"].as_str().unwrap_or("");
                assert!(
                    message.contains(&format!("scope `{}`", needs.as_str())),
                    "{method} {uri}: {message}"
                );
            }
        }
    }
    // Refused before the handler: the training trigger is never run by a non-admin.
    for key in [INGEST, SEARCH, BOTH] {
        call(&app, Method::POST, "/v1/admin/train", Cred::Bearer(key), None)
            .await
            .assert_error(403, "forbidden_scope");
    }
}

#[tokio::test]
async fn a_listener_token_reads_only_its_listener() {
    let app = secured(|_| {});
    let res = call(
        &app,
        Method::POST,
        "/v1/events",
        Cred::Bearer(INGEST),
        Some(events(&["u1", "u2", "lfm:user 2"])),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());

    let token = mint(&app, "u1", 600).await;
    assert!(token.starts_with("ndt1."), "{token}");
    for uri in ["/v1/users/u1/profile", "/v1/users/u1/history"] {
        let res = call(&app, Method::GET, uri, Cred::Bearer(&token), None).await;
        assert_eq!(res.status, 200, "{uri}: {}", res.text());
    }
    for (method, uri, body) in [
        (Method::GET, "/v1/users/u1/recommendations", None),
        (Method::POST, "/v1/users/u1/sessions", Some(json!({}))),
        (Method::GET, "/v1/sessions/s1/next", None),
    ] {
        let res = call(&app, method.clone(), uri, Cred::Bearer(&token), body).await;
        assert!(
            ![401, 403].contains(&res.status.as_u16()),
            "{method} {uri}: {}",
            res.text()
        );
    }
    // A session of another listener: 403, even with its id.
    let res = call(
        &app,
        Method::POST,
        "/v1/users/u2/sessions",
        Cred::Bearer(ADMIN),
        Some(json!({})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let sid = res.json()["session_id"].as_str().unwrap().to_string();
    call(
        &app,
        Method::GET,
        &format!("/v1/sessions/{sid}/next"),
        Cred::Bearer(&token),
        None,
    )
    .await
    .assert_error(403, "forbidden_listener");
    // Another listener: 403.
    for uri in [
        "/v1/users/u2/profile",
        "/v1/users/u2/history",
        "/v1/users/u2/recommendations",
        "/v1/users/u1%20/profile",
    ] {
        call(&app, Method::GET, uri, Cred::Bearer(&token), None)
            .await
            .assert_error(403, "forbidden_listener");
    }
    call(
        &app,
        Method::POST,
        "/v1/users/u2/sessions",
        Cred::Bearer(&token),
        Some(json!({})),
    )
    .await
    .assert_error(403, "forbidden_listener");
    // Anything else: 403 forbidden_scope (also via X-Api-Key).
    for (method, uri, body) in [
        (Method::GET, "/v1/search?q=hello", None),
        (Method::GET, "/v1/stats", None),
        (Method::GET, "/v1/catalog/t1", None),
        (Method::GET, "/v1/items/t1/similar", None),
        (Method::POST, "/v1/events", Some(events(&["u1"]))),
        (Method::DELETE, "/v1/users/u1", None),
        (Method::POST, "/v1/admin/tokens", Some(json!({"user_id": "u1"}))),
    ] {
        call(&app, method, uri, Cred::Header(&token), body)
            .await
            .assert_error(403, "forbidden_scope");
    }

    // Ids are compared decoded, the way the route reads them.
    let token = mint(&app, "lfm:user 2", 600).await;
    let res = call(
        &app,
        Method::GET,
        "/v1/users/lfm%3Auser%202/profile",
        Cred::Bearer(&token),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["user_id"], "lfm:user 2");

    // A token signed with another secret is not valid here.
    let other = secured(|c| c.auth.token_secret = Some("another-secret-0123456789-0123456789".into()));
    let foreign = mint(&other, "u1", 600).await;
    call(&app, Method::GET, "/v1/users/u1/profile", Cred::Bearer(&foreign), None)
        .await
        .assert_error(401, "invalid_api_key");
}

#[tokio::test]
async fn tokens_expire() {
    let clock = ManualClock::at_system_time();
    let app = secured_at(clock.clone(), |_| {});
    call(
        &app,
        Method::POST,
        "/v1/events",
        Cred::Bearer(ADMIN),
        Some(events(&["u1"])),
    )
    .await;
    let token = mint(&app, "u1", 1).await;
    let res = call(&app, Method::GET, "/v1/users/u1/profile", Cred::Bearer(&token), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    clock.advance_ms(999);
    let res = call(&app, Method::GET, "/v1/users/u1/profile", Cred::Bearer(&token), None).await;
    assert_eq!(res.status, 200, "valid until its last millisecond: {}", res.text());
    clock.advance_ms(1);
    let res = call(&app, Method::GET, "/v1/users/u1/profile", Cred::Bearer(&token), None).await;
    res.assert_error(401, "token_expired");
    let challenge = header_of(&res, "www-authenticate");
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains("expired"),
        "{challenge}"
    );
}

#[tokio::test]
async fn minting_checks_its_input_and_needs_a_secret() {
    let app = secured(|c| c.auth.token_max_ttl_s = 600);
    for (body, code, field) in [
        (json!({"user_id": "u1", "ttl_s": 601}), "invalid_field", "`ttl_s`"),
        (json!({"user_id": "u1", "ttl_s": 0}), "invalid_field", "`ttl_s`"),
        (json!({"ttl_s": 60}), "missing_field", "`user_id`"),
        (json!({"user_id": ""}), "invalid_id", "`user_id`"),
        (
            json!({"user_id": "u1", "scopes": ["admin"]}),
            "unknown_field",
            "`scopes`",
        ),
        (json!(["u1"]), "invalid_json", "object"),
    ] {
        let res = call(
            &app,
            Method::POST,
            "/v1/admin/tokens",
            Cred::Bearer(ADMIN),
            Some(body.clone()),
        )
        .await;
        let err = res.assert_error(400, code);
        assert!(err["message"].as_str().unwrap_or("").contains(field), "{body}: {err}");
    }
    let no_secret = secured(|c| c.auth.token_secret = None);
    call(
        &no_secret,
        Method::POST,
        "/v1/admin/tokens",
        Cred::Bearer(ADMIN),
        Some(json!({"user_id": "u1"})),
    )
    .await
    .assert_error(501, "tokens_not_configured");
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_per_key() {
    // One request per 10 s sustained, bursts of 2; the clock moves only when told.
    let clock = ManualClock::at_system_time();
    let app = secured_at(clock.clone(), |c| {
        c.rate_limit.requests_per_s = 0.1;
        c.rate_limit.burst = 2;
    });
    for _ in 0..2 {
        let res = call(&app, Method::GET, "/v1/stats", Cred::Bearer(SEARCH), None).await;
        assert_eq!(res.status, 200, "{}", res.text());
    }
    let res = call(&app, Method::GET, "/v1/stats", Cred::Bearer(SEARCH), None).await;
    res.assert_error(429, "rate_limited");
    assert_eq!(header_of(&res, "retry-after"), "10");
    // The same key by the other header shares the bucket; another key has its own.
    call(&app, Method::GET, "/v1/stats", Cred::Header(SEARCH), None)
        .await
        .assert_error(429, "rate_limited");
    let res = call(&app, Method::GET, "/v1/stats", Cred::Bearer(ADMIN), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    // Tokens are limited per listener.
    let token = mint(&app, "u1", 60).await;
    for _ in 0..2 {
        let res = call(&app, Method::GET, "/v1/users/u1/history", Cred::Bearer(&token), None).await;
        assert_ne!(res.status, 429, "{}", res.text());
    }
    call(&app, Method::GET, "/v1/users/u1/history", Cred::Bearer(&token), None)
        .await
        .assert_error(429, "rate_limited");
    // Probes are never limited.
    assert_eq!(app.get("/health/ready").await.status, 200);
    // The bucket refills at the configured rate: one request after 10 s, not before.
    clock.advance_ms(9_000);
    let res = call(&app, Method::GET, "/v1/stats", Cred::Bearer(SEARCH), None).await;
    res.assert_error(429, "rate_limited");
    assert_eq!(header_of(&res, "retry-after"), "1");
    clock.advance_ms(1_000);
    let res = call(&app, Method::GET, "/v1/stats", Cred::Bearer(SEARCH), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    call(&app, Method::GET, "/v1/stats", Cred::Bearer(SEARCH), None)
        .await
        .assert_error(429, "rate_limited");
}

fn from_ip(mut req: Request<Body>, ip: &str) -> Request<Body> {
    let addr: SocketAddr = format!("{ip}:40000").parse().expect("addr");
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

#[tokio::test]
async fn open_servers_limit_per_client_ip_and_failed_keys_count_too() {
    // The clock stands still: no bucket refills during the test, however slow it runs.
    let clock = ManualClock::at_system_time();
    let app = TestApp::with_clock(clock.clone(), |c| {
        c.rate_limit.requests_per_s = 0.1;
        c.rate_limit.burst = 1;
    });
    let get = |ip: &str| from_ip(request(Method::GET, "/v1/stats", Cred::None, None), ip);
    assert_eq!(app.send(get("127.0.0.2")).await.status, 200);
    app.send(get("127.0.0.2")).await.assert_error(429, "rate_limited");
    assert_eq!(app.send(get("127.0.0.3")).await.status, 200);

    // With keys, wrong guesses from one IP are slowed down.
    let app = secured_at(clock, |c| {
        c.rate_limit.requests_per_s = 0.1;
        c.rate_limit.burst = 2;
    });
    let guess = |ip: &str| {
        from_ip(
            request(Method::GET, "/v1/stats", Cred::Bearer("guess-0123456789abcdef"), None),
            ip,
        )
    };
    app.send(guess("127.0.0.4")).await.assert_error(401, "invalid_api_key");
    app.send(guess("127.0.0.4")).await.assert_error(401, "invalid_api_key");
    app.send(guess("127.0.0.4")).await.assert_error(429, "rate_limited");
    app.send(guess("127.0.0.5")).await.assert_error(401, "invalid_api_key");
    // The right key still works from the guessing IP (its own bucket).
    let res = app
        .send(from_ip(
            request(Method::GET, "/v1/stats", Cred::Bearer(SEARCH), None),
            "127.0.0.4",
        ))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_answers_503_overloaded_with_retry_after() {
    let app = with_sample_catalog(|c| {
        c.concurrency.max_in_flight = 1;
        c.concurrency.max_waiting = 0;
    })
    .await;
    // All polled together: the first takes the only slot while the engine works, the
    // others find it taken and nobody may wait.
    let answers = sixteen_searches(&app).await;
    let overloaded: Vec<&TestResponse> = answers.iter().filter(|r| r.status == 503).collect();
    assert!(!overloaded.is_empty(), "no request was refused");
    assert!(answers.iter().any(|r| r.status == 200), "none answered");
    for r in &answers {
        assert!([200, 503].contains(&r.status.as_u16()), "{}", r.text());
    }
    for r in overloaded {
        r.assert_error(503, "overloaded");
        assert_eq!(header_of(r, "retry-after"), "1");
    }
    // Cheap requests do not take a slot, and the slot is free again afterwards.
    let res = call(&app, Method::GET, "/v1/stats", Cred::Bearer(SEARCH), None).await;
    assert_eq!(res.status, 200);
    let res = call(&app, Method::GET, "/v1/search?q=creep", Cred::Bearer(SEARCH), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admitted_requests_beyond_max_running_wait_their_turn_instead_of_failing() {
    let app = with_sample_catalog(|c| {
        c.concurrency.max_in_flight = 16;
        c.concurrency.max_running = 1;
        c.concurrency.max_waiting = 0;
    })
    .await;
    // Sixteen admitted at once, one computing at a time: all answer, none is refused.
    let answers = sixteen_searches(&app).await;
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let first = answers[0].json();
    assert!(!first["hits"].as_array().expect("hits").is_empty(), "{first}");
    assert!(answers.iter().all(|r| r.json()["hits"] == first["hits"]));
}

/// A request waiting for its replica to reach `min_seq` holds no turn: with one turn, a
/// plain search answers while such a request still waits (it would wait behind it for the
/// whole `read_wait_ms` if turns were taken before the wait).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_for_min_seq_holds_no_turn() {
    let app = with_sample_catalog(|c| {
        c.concurrency.max_running = 1;
        c.cluster.read_wait_ms = 600_000;
    })
    .await;
    let waiting = call(
        &app,
        Method::GET,
        "/v1/search?q=creep&min_seq=999999999",
        Cred::Bearer(SEARCH),
        None,
    );
    tokio::pin!(waiting);
    // One poll takes it through the middlewares to its wait for the entry.
    std::future::poll_fn(|cx| {
        assert!(
            std::future::Future::poll(waiting.as_mut(), cx).is_pending(),
            "answered at once"
        );
        std::task::Poll::Ready(())
    })
    .await;
    let plain = call(&app, Method::GET, "/v1/search?q=creep", Cred::Bearer(SEARCH), None);
    tokio::select! {
        biased;
        r = &mut waiting => panic!("the waiting request answered first: {} {}", r.status, r.text()),
        r = plain => assert_eq!(r.status, 200, "{}", r.text()),
    }
}

/// A refusal of a request with a body (not read) ends the connection, so a keep-alive
/// client does not send its next request on a connection the server closes; answers
/// without a body to refuse, and successes, keep it.
#[tokio::test]
async fn refusing_a_body_ends_the_connection_and_nothing_else_does() {
    let app = secured(|_| {});
    let refused = call(
        &app,
        Method::POST,
        "/v1/catalog",
        Cred::Bearer(SEARCH),
        Some(crate::common::sample_catalog()),
    )
    .await;
    refused.assert_error(403, "forbidden_scope");
    assert_eq!(header_of(&refused, "connection"), "close");
    let events = json!([{"user_id": "u", "type": "play", "item_id": "t", "ts": 1, "event_id": "e1"}]);
    let refused = call(&app, Method::POST, "/v1/events", Cred::None, Some(events.clone())).await;
    refused.assert_error(401, "missing_api_key");
    assert_eq!(header_of(&refused, "connection"), "close");
    let ok = call(&app, Method::POST, "/v1/events", Cred::Bearer(INGEST), Some(events)).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(header_of(&ok, "connection"), "");
    let bad = call(
        &app,
        Method::GET,
        "/v1/search?q=x&limit=many",
        Cred::Bearer(SEARCH),
        None,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(header_of(&bad, "connection"), "");
}

/// A secured app (`f` adjusts its configuration) holding the sample catalog, searchable.
async fn with_sample_catalog(f: impl FnOnce(&mut Config)) -> TestApp {
    let app = secured(f);
    let res = call(
        &app,
        Method::POST,
        "/v1/catalog",
        Cred::Bearer(ADMIN),
        Some(crate::common::sample_catalog()),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    app.refresh().await;
    app
}

/// Sixteen searches polled together.
async fn sixteen_searches(app: &TestApp) -> Vec<TestResponse> {
    let searches = (0..16).map(|_| {
        call(
            app,
            Method::GET,
            "/v1/search?q=radiohead%20creep",
            Cred::Bearer(SEARCH),
            None,
        )
    });
    futures_join_all(searches).await
}

/// `join_all` without a dependency: poll every future in order until all are done.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[tokio::test]
async fn body_batch_and_query_limits_hold_with_keys() {
    let app = secured(|c| {
        c.max_body_bytes = 1024;
        c.max_batch_records = 2;
    });
    let big = json!([{"id": "t1", "type": "track", "name": "x".repeat(2000)}]);
    call(
        &app,
        Method::POST,
        "/v1/catalog",
        Cred::Bearer(ADMIN),
        Some(big.clone()),
    )
    .await
    .assert_error(413, "payload_too_large");
    // Without a key the body is refused before it is read.
    call(&app, Method::POST, "/v1/catalog", Cred::None, Some(big))
        .await
        .assert_error(401, "missing_api_key");
    call(
        &app,
        Method::POST,
        "/v1/events",
        Cred::Bearer(INGEST),
        Some(events(&["a", "b", "c"])),
    )
    .await
    .assert_error(413, "batch_too_large");
    let long = format!("/v1/search?q={}", "a".repeat(513));
    let err = call(&app, Method::GET, &long, Cred::Bearer(SEARCH), None)
        .await
        .assert_error(400, "query_too_long");
    assert!(err["message"].as_str().unwrap_or("").contains("`q`"), "{err}");
}

#[test]
fn validation_refuses_a_public_address_without_keys() {
    let open = Config {
        http_addr: "0.0.0.0:7700".into(),
        ..Config::default()
    };
    let problems = open.validate().unwrap_err().problems().join("\n");
    assert!(problems.contains("auth.keys: no API key is configured"), "{problems}");
    assert!(problems.contains("--allow-open"), "{problems}");
    let v6 = Config {
        http_addr: "[::]:7700".into(),
        ..Config::default()
    };
    assert!(v6.validate().is_err());

    let mut allowed = open.clone();
    allowed.auth.allow_open = true;
    allowed.validate().expect("open on purpose");
    let mut keyed = open.clone();
    keyed.auth.keys = keys();
    keyed.validate().expect("keys");
    Config::default().validate().expect("loopback without keys");

    // The address actually bound is checked too.
    let public: SocketAddr = "0.0.0.0:7700".parse().expect("addr");
    let loopback: SocketAddr = "127.0.0.1:7700".parse().expect("addr");
    assert!(needle_server::auth::startup_check(&Config::default(), public).is_err());
    assert!(needle_server::auth::startup_check(&Config::default(), loopback).is_ok());
    assert!(needle_server::auth::startup_check(&allowed, public).is_ok());
    assert!(needle_server::auth::startup_check(&keyed, public).is_ok());
}

#[test]
fn keys_never_appear_in_debug_output() {
    let mut config = Config::default();
    config.auth.keys = keys();
    config.auth.token_secret = Some(SECRET.into());
    let shown = format!("{config:?}");
    for secret in [ADMIN, INGEST, SEARCH, BOTH, SECRET] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("backend"), "names are shown");
}

#[tokio::test]
async fn the_openapi_document_describes_access() {
    let app = TestApp::new();
    let doc = app.get("/openapi.json").await.json();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-Api-Key");
    let paths = &doc["paths"];
    assert_eq!(paths["/health/live"]["get"]["security"], json!([{}]));
    assert_eq!(paths["/v1/search"]["get"]["x-needle-scope"], "search");
    assert_eq!(paths["/v1/events"]["post"]["x-needle-scope"], "ingest");
    assert_eq!(paths["/v1/catalog"]["post"]["x-needle-scope"], "admin");
    assert_eq!(paths["/v1/users/{id}/profile"]["get"]["x-needle-listener-token"], true);
    assert!(paths["/v1/search"]["get"]["responses"]["401"].is_object());
    assert!(paths["/v1/search"]["get"]["responses"]["503"]["description"]
        .as_str()
        .unwrap_or("")
        .contains("overloaded"));
    assert_eq!(paths["/v1/admin/tokens"]["post"]["x-needle-scope"], "admin");
}

#[tokio::test]
async fn keys_and_client_ips_work_over_a_real_socket() {
    use needle_server::{serve_with_shutdown, AppState};
    use std::io::{Read, Write};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        http_addr: "127.0.0.1:0".into(),
        ..Config::default()
    };
    config.auth.keys = keys();
    config.rate_limit.requests_per_s = 0.1;
    config.rate_limit.burst = 1;
    let engine = Arc::new(needle_service::Service::open(config.service_config(true)).expect("engine"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // The clock stands still: the client's bucket does not refill during the test.
    let state = AppState::with_clock(engine, config, ManualClock::at_system_time());
    let server = tokio::spawn(serve_with_shutdown(listener, state, async {
        let _ = rx.await;
    }));
    let exchange = move |extra: &'static str| {
        tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            let head = format!("GET /v1/stats HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n{extra}\r\n");
            stream.write_all(head.as_bytes())?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        })
    };
    let r = exchange("").await.expect("join").expect("http");
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    assert!(
        r.to_ascii_lowercase()
            .contains("www-authenticate: bearer realm=\"needle\""),
        "{r}"
    );
    let r = exchange("x-api-key: search-key-0123456789abcdef\r\n")
        .await
        .expect("join")
        .expect("http");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // Failed attempts are limited by the client's address (known on a real socket).
    let r = exchange("x-api-key: wrong-key-0123456789abcdef\r\n")
        .await
        .expect("join")
        .expect("http");
    assert!(
        r.starts_with("HTTP/1.1 429"),
        "the earlier 401 used the IP's only request: {r}"
    );
    assert!(r.to_ascii_lowercase().contains("retry-after: 10"), "{r}");
    tx.send(()).expect("server still running");
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops in time")
        .expect("join");
    assert!(result.is_ok(), "{result:?}");
}
