//! Key rotation without restart (`auth.keys_file` reloaded: the function the poller and
//! SIGHUP call) and listener-token revocation (a write-log entry, kept across restarts).

use crate::auth::{call, events, mint, secured_at, Cred, ADMIN, INGEST, SEARCH};
use crate::common::{TestApp, TestResponse};
use axum::body::Body;
use axum::http::{header, Method, Request};
use needle_core::time::ManualClock;
use needle_server::auth::{AuthConfig, KeyConfig, Scope};
use std::path::Path;
use std::time::Duration;

const OLD: &str = "rotated-old-key-0123456789";
const NEW: &str = "rotated-new-key-0123456789";
const T0: i64 = 1_800_000_000_000;

fn write_keys(path: &Path, entries: &[(&str, &str, &str)]) {
    let mut toml = String::new();
    for (name, key, scope) in entries {
        toml.push_str(&format!(
            "[[keys]]\nname = \"{name}\"\nkey = \"{key}\"\nscopes = [\"{scope}\"]\n\n"
        ));
    }
    fs_err::write(path, toml).expect("writes the keys file");
}

/// A server with the inline admin key and `keys_file` holding `OLD` (search scope).
fn with_keys_file(dir: &Path) -> TestApp {
    let file = dir.join("keys.toml");
    write_keys(&file, &[("old", OLD, "search")]);
    TestApp::with(|c| {
        c.auth = AuthConfig {
            keys: vec![KeyConfig {
                name: "ops".into(),
                key: ADMIN.into(),
                scopes: vec![Scope::Admin],
            }],
            keys_file: Some(file),
            ..AuthConfig::default()
        };
    })
}

async fn get_as(app: &TestApp, uri: &str, token: &str) -> TestResponse {
    call(app, Method::GET, uri, Cred::Bearer(token), None).await
}

async fn stats_status(app: &TestApp, key: &str) -> u16 {
    call(app, Method::GET, "/v1/stats", Cred::Bearer(key), None)
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn a_changed_keys_file_is_swapped_in_without_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.toml");
    let app = with_keys_file(dir.path());
    assert_eq!(stats_status(&app, OLD).await, 200);
    assert_eq!(stats_status(&app, NEW).await, 401);
    // Unchanged file: the poller does nothing.
    assert!(app.state.reload_keys_if_changed().is_none());

    // The secret is rotated: NEW replaces OLD (a longer file: its size changed).
    write_keys(
        &file,
        &[("new", NEW, "search"), ("extra", "extra-key-0123456789abc", "ingest")],
    );
    let in_flight = app.state.keys().current();
    assert_eq!(app.state.reload_keys_if_changed().map(|r| r.expect("valid")), Some(3));
    assert_eq!(stats_status(&app, NEW).await, 200);
    call(&app, Method::GET, "/v1/stats", Cred::Bearer(OLD), None)
        .await
        .assert_error(401, "invalid_api_key");
    // Inline keys stay.
    assert_eq!(stats_status(&app, ADMIN).await, 200);
    // A request that took the keys before the swap finishes with them.
    assert_eq!(in_flight.key_names(), ["ops", "old"]);
    assert_eq!(app.state.keys().current().key_names(), ["ops", "new", "extra"]);
    assert!(app.state.reload_keys_if_changed().is_none());

    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains("needle_auth_keys_reloads_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("needle_auth_keys 3"), "{metrics}");
}

#[tokio::test]
async fn an_invalid_keys_file_keeps_the_keys_in_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.toml");
    let app = with_keys_file(dir.path());
    let short = "short-secret";
    type Breaks<'a> = Box<dyn Fn(&Path) + 'a>;
    let broken: [(&str, Breaks<'_>, &str); 4] = [
        (
            "a short key",
            Box::new(|p: &Path| write_keys(p, &[("new", NEW, "search"), ("bad", short, "search")])),
            "keys[1].key",
        ),
        (
            "a name used twice",
            Box::new(|p: &Path| write_keys(p, &[("ops", NEW, "search")])),
            "keys[0].name",
        ),
        (
            "not TOML",
            Box::new(|p: &Path| fs_err::write(p, format!("[[keys]]\nkey = \"{short}")).expect("writes")),
            "auth.keys_file",
        ),
        (
            "gone",
            Box::new(|p: &Path| fs_err::remove_file(p).expect("removes")),
            "does not exist",
        ),
    ];
    for (i, (what, break_it, named)) in broken.iter().enumerate() {
        break_it(&file);
        let err = app.state.reload_keys().expect_err(what);
        let message = err.to_string();
        assert!(message.contains(named), "{what}: {message}");
        assert!(
            !message.contains(short) && !message.contains(NEW),
            "{what} quotes a key: {message}"
        );
        // Nothing changed: the old file's key still works, the new one is refused.
        assert_eq!(stats_status(&app, OLD).await, 200, "{what}");
        assert_eq!(stats_status(&app, NEW).await, 401, "{what}");
        let metrics = app.get("/metrics").await.text();
        let failed = format!("needle_auth_keys_reloads_total{{outcome=\"failed\"}} {}", i + 1);
        assert!(metrics.contains(&failed), "{what}: {metrics}");
    }
    // Fixed: the next reload swaps in.
    write_keys(&file, &[("new", NEW, "search")]);
    assert_eq!(app.state.reload_keys().expect("valid"), 2);
    assert_eq!(stats_status(&app, NEW).await, 200);
}

#[tokio::test]
async fn a_reload_never_turns_access_control_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.toml");
    write_keys(&file, &[("old", OLD, "search")]);
    let app = TestApp::with(|c| {
        c.auth = AuthConfig {
            keys_file: Some(file.clone()),
            ..AuthConfig::default()
        };
    });
    fs_err::write(&file, "keys = []\n").expect("writes");
    let err = app.state.reload_keys().expect_err("no key left");
    assert!(err.to_string().contains("access control off"), "{err}");
    assert_eq!(stats_status(&app, OLD).await, 200);
    call(&app, Method::GET, "/v1/stats", Cred::None, None)
        .await
        .assert_error(401, "missing_api_key");
}

