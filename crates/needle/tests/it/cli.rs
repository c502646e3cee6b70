//! The CLI end to end: import a file with bad lines, then search it.

use std::process::Command;

fn needle(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_needle"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn import_then_search() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"id":"a1","type":"artist","name":"Beyoncé","popularity":90}"#,
            "\n",
            r#"{"id":"t1","type":"track","name":"Halo","artist_ids":["a1"]}"#,
            "\n",
            "this is not json\n",
            r#"{"id":"t2","type":"track","name":""}"#,
            "\n",
            "\n",
            r#"{"id":"t3","type":"track","name":"Single Ladies","artist_ids":["a1"],"bogus":1}"#,
            "\n",
        ),
    )
    .unwrap();
    // Batches of 2 queue one batch behind another: rejections must still name their lines.
    for batch in ["10000", "2"] {
        let data = dir.path().join(format!("data-{batch}"));
        let out = needle(&data, &["import", file.to_str().unwrap(), "--quiet", "--batch", batch]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("imported 2 of 5 records"), "{err}");
        assert!(err.contains("line 3: [invalid_json]"), "{err}");
        assert!(
            err.contains("line 4: [invalid_field] field `name` must not be empty"),
            "{err}"
        );
        assert!(err.contains("line 6: [unknown_field] field `bogus`"), "{err}");
    }
    let data = dir.path().join("data-2");
    let out = needle(&data, &["search", "halo beyonse", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hits"][0]["id"], "t1");
    assert_eq!(v["hits"][0]["artists"][0], "Beyoncé");
    let out = needle(&data, &["search", "beyon"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Beyoncé"), "{table}");

    // `reindex` rebuilds the index from the store: a stale file in the old index is gone,
    // and search answers as before (related names resolved again).
    let stale = data.join("index").join("stale-file");
    std::fs::write(&stale, b"x").unwrap();
    let out = needle(&data, &["reindex"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("reindexed 2 entities"), "{err}");
    assert!(!stale.exists());
    let out = needle(&data, &["search", "halo beyonse", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hits"][0]["id"], "t1");
    assert_eq!(v["hits"][0]["artists"][0], "Beyoncé");

    // While another process holds the data directory, `reindex` refuses and deletes nothing.
    let held = needle_store::CatalogStore::open(&data).unwrap();
    let out = needle(&data, &["reindex"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("opening data directory"), "{err}");
    assert!(data.join("index").join("meta.json").exists());
    drop(held);
}

#[test]
fn an_import_where_every_line_is_rejected_fails() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("bad.jsonl");
    std::fs::write(&records, "not json\n{\"id\":\"t\",\"type\":\"track\"}\n").unwrap();
    let out = needle(
        &dir.path().join("data"),
        &["import", records.to_str().unwrap(), "--quiet"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("every record of") && err.contains("rejected (2)"), "{err}");
    let events = dir.path().join("bad-events.jsonl");
    std::fs::write(&events, "{\"user_id\":\"u\"}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_needle"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["import-events", events.to_str().unwrap(), "--quiet"])
        .env("NEEDLE_LOG", "debug")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("every event of") && err.contains("rejected (1)"), "{err}");
    // Colour codes only on a terminal: the captured log lines have none.
    assert!(err.contains("DEBUG"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
}

#[test]
fn search_in_an_empty_folder_says_there_is_no_data_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nothing-here");
    let out = needle(&data, &["search", "anything"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("no Needle data in"), "{err}");
    assert!(!data.exists(), "search created {}", data.display());
}

#[test]
fn a_command_on_a_directory_a_server_holds_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = crate::server::Server::start(&data);
    let out = needle(&data, &["search", "anything"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("in use by another Needle process"), "{err}");
    assert!(err.contains("HTTP API"), "{err}");
    server.kill();
}

#[test]
fn help_for_every_command() {
    for cmd in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["import", "--help"],
        vec!["search", "--help"],
        vec!["reindex", "--help"],
        vec!["dataset", "convert", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_needle")).args(&cmd).output().unwrap();
        assert!(out.status.success(), "{cmd:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{cmd:?}");
    }
}

#[test]
fn bad_config_is_reported_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args(["serve", "--http-addr", "not-an-address", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("http_addr"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_refuses_a_public_address_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    // Refused by validation, before anything is bound.
    let out = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args(["serve", "--http-addr", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("NEEDLE_AUTH__ALLOW_OPEN")
        .env_remove("NEEDLE_AUTH__KEYS")
        .env_remove("NEEDLE_AUTH__KEYS_FILE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("auth.keys") && err.contains("--allow-open"), "{err}");
    // A keys file that does not exist is named.
    let out = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--keys-file",
            "/nonexistent/keys.toml",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("auth.keys_file") && err.contains("/nonexistent/keys.toml"),
        "{err}"
    );
    let help = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--allow-open") && help.contains("--keys-file"), "{help}");
}

#[test]
fn eval_flags_are_checked_by_clap() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_needle")).args(args).output().unwrap();
    let out = run(&["eval", "--data", "nowhere", "--bogus"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unexpected argument '--bogus'"), "{err}");
    assert!(err.contains("Usage: needle eval"), "{err}");

    let out = run(&["eval", "--data", "nowhere", "--models", "als,bpr"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid value 'bpr' for '--models <LIST>'"), "{err}");

    let out = run(&["eval", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    for flag in [
        "--data <DIR>",
        "--seeds <N>",
        "--k <K>",
        "--threads <N>",
        "--models <LIST>",
        "--tune",
        "--holdout",
        "--hnsw",
        "--write-split <DIR>",
        "--json <FILE>",
        "--candidates <JSON>",
        "--run <JSON>",
    ] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
    assert!(
        help.contains("[default: als,als_log,ease,rp3beta,item_knn,popularity,auto]"),
        "{help}"
    );
}
