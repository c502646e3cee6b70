//! Config layering: defaults < TOML file < `NEEDLE_*` env < overrides; validation messages.
//! Every test runs in a `figment::Jail` (own cwd and environment, one at a time).

use figment::Jail;
use needle_server::{Config, ConfigError, LogFormat, EXAMPLE_CONFIG};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Shaped like a CLI's flags: absent flags are `None`.
#[derive(Default, Serialize)]
struct Flags {
    http_addr: Option<String>,
    data_dir: Option<PathBuf>,
    max_batch_records: Option<usize>,
}

#[allow(clippy::result_large_err)] // figment's `Jail` API
fn jail(f: impl FnOnce(&mut Jail)) {
    Jail::expect_with(|j| {
        j.clear_env();
        f(j);
        Ok(())
    });
}

fn problems(err: ConfigError) -> String {
    err.problems().join("\n")
}

#[test]
fn defaults_without_any_layer() {
    jail(|_| {
        let c = Config::load(None, ()).expect("loads");
        assert_eq!(c, Config::default());
        assert_eq!(c.data_dir, PathBuf::from("./needle-data"));
        assert_eq!(c.http_addr, "127.0.0.1:7700");
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.max_body_bytes, 100 * 1024 * 1024);
        assert_eq!(c.max_batch_records, 100_000);
        assert_eq!(c.refresh_interval_ms, 500);
        assert_eq!(c.indexer_memory_mb, 200);
        assert_eq!(c.request_timeout_ms, 30_000);
    });
}

#[test]
fn layers_override_in_order() {
    jail(|j| {
        j.create_file(
            "needle.toml",
            "http_addr = \"0.0.0.0:1111\"\ndata_dir = \"/file\"\nlog_format = \"json\"\nrefresh_interval_ms = 100\n\
             [auth]\nallow_open = true\n",
        )
        .expect("file");
        let file = Some(Path::new("needle.toml"));
        let c = Config::load(file, ()).expect("loads");
        assert_eq!(
            (c.http_addr.as_str(), c.data_dir.as_path()),
            ("0.0.0.0:1111", Path::new("/file"))
        );
        assert_eq!(c.log_format, LogFormat::Json);

        j.set_env("NEEDLE_HTTP_ADDR", "0.0.0.0:2222");
        j.set_env("NEEDLE_MAX_BATCH_RECORDS", "50");
        j.set_env("NEEDLE_UNRELATED", "ignored");
        let c = Config::load(file, ()).expect("loads");
        assert_eq!(c.http_addr, "0.0.0.0:2222");
        assert_eq!(c.max_batch_records, 50);
        assert_eq!(
            c.data_dir,
            PathBuf::from("/file"),
            "file value kept where env is silent"
        );

        let flags = Flags {
            http_addr: Some("127.0.0.1:3333".into()),
            ..Flags::default()
        };
        let c = Config::load(file, flags).expect("loads");
        assert_eq!(c.http_addr, "127.0.0.1:3333");
        assert_eq!(c.max_batch_records, 50, "absent flag does not mask env");
        assert_eq!(c.refresh_interval_ms, 100, "file value kept");
        assert_eq!(c.engine_config().refresh_interval, Duration::from_millis(100));
        assert_eq!(c.engine_config().data_dir, PathBuf::from("/file"));
    });
}

#[test]
fn example_config_file_loads_to_the_defaults() {
    jail(|j| {
        j.create_file("example.toml", EXAMPLE_CONFIG).expect("file");
        assert_eq!(
            Config::load(Some(Path::new("example.toml")), ()).expect("loads"),
            Config::default()
        );
    });
}

#[test]
fn missing_file_is_an_error() {
    jail(|_| {
        let err = Config::load(Some(Path::new("nope.toml")), ()).unwrap_err();
        assert_eq!(err, ConfigError::FileNotFound(PathBuf::from("nope.toml")));
        assert!(err.to_string().contains("nope.toml"), "{err}");
    });
}

#[test]
fn invalid_values_name_the_key() {
    jail(|j| {
        j.set_env("NEEDLE_HTTP_ADDR", "abc");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert_eq!(
            msg,
            "http_addr: `abc` is not a socket address (expected host:port, e.g. 127.0.0.1:7700)"
        );

        j.set_env("NEEDLE_HTTP_ADDR", "127.0.0.1:80");
        j.set_env("NEEDLE_INDEXER_MEMORY_MB", "1");
        j.set_env("NEEDLE_MAX_BODY_BYTES", "10");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert!(
            msg.contains("indexer_memory_mb: must be between 15 and 4095, got 1"),
            "{msg}"
        );
        assert!(msg.contains("max_body_bytes: must be at least 1024, got 10"), "{msg}");
    });
}