#[tokio::test]
async fn revoked_tokens_are_refused_and_stay_refused_after_a_restart() {
    let clock = ManualClock::new(T0);
    let app = secured_at(clock.clone(), |_| {});
    let res = call(
        &app,
        Method::POST,
        "/v1/events",
        Cred::Bearer(INGEST),
        Some(events(&["u1", "u2"])),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let old = mint(&app, "u1", 3600).await;
    let other = mint(&app, "u2", 3600).await;
    let history = "/v1/users/u1/history";
    assert_eq!(get_as(&app, history, &old).await.status, 200);

    // Only an admin key revokes.
    clock.advance(Duration::from_millis(250));
    let uri = "/v1/users/u1/tokens/revoke";
    call(&app, Method::POST, uri, Cred::Bearer(SEARCH), None)
        .await
        .assert_error(403, "forbidden_scope");
    call(&app, Method::POST, uri, Cred::Bearer(&old), None)
        .await
        .assert_error(403, "forbidden_scope");
    call(
        &app,
        Method::POST,
        "/v1/users/%20/tokens/revoke",
        Cred::Bearer(ADMIN),
        None,
    )
    .await
    .assert_error(400, "invalid_id");
    let text = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("revoke please"))
        .expect("request");
    app.send(text).await.assert_error(415, "unsupported_media_type");
    assert_eq!(get_as(&app, history, &old).await.status, 200, "nothing revoked yet");
    let res = call(&app, Method::POST, uri, Cred::Bearer(ADMIN), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert!(body["seq"].as_u64().is_some_and(|s| s > 0), "{body}");
    insta::assert_json_snapshot!("tokens_revoked", body, { ".seq" => "[seq]" });

    let refused = get_as(&app, history, &old).await;
    refused.assert_error(401, "token_revoked");
    let challenge = refused.headers.get("www-authenticate").and_then(|v| v.to_str().ok());
    assert!(challenge.is_some_and(|c| c.contains("revoked")), "{challenge:?}");
    // Another listener's token is untouched; a token minted after the revocation (even
    // in the same millisecond) works.
    assert_eq!(get_as(&app, "/v1/users/u2/history", &other).await.status, 200);
    let fresh = mint(&app, "u1", 3600).await;
    assert_eq!(get_as(&app, history, &fresh).await.status, 200);

    // A restart on the same data directory keeps the revocation.
    let app = app.reopen();
    get_as(&app, history, &old).await.assert_error(401, "token_revoked");
    assert_eq!(get_as(&app, history, &fresh).await.status, 200);

    // Erasing a listener revokes their tokens too.
    clock.advance(Duration::from_millis(1));
    let res = call(&app, Method::DELETE, "/v1/users/u2", Cred::Bearer(ADMIN), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    get_as(&app, "/v1/users/u2/profile", &other)
        .await
        .assert_error(401, "token_revoked");
}
