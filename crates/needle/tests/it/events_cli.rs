//! `needle import-events` and `needle dataset convert lastfm-events`, end to end.

use crate::server::{get_json, Server};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

fn needle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_needle")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn gzip(path: &Path, text: &str) {
    let mut gz = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
}

#[test]
fn import_events_counts_accepted_duplicates_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let text = concat!(
        r#"{"event_id":"e1","user_id":"u1","type":"play","item_id":"t1","ts":"2024-05-01T12:00:00Z","count":13883}"#,
        "\n",
        r#"{"event_id":"e2","user_id":"u1","type":"save","item_id":"t1","ts":1714564900000}"#,
        "\n",
        "not json\n",
        "\n",
        r#"{"user_id":"u1","type":"listen","item_id":"t1","ts":1}"#,
        "\n",
        r#"{"event_id":"e1","user_id":"u1","type":"play","item_id":"t1","ts":"2024-05-01T12:00:00Z","count":13883}"#,
        "\n",
        r#"{"event_id":"e3","user_id":"u2","type":"follow","item_id":"ar1","ts":1714564900000,"bogus":1}"#,
        "\n",
        r#"{"event_id":"e4","user_id":"u2","type":"follow","item_id":"ar1","ts":1714564900000}"#,
        "\n",
    );
    let plain = dir.path().join("events.jsonl");
    std::fs::write(&plain, text).unwrap();
    let out = needle(&["--data-dir", data, "import-events", plain.to_str().unwrap(), "--quiet"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("imported 3 of 7 events") && err.contains("1 duplicates, 3 rejected"),
        "{err}"
    );
    assert!(err.contains("line 3: [invalid_json]"), "{err}");
    assert!(err.contains("line 5: [invalid_field] field `type`"), "{err}");
    assert!(err.contains("line 7: [unknown_field] field `bogus`"), "{err}");

    // The same file again, gzip-compressed, with small batches: nothing new.
    let gz = dir.path().join("events.jsonl.gz");
    gzip(&gz, text);
    let out = needle(&[
        "--data-dir",
        data,
        "import-events",
        gz.to_str().unwrap(),
        "--batch",
        "2",
        "--quiet",
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("imported 0 of 7 events") && err.contains("4 duplicates, 3 rejected"),
        "{err}"
    );

    // What was imported is what the server serves.
    let server = Server::start(Path::new(data));
    let p = get_json(server.port, "/v1/users/u1/profile");
    assert_eq!(p["events"], serde_json::json!({"play": 13883, "save": 1}), "{p}");
    assert_eq!(p["saved"], serde_json::json!(["t1"]), "{p}");
    let p = get_json(server.port, "/v1/users/u2/profile");
    assert_eq!(p["followed"], serde_json::json!(["ar1"]), "{p}");
    server.kill();

    let out = needle(&["--data-dir", data, "import-events", "/nonexistent/events.jsonl"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/nonexistent/events.jsonl"), "{}", stderr(&out));
}

/// A HetRec-shaped folder: three users, one who never tagged, one with a bogus tag year.
fn hetrec(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("artists.dat"),
        "id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://x/51\t\n52\tMorcheeba\thttp://x/52\t\n53\tAir\t\t\n",
    )
    .unwrap();
    std::fs::write(dir.join("tags.dat"), "tagID\ttagValue\n1\tpop\n2\ttrip-hop\n").unwrap();
    std::fs::write(
        dir.join("user_taggedartists.dat"),
        "userID\tartistID\ttagID\tday\tmonth\tyear\n\
         2\t52\t2\t1\t4\t2009\n\
         2\t51\t1\t17\t11\t2010\n\
         2\t53\t2\t1\t4\t2008\n\
         3\t51\t1\t1\t1\t1956\n\
         3\t51\t1\t31\t2\t2009\n\
         3\t52\t2\t5\t3\t2007\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("user_artists.dat"),
        "userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n3\t52\t50\n4\t53\t7\n4\tbad\t1\n4\t51\t0\n2\t51\t5\n",
    )
    .unwrap();
}

fn read_gz_lines(path: &Path) -> Vec<serde_json::Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn lastfm_plays_convert_to_events_that_match_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let hetrec_dir = dir.path().join("hetrec2011-lastfm-2k");
    hetrec(&hetrec_dir);
    let events = dir.path().join("events.jsonl.gz");
    // The data root is accepted as well as the dataset folder.
    let out = needle(&[
        "dataset",
        "convert",
        "lastfm-events",
        dir.path().to_str().unwrap(),
        "-o",
        events.to_str().unwrap(),
        "--quiet",
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("wrote 4 play events of 3 listeners about 3 artists (2 listeners dated by their tags"),
        "{err}"
    );
    assert!(err.contains("skipped 3"), "{err}");
    let lines = read_gz_lines(&events);
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        serde_json::json!({"event_id": "lfm:play:2:51", "user_id": "lfm:user:2", "type": "play",
            "item_id": "lfm:artist:51", "ts": "2010-11-17T00:00:00Z", "count": 13883})
    );
    // A listener's events carry the date of their latest plausible tag; without tags,
    // the fixed date.
    // 1956 is bogus and 31 February does not exist.
    assert_eq!(lines[2]["ts"], "2007-03-05T00:00:00Z");
    assert_eq!(lines[3]["ts"], "2011-05-01T00:00:00Z");

    // Catalog and events load side by side; profiles name the artists.
    let catalog = dir.path().join("catalog.jsonl");
    let out = needle(&[
        "dataset",
        "convert",
        "lastfm",
        hetrec_dir.to_str().unwrap(),
        "-o",
        catalog.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let out = needle(&["--data-dir", data, "import", catalog.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = needle(&["--data-dir", data, "import-events", events.to_str().unwrap(), "--quiet"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("imported 4 of 4 events"), "{err}");
    let out = needle(&["--data-dir", data, "import-events", events.to_str().unwrap(), "--quiet"]);
    assert!(stderr(&out).contains("imported 0 of 4 events") && stderr(&out).contains("4 duplicates"));

    let server = Server::start(Path::new(data));
    let p = get_json(server.port, "/v1/users/lfm:user:2/profile");
    assert_eq!(p["events"]["play"], 13883 + 11690, "{p}");
    assert_eq!(p["artists"][0]["name"], "Duran Duran", "{p}");
    assert_eq!(p["artists"][1]["name"], "Morcheeba", "{p}");
    server.kill();
}

#[test]
fn help_for_the_event_commands() {
    for cmd in [vec!["import-events", "--help"], vec!["bench-ingest", "--help"]] {
        let out = needle(&cmd);
        assert!(out.status.success(), "{cmd:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{cmd:?}");
    }
    let out = needle(&["dataset", "convert", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("lastfm-events"));
}