#[test]
fn wrong_types_name_the_key_and_the_source() {
    jail(|j| {
        j.set_env("NEEDLE_MAX_BATCH_RECORDS", "lots");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert!(msg.starts_with("max_batch_records: "), "{msg}");
        assert!(msg.contains("NEEDLE_MAX_BATCH_RECORDS"), "{msg}");
    });
    jail(|j| {
        j.set_env("NEEDLE_LOG_FORMAT", "xml");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert!(msg.starts_with("log_format: "), "{msg}");
        assert!(msg.contains("xml") && msg.contains("json"), "{msg}");
    });
    jail(|j| {
        j.create_file("bad.toml", "htp_addr = \"x\"\n").expect("file");
        let msg = problems(Config::load(Some(Path::new("bad.toml")), ()).unwrap_err());
        assert!(msg.contains("htp_addr"), "{msg}");
        assert!(msg.contains("bad.toml"), "{msg}");
    });
    jail(|j| {
        j.create_file("broken.toml", "http_addr = \n").expect("file");
        let msg = problems(Config::load(Some(Path::new("broken.toml")), ()).unwrap_err());
        assert!(msg.contains("broken.toml"), "{msg}");
    });
}

#[test]
fn overrides_must_be_a_map() {
    jail(|_| {
        let msg = problems(Config::load(None, 42).unwrap_err());
        assert!(msg.starts_with("overrides:"), "{msg}");
    });
}

#[test]
fn auth_and_limits_from_file_env_and_keys_file() {
    use needle_server::auth::Scope;
    jail(|j| {
        // No keys on a public address: refused, naming the way out.
        j.set_env("NEEDLE_HTTP_ADDR", "0.0.0.0:7700");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert!(msg.starts_with("auth.keys: no API key is configured"), "{msg}");
        assert!(
            msg.contains("NEEDLE_AUTH__ALLOW_OPEN") && msg.contains("--allow-open"),
            "{msg}"
        );

        j.set_env("NEEDLE_AUTH__ALLOW_OPEN", "true");
        let c = Config::load(None, ()).expect("open on purpose");
        assert!(c.auth.allow_open);

        // Keys inline in the environment (figment's TOML-like values).
        j.set_env("NEEDLE_AUTH__ALLOW_OPEN", "false");
        j.set_env(
            "NEEDLE_AUTH__KEYS",
            r#"[{name="ops", key="env-admin-key-0123456789", scopes=["admin"]}]"#,
        );
        j.set_env("NEEDLE_AUTH__TOKEN_SECRET", "env-token-secret-0123456789-0123456789");
        j.set_env("NEEDLE_RATE_LIMIT__REQUESTS_PER_S", "5.5");
        j.set_env("NEEDLE_RATE_LIMIT__BURST", "11");
        j.set_env("NEEDLE_CONCURRENCY__MAX_IN_FLIGHT", "3");
        let c = Config::load(None, ()).expect("keys from env");
        assert_eq!(c.auth.keys.len(), 1);
        assert_eq!(c.auth.keys[0].name, "ops");
        assert_eq!(c.auth.keys[0].key.expose(), "env-admin-key-0123456789");
        assert_eq!(c.auth.keys[0].scopes, [Scope::Admin]);
        assert_eq!(
            c.auth.token_secret.as_ref().map(|s| s.expose()),
            Some("env-token-secret-0123456789-0123456789")
        );
        assert_eq!((c.rate_limit.requests_per_s, c.rate_limit.burst), (5.5, 11));
        assert_eq!(c.concurrency.max_in_flight, 3);

        // Keys from a file (a mounted Secret), next to the config file's.
        j.set_env("NEEDLE_AUTH__KEYS", "[]");
        j.create_file(
            "keys.toml",
            "[[keys]]\nname = \"app\"\nkey = \"file-search-key-0123456789\"\nscopes = [\"search\", \"ingest\"]\n",
        )
        .expect("file");
        j.set_env("NEEDLE_AUTH__KEYS_FILE", "keys.toml");
        let c = Config::load(None, ()).expect("keys file");
        let keys = c.auth.all_keys().expect("readable");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].scopes, [Scope::Search, Scope::Ingest]);

        // Problems name the key and the variable, never a secret.
        j.set_env("NEEDLE_AUTH__KEYS_FILE", "missing.toml");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert!(msg.contains("auth.keys_file: `missing.toml` does not exist"), "{msg}");
        j.set_env("NEEDLE_AUTH__KEYS_FILE", "keys.toml");
        j.set_env("NEEDLE_AUTH__TOKEN_SECRET", "1234567890");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert!(msg.contains("auth.token_secret: invalid value (not shown"), "{msg}");
        assert!(msg.contains("NEEDLE_AUTH__TOKEN_SECRET"), "{msg}");
        assert!(!msg.contains("1234567890"), "{msg}");
        j.set_env("NEEDLE_AUTH__TOKEN_SECRET", "short");
        j.set_env("NEEDLE_RATE_LIMIT__BURST", "0");
        let msg = problems(Config::load(None, ()).unwrap_err());
        assert!(msg.contains("auth.token_secret: must be 32"), "{msg}");
        assert!(msg.contains("rate_limit.burst: must be between 1"), "{msg}");
        assert!(!msg.contains("short"), "{msg}");
    });
    // The flags' shape: nested, absent values skipped.
    #[derive(Serialize)]
    struct ServeFlags {
        auth: AuthFlags,
    }
    #[derive(Serialize)]
    struct AuthFlags {
        allow_open: Option<bool>,
    }
    jail(|j| {
        j.set_env("NEEDLE_HTTP_ADDR", "0.0.0.0:7700");
        let flags = ServeFlags {
            auth: AuthFlags { allow_open: Some(true) },
        };
        assert!(Config::load(None, flags).expect("--allow-open").auth.allow_open);
    });
}
