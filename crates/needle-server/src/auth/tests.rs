use super::*;

const KEY_A: &str = "admin-key-0123456789";
const KEY_S: &str = "search-key-0123456789";
const KEY_I: &str = "ingest-key-0123456789";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn key(name: &str, key: &str, scopes: &[Scope]) -> KeyConfig {
    KeyConfig {
        name: name.into(),
        key: key.into(),
        scopes: scopes.to_vec(),
    }
}

fn config() -> AuthConfig {
    AuthConfig {
        keys: vec![
            key("ops", KEY_A, &[Scope::Admin]),
            key("app", KEY_S, &[Scope::Search]),
            key("pipe", KEY_I, &[Scope::Ingest]),
        ],
        token_secret: Some(SECRET.into()),
        ..AuthConfig::default()
    }
}

fn headers(name: &str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
        HeaderValue::from_str(value).expect("value"),
    );
    h
}

fn code_of(refusal: Refusal) -> (u16, Option<String>) {
    let response = refusal.into_response();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (response.status().as_u16(), challenge)
}

#[test]
fn debug_output_never_shows_secrets() {
    let cfg = config();
    let shown = format!("{cfg:?} {:?}", Access::from_config(&cfg).expect("access"));
    for secret in [KEY_A, KEY_S, KEY_I, SECRET] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("ops") && shown.contains("[redacted]"), "{shown}");
    let signer = TokenSigner::new(SECRET.as_bytes()).expect("signer");
    assert!(!format!("{signer:?}").contains(SECRET));
}

#[test]
fn scopes_admin_implies_all() {
    let admin = Scopes::of(&[Scope::Admin]);
    assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
    let search = Scopes::of(&[Scope::Search]);
    assert!(search.allows(Scope::Search));
    assert!(!search.allows(Scope::Ingest) && !search.allows(Scope::Admin));
    assert_eq!(
        Scopes::of(&[Scope::Search, Scope::Ingest]).to_string(),
        "ingest, search"
    );
    assert_eq!(Scopes::default().to_string(), "no scope");
}

#[test]
fn classification_of_every_route() {
    use Scope::*;
    let cases: &[(&str, &str, Option<Scope>, bool, bool)] = &[
        // method, path, scope, listener token ok, expensive
        ("GET", "/", None, false, false),
        ("GET", "/ui/app.js", None, false, false),
        ("GET", "/health/live", None, false, false),
        ("GET", "/health/ready", None, false, false),
        ("GET", "/metrics", None, false, false),
        ("GET", "/openapi.json", None, false, false),
        ("POST", "/v1/catalog", Some(Admin), false, false),
        ("DELETE", "/v1/catalog/t1", Some(Admin), false, false),
        ("GET", "/v1/catalog/t1", Some(Search), false, false),
        ("HEAD", "/v1/catalog/t1", Some(Search), false, false),
        ("GET", "/v1/stats", Some(Search), false, false),
        ("GET", "/v1/search", Some(Search), false, true),
        ("POST", "/v1/events", Some(Ingest), false, false),
        ("GET", "/v1/events", Some(Admin), false, false),
        ("DELETE", "/v1/users/u1", Some(Admin), false, false),
        ("GET", "/v1/users/u1/profile", Some(Search), true, false),
        ("GET", "/v1/users/u1/history", Some(Search), true, false),
        ("GET", "/v1/users/u1/recommendations", Some(Search), true, true),
        ("POST", "/v1/users/u1/sessions", Some(Search), true, true),
        ("GET", "/v1/sessions/s1/next", Some(Search), true, true),
        ("GET", "/v1/items/t1/similar", Some(Search), false, true),
        ("POST", "/v1/recommendations/continue", Some(Search), false, true),
        ("POST", "/v1/admin/train", Some(Admin), false, true),
        ("GET", "/v1/admin/train/jobs", Some(Admin), false, false),
        ("POST", "/v1/admin/tokens", Some(Admin), false, false),
        ("POST", "/v1/users/u1/tokens/revoke", Some(Admin), false, false),
        ("GET", "/v1/nope", Some(Admin), false, false),
        ("GET", "/v1/search/", Some(Admin), false, false),
        ("GET", "//v1/search", Some(Admin), false, false),
        ("GET", "/elsewhere", Some(Admin), false, false),
        ("GET", "/v1/suggest", Some(Search), false, false),
        ("POST", "/v1/suggest", Some(Admin), false, false),
        ("GET", "/v1/settings/synonyms", Some(Admin), false, false),
        ("PUT", "/v1/settings/synonyms", Some(Admin), false, false),
        ("GET", "/v1/settings/rules", Some(Admin), false, false),
        ("PUT", "/v1/settings/rules", Some(Admin), false, false),
    ];
    for (method, path, scope, token, expensive) in cases {
        let m: Method = method.parse().expect("method");
        let c = classify(&m, path);
        assert_eq!(c.scope(), *scope, "{method} {path}");
        assert_eq!(c.listener_token_ok(), *token, "{method} {path}");
        assert_eq!(c.expensive, *expensive, "{method} {path}");
    }
    // Batch writes take a write slot; nothing else does.
    for (method, path, batch) in [
        (Method::POST, "/v1/catalog", true),
        (Method::POST, "/v1/events", true),
        (Method::DELETE, "/v1/catalog/t1", false),
        (Method::GET, "/v1/search", false),
        (Method::POST, "/v1/admin/train", false),
    ] {
        assert_eq!(classify(&method, path).batch_write, batch, "{method} {path}");
    }
    assert_eq!(
        classify(&Method::GET, "/v1/users/lfm%3Auser%202/profile").rule,
        Rule::ScopeOrListener(Scope::Search, Some("lfm:user 2".into()))
    );
    assert_eq!(
        classify(&Method::GET, "/v1/users/%FF/profile").rule,
        Rule::ScopeOrListener(Scope::Search, None)
    );
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
    assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
    assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
    assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
    assert_eq!(percent_decode("%FF"), None);
    assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
}

#[test]
fn keys_are_recognized_from_either_header() {
    let access = Access::from_config(&config()).expect("access");
    let now = 0;
    for h in [
        headers("authorization", &format!("Bearer {KEY_S}")),
        headers("authorization", &format!("bearer   {KEY_S} ")),
        headers("x-api-key", KEY_S),
    ] {
        match access.authenticate(&h, now) {
            Ok(Principal::Key { name, scopes }) => {
                assert_eq!(&*name, "app");
                assert!(scopes.allows(Scope::Search));
            }
            other => panic!("{other:?}"),
        }
    }
    let missing = access.authenticate(&HeaderMap::new(), now).unwrap_err();
    assert_eq!(code_of(missing), (401, Some(REALM.to_string())));
    for h in [
        headers("authorization", "Bearer wrong-key-0123456789"),
        headers("authorization", &format!("Basic {KEY_S}")),
        headers("x-api-key", &KEY_S[..KEY_S.len() - 1]),
        headers("x-api-key", &"k".repeat(MAX_CREDENTIAL_BYTES + 1)),
    ] {
        let (status, challenge) = code_of(access.authenticate(&h, now).unwrap_err());
        assert_eq!(status, 401);
        assert!(challenge.is_some_and(|c| c.contains("invalid_")));
    }
    let open = Access::from_config(&AuthConfig::default()).expect("open");
    assert!(open.is_open());
    assert!(matches!(
        open.authenticate(&headers("x-api-key", "anything"), now),
        Ok(Principal::Open)
    ));
}

#[test]
fn locked_access_refuses_everything() {
    let access = Access::locked();
    assert!(!access.is_open());
    let r = access.authenticate(&headers("x-api-key", KEY_A), 0).unwrap_err();
    assert_eq!(r.error.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn scopes_are_enforced() {
    let access = Access::from_config(&config()).expect("access");
    let who = |k: &str| access.authenticate(&headers("x-api-key", k), 0).expect("known key");
    let check = |p: &Principal, m: Method, path: &str| {
        access
            .authorize(p, &classify(&m, path), &m, path)
            .map_err(|e| e.code.as_str())
    };
    let (admin, search, ingest) = (who(KEY_A), who(KEY_S), who(KEY_I));
    for p in [&admin, &search, &ingest] {
        assert_eq!(check(p, Method::GET, "/health/live"), Ok(()));
    }
    assert_eq!(check(&admin, Method::POST, "/v1/catalog"), Ok(()));
    assert_eq!(check(&admin, Method::POST, "/v1/events"), Ok(()));
    assert_eq!(check(&admin, Method::GET, "/v1/search"), Ok(()));
    assert_eq!(check(&search, Method::GET, "/v1/search"), Ok(()));
    assert_eq!(check(&search, Method::POST, "/v1/events"), Err("forbidden_scope"));
    assert_eq!(check(&search, Method::POST, "/v1/catalog"), Err("forbidden_scope"));
    assert_eq!(check(&ingest, Method::POST, "/v1/events"), Ok(()));
    assert_eq!(check(&ingest, Method::GET, "/v1/search"), Err("forbidden_scope"));
    assert_eq!(check(&ingest, Method::DELETE, "/v1/users/u1"), Err("forbidden_scope"));
    let m = Method::POST;
    let err = access
        .authorize(&ingest, &classify(&m, "/v1/catalog"), &m, "/v1/catalog")
        .unwrap_err();
    assert!(
        err.message.contains("scope `admin`") && err.message.contains("key `pipe` has ingest"),
        "{}",
        err.message
    );
    assert_eq!(err.status(), axum::http::StatusCode::FORBIDDEN);
}

#[test]
fn tokens_read_only_their_listener() {
    let access = Access::from_config(&config()).expect("access");
    let t0 = 1_700_000_000_000;
    let minted = access.mint("lfm:user 2", Some(60), t0).expect("minted");
    assert_eq!(minted.expires_at_ms, t0 + 60_000);
    assert!(minted.token.starts_with(TOKEN_PREFIX));
    let h = headers("authorization", &format!("Bearer {}", minted.token));
    let p = access.authenticate(&h, t0 + 1).expect("valid token");
    assert_eq!(
        p,
        Principal::Listener(Claims {
            user_id: "lfm:user 2".into(),
            expires_at_ms: t0 + 60_000,
            issued_at_ms: t0,
        })
    );
    let check = |m: Method, path: &str| {
        access
            .authorize(&p, &classify(&m, path), &m, path)
            .map_err(|e| e.code.as_str())
    };
    assert_eq!(check(Method::GET, "/v1/users/lfm%3Auser%202/profile"), Ok(()));
    assert_eq!(check(Method::GET, "/v1/users/lfm:user%202/history"), Ok(()));
    assert_eq!(check(Method::GET, "/v1/users/lfm:user%202/recommendations"), Ok(()));
    assert_eq!(check(Method::POST, "/v1/users/lfm:user%202/sessions"), Ok(()));
    assert_eq!(check(Method::GET, "/v1/sessions/any/next"), Ok(()));
    assert_eq!(check(Method::GET, "/v1/users/u3/profile"), Err("forbidden_listener"));
    assert_eq!(check(Method::GET, "/v1/search"), Err("forbidden_scope"));
    assert_eq!(check(Method::DELETE, "/v1/users/lfm:user%202"), Err("forbidden_scope"));
    assert_eq!(check(Method::POST, "/v1/admin/tokens"), Err("forbidden_scope"));

    // Revoked from its time of issue on; a later revocation covers it, an earlier not.
    let Principal::Listener(claims) = &p else {
        panic!("{p:?}")
    };
    assert!(revoked(claims, t0).is_none());
    let (status, challenge) = code_of(revoked(claims, t0 + 1).expect("revoked"));
    assert_eq!(status, 401);
    assert!(challenge.is_some_and(|c| c.contains("revoked")));
    // Tokens minted before `iat` existed have none: any revocation covers them.
    let old = TokenSigner::new(SECRET.as_bytes()).expect("signer");
    let mut mac = old.mac.clone();
    let signed = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","exp":99}"#));
    mac.update(signed.as_bytes());
    let legacy = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    let claims = old.verify(&legacy, 0).expect("an older token still verifies");
    assert_eq!(claims.issued_at_ms, 0);
    assert!(revoked(&claims, 1).is_some());
    // A claim from a newer version is ignored (the signature covers it).
    let mut mac = old.mac.clone();
    let signed = format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","exp":99,"iat":5,"jti":"t-1"}"#)
    );
    mac.update(signed.as_bytes());
    let newer = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    let claims = old.verify(&newer, 0).expect("a newer token verifies");
    assert_eq!((claims.user_id.as_str(), claims.issued_at_ms), ("u1", 5));

    // Expiry is exact, to the millisecond.
    let expired = access.authenticate(&h, t0 + 60_000).unwrap_err();
    let (status, challenge) = code_of(expired);
    assert_eq!(status, 401);
    assert!(challenge.is_some_and(|c| c.contains("expired")));
}

#[test]
fn tampered_or_foreign_tokens_are_invalid() {
    let signer = TokenSigner::new(SECRET.as_bytes()).expect("signer");
    let other = TokenSigner::new(b"another secret of at least 32 bytes!!").expect("signer");
    let claims = Claims {
        user_id: "u1".into(),
        expires_at_ms: 10_000,
        issued_at_ms: 0,
    };
    let token = signer.sign(&claims);
    assert_eq!(signer.verify(&token, 0), Ok(claims.clone()));
    assert_eq!(other.verify(&token, 0), Err(TokenError::BadSignature));
    assert_eq!(signer.verify(&token, 10_000), Err(TokenError::Expired));
    // Another listener's claims under the original signature.
    let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u2","exp":10000}"#);
    let tag = token.rsplit_once('.').map(|(_, t)| t).unwrap_or_default();
    let forged = format!("{TOKEN_PREFIX}{forged_payload}.{tag}");
    assert_eq!(signer.verify(&forged, 0), Err(TokenError::BadSignature));
    for junk in [
        "",
        "ndt1.",
        "ndt1..",
        "ndt1.abc",
        "ndt1.abc.!!!",
        "xyz.abc.def",
        "ndt1.é.é",
    ] {
        assert!(signer.verify(junk, 0).is_err(), "{junk}");
    }
    // A well-signed payload that is not claims.
    let mut mac = signer.mac.clone();
    let signed = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(b"[1]"));
    mac.update(signed.as_bytes());
    let odd = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    assert_eq!(signer.verify(&odd, 0), Err(TokenError::Malformed));
}

#[test]
fn minting_needs_a_secret_and_checks_its_input() {
    let no_secret = Access::from_config(&AuthConfig {
        token_secret: None,
        ..config()
    })
    .expect("access");
    let e = no_secret.mint("u1", Some(60), 0).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code.as_str()), (501, "tokens_not_configured"));
    let access = Access::from_config(&config()).expect("access");
    assert_eq!(access.mint("", Some(60), 0).unwrap_err().code, "invalid_id");
    let e = access.mint("u1", Some(0), 0).unwrap_err();
    assert!(e.message.contains("`ttl_s`"), "{}", e.message);
    assert_eq!(access.mint("u1", Some(86_401), 0).unwrap_err().code, "invalid_field");
    assert_eq!(
        access.mint("u1", None, 0).expect("default ttl").expires_at_ms,
        3_600_000
    );
    assert_eq!(access.mint("u1", Some(u64::MAX), 0).unwrap_err().code, "invalid_field");
    // A token is not accepted where tokens are off.
    let token = access.mint("u1", Some(60), 0).expect("minted").token;
    let r = no_secret.authenticate(&headers("x-api-key", &token), 1).unwrap_err();
    assert_eq!(r.error.code, "invalid_api_key");
}

#[test]
fn config_problems_name_the_key_and_never_the_secret() {
    assert!(config().problems("0.0.0.0:7700").is_empty());
    assert!(AuthConfig::default().problems("127.0.0.1:7700").is_empty());
    assert!(AuthConfig::default().problems("[::1]:7700").is_empty());
    let open = AuthConfig::default().problems("0.0.0.0:7700");
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(
        open[0].starts_with("auth.keys: no API key") && open[0].contains("--allow-open"),
        "{open:?}"
    );
    assert!(!AuthConfig::default()
        .problems("[::ffff:127.0.0.1]:7700")
        .iter()
        .any(|p| p.contains("loopback")));
    assert!(AuthConfig {
        allow_open: true,
        ..AuthConfig::default()
    }
    .problems("0.0.0.0:7700")
    .is_empty());

    let bad = AuthConfig {
        keys: vec![
            key("ok", KEY_A, &[Scope::Admin]),
            key("ok", "short", &[]),
            key("bad name", "has a space in it 0123", &[Scope::Search]),
            key("dup", KEY_A, &[Scope::Search]),
            key("tok", "ndt1.looks-like-a-token", &[Scope::Search]),
        ],
        token_secret: Some("too-short".into()),
        token_max_ttl_s: 0,
        keys_reload_ms: 50,
        ..AuthConfig::default()
    };
    let problems = bad.problems("127.0.0.1:7700");
    let joined = problems.join("\n");
    for expected in [
        "auth.keys[1].name: `ok` is used by another key",
        "auth.keys[1].key: must be 16 to 4096 characters long, got 5",
        "auth.keys[1].scopes:",
        "auth.keys[2].name:",
        "auth.keys[2].key: must be visible ASCII",
        "auth.keys[3].key: the same key as `ok`",
        "auth.keys[4].key: must not start with `ndt1.`",
        "auth.token_secret: must be 32 to 4096 bytes long, got 9",
        "auth.token_max_ttl_s:",
        "auth.keys_reload_ms: must be 0 (SIGHUP only) or between 100 and 3600000, got 50",
    ] {
        assert!(joined.contains(expected), "missing {expected:?} in\n{joined}");
    }
    assert!(!joined.contains(KEY_A) && !joined.contains("too-short"), "{joined}");
}

#[test]
fn keys_file_is_read_and_its_errors_are_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keys.toml");
    fs_err::write(
        &path,
        format!("[[keys]]\nname = \"file-app\"\nkey = \"{KEY_S}\"\nscopes = [\"search\"]\n"),
    )
    .expect("write");
    let cfg = AuthConfig {
        keys: vec![key("ops", KEY_A, &[Scope::Admin])],
        keys_file: Some(path.clone()),
        ..AuthConfig::default()
    };
    let keys = cfg.all_keys().expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1].name, "file-app");
    assert!(cfg.problems("0.0.0.0:1").is_empty());
    let access = Access::from_config(&cfg).expect("access");
    assert_eq!(access.key_names(), ["ops", "file-app"]);

    // Problems in the file are labelled with the file.
    fs_err::write(
        &path,
        "[[keys]]\nname = \"x\"\nkey = \"short\"\nscopes = [\"search\"]\n",
    )
    .expect("write");
    let p = cfg.problems("127.0.0.1:1").join("\n");
    assert!(p.contains("keys.toml`: keys[0].key: must be 16"), "{p}");

    // Syntax and type errors never quote the file.
    fs_err::write(&path, "[[keys]]\nname = \"x\"\nkey = secret-value-123456\n").expect("write");
    let p = cfg.problems("127.0.0.1:1").join("\n");
    assert!(p.starts_with("auth.keys_file: `") && !p.contains("secret-value"), "{p}");
    fs_err::write(
        &path,
        "[[keys]]\nname = \"x\"\nkey = 12345678901234567\nscopes = [\"search\"]\n",
    )
    .expect("write");
    let p = cfg.problems("127.0.0.1:1").join("\n");
    assert!(p.contains("not shown") && !p.contains("12345678901234567"), "{p}");
    fs_err::write(
        &path,
        "[[keys]]\nname = \"x\"\nkey = \"0123456789abcdefgh\"\nscopes = [\"root\"]\n",
    )
    .expect("write");
    let p = cfg.problems("127.0.0.1:1").join("\n");
    assert!(p.contains("keys.0.scopes.0") && p.contains("root"), "{p}");

    // A missing file is a problem, and keys in it are not silently skipped: no
    // "open" complaint is added on top.
    let missing = AuthConfig {
        keys_file: Some(dir.path().join("nope.toml")),
        ..AuthConfig::default()
    };
    let p = missing.problems("0.0.0.0:1");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("nope.toml") && p[0].contains("does not exist"), "{p:?}");
    assert!(Access::from_config(&missing).is_err());
}

#[test]
fn snippets_are_redacted() {
    let msg = "TOML parse error at line 3, column 7\n  |\n3 | key = secret\n  |       ^\ninvalid string";
    let r = redact_snippets(msg);
    assert!(!r.contains("secret"), "{r}");
    assert!(r.contains("line 3") && r.contains("invalid string"), "{r}");
}
