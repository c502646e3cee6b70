//! A full disk (issue #18): the data directory on a small `tmpfs` this test mounts. While
//! the disk is below `min_free_disk_mb`, catalog writes, events and training answer
//! `507 storage_full` and reads keep working; once space returns, writes resume by themselves (no restart); after `kill -9`
//! every acknowledged write is there; and a server started on a full disk serves reads.
//! Then without a watermark (`min_free_disk_mb = 0`): the disk filled by something else
//! meets the stores themselves mid-write (a real `ENOSPC` in redb and tantivy, after the
//! log's append went through), and they recover by themselves once space returns.
//! Needs root (to mount the tmpfs), as CI runs; elsewhere it fails with that message.

use crate::server::{get_json, http, Server};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The watermark the servers of this test keep free, MiB (the tmpfs is 96 MiB).
const MIN_FREE: (&str, &str) = ("NEEDLE_MIN_FREE_DISK_MB", "16");

/// A tmpfs mounted for the test; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mb: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fill the filesystem of `dir` with a ballast file until a write fails, then give
/// `headroom` bytes back.
fn fill_but(dir: &Path, headroom: u64) -> PathBuf {
    let path = fill(dir);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(headroom)).unwrap();
    f.sync_all().unwrap();
    path
}

/// Fill the filesystem of `dir` with a ballast file until a write fails.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("ballast");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).and_then(|()| f.sync_data()).is_ok() {}
    // The last partial chunk may have left a few bytes: take them too.
    let small = [0u8; 512];
    while f.write_all(&small).and_then(|()| f.sync_data()).is_ok() {}
    path
}

fn records(tag: &str, n: usize) -> (Vec<String>, String) {
    let ids: Vec<String> = (0..n).map(|i| format!("tr:{tag}-{i}")).collect();
    let body = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","type":"track","name":"Disk {tag} {id}","tags":["full"]}}"#))
        .collect::<Vec<_>>()
        .join("\n");
    (ids, body)
}

/// `n` plays of listener `disk-{tag}` (one listener per batch: a history answers at most
/// 200 events).
fn events(tag: &str, n: usize) -> (Vec<String>, String) {
    let ids: Vec<String> = (0..n).map(|i| format!("ev-{tag}-{i}")).collect();
    let body = ids
        .iter()
        .map(|e| format!(r#"{{"user_id":"disk-{tag}","type":"play","item_id":"tr:a-0","ts":"2026-11-20T12:00:00Z","event_id":"{e}"}}"#))
        .collect::<Vec<_>>()
        .join("\n");
    (ids, body)
}

/// What the server acknowledged.
#[derive(Default)]
struct Acked {
    records: Vec<String>,
    events: Vec<String>,
}

/// POST `body`; `Ok(())` on 200 (acknowledged), `Err(code)` on a `507 storage_full`, a
/// panic on anything else.
fn post(port: u16, path: &str, body: &str) -> Result<(), String> {
    let (status, resp) = http(port, "POST", path, "application/x-ndjson", body).unwrap();
    match status {
        200 => {
            let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
            assert!(v["rejected"].as_array().is_none_or(Vec::is_empty), "{resp}");
            Ok(())
        }
        507 => {
            let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
            assert_eq!(v["code"], "storage_full", "{resp}");
            assert!(v["message"].as_str().unwrap().contains("disk"), "{resp}");
            Err(resp)
        }
        _ => panic!("POST {path} while the disk is full: {status} {resp}"),
    }
}

/// Write batches until the disk refuses one with 507 (each acknowledged one recorded).
fn write_until_full(port: u16, acked: &mut Acked, round: &str) {
    for i in 0..200 {
        let (ids, body) = records(&format!("{round}{i}"), 50);
        match post(port, "/v1/catalog", &body) {
            Ok(()) => acked.records.extend(ids),
            Err(_) => {
                let (ids, body) = events(&format!("{round}{i}"), 50);
                // Events refuse too (the event file and the log are on the same disk).
                if post(port, "/v1/events", &body).is_ok() {
                    acked.events.extend(ids);
                    continue;
                }
                return;
            }
        }
    }
    panic!("writes were still acknowledged on a full disk");
}

fn check_reads(port: u16, acked: &Acked) {
    let (status, body) = http(port, "GET", "/v1/search?q=disk&limit=5", "application/json", "").unwrap();
    assert_eq!(status, 200, "search on a full disk: {body}");
    let first = &acked.records[0];
    get_json(port, &format!("/v1/catalog/{first}"));
    let (status, body) = http(port, "GET", "/health/ready", "application/json", "").unwrap();
    assert_eq!(status, 200, "reads work, so the replica stays ready: {body}");
}

fn check_all(port: u16, acked: &Acked) {
    for id in &acked.records {
        let (status, body) = http(port, "GET", &format!("/v1/catalog/{id}"), "application/json", "").unwrap();
        assert_eq!(status, 200, "acknowledged {id} lost: {body}");
    }
    // `ev-{tag}-{i}` belongs to listener `disk-{tag}` (a history has no event ids: count).
    let mut per_user: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in &acked.events {
        *per_user
            .entry(e.trim_start_matches("ev-").rsplit_once('-').unwrap().0)
            .or_default() += 1;
    }
    for (tag, n) in per_user {
        let h = get_json(port, &format!("/v1/users/disk-{tag}/history?limit=200"));
        let got = h["events"].as_array().unwrap().len();
        assert_eq!(got, n, "listener disk-{tag}: {got} of {n} acknowledged events");
    }
}

#[test]
fn a_full_disk_refuses_writes_with_507_keeps_reads_and_resumes_by_itself() {
    let fs = Tmpfs::mount(96);
    let data = fs.path().join("data");
    let mut acked = Acked::default();
    let server = Server::start_with_env(&data, &[MIN_FREE]);
    let (ids, body) = records("a", 100);
    post(server.port, "/v1/catalog", &body).unwrap();
    acked.records.extend(ids);
    let (ids, body) = events("a", 100);
    post(server.port, "/v1/events", &body).unwrap();
    acked.events.extend(ids);

    let ballast = fill(fs.path());
    write_until_full(server.port, &mut acked, "b");
    check_reads(server.port, &acked);
    let (status, body) = http(server.port, "POST", "/v1/admin/train", "application/json", "").unwrap();
    assert_eq!(status, 507, "training on a full disk: {body}");
    // Still full: refused again, not a different error.
    let (_, body) = records("c", 10);
    assert!(post(server.port, "/v1/catalog", &body).is_err());

    // Space returns: writes resume without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ids, body) = records("d", 20);
        if post(server.port, "/v1/catalog", &body).is_ok() {
            acked.records.extend(ids);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "catalog writes did not resume after space returned"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ids, body) = events("d", 20);
    post(server.port, "/v1/events", &body).expect("events resume after space returned");
    acked.events.extend(ids);
    check_all(server.port, &acked);

    // kill -9: everything acknowledged survives, through the full disk and back.
    eprintln!("--- the first server's log:\n{}", server.log_text());
    server.kill();
    let server = Server::start_with_env(&data, &[MIN_FREE]);
    check_all(server.port, &acked);

    // A server started on a full disk serves reads, and refuses writes clearly. The batch
    // acknowledged just before the kill is in the log, maybe not yet in the stores (no
    // checkpoint): it is applied once space returns, without a write to trigger it.
    let (tail, body) = records("g", 20);
    post(server.port, "/v1/catalog", &body).unwrap();
    server.kill();
    let ballast = fill(fs.path());
    let server = Server::start_with_env(&data, &[MIN_FREE]);
    check_reads(server.port, &acked);
    check_all(server.port, &acked);
    let (_, body) = records("e", 10);
    assert!(post(server.port, "/v1/catalog", &body).is_err());
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tail.iter().any(|id| {
        http(server.port, "GET", &format!("/v1/catalog/{id}"), "application/json", "")
            .unwrap()
            .0
            != 200
    }) {
        assert!(
            Instant::now() < deadline,
            "the log's tail was not applied after space returned"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    acked.records.extend(tail);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ids, body) = records("f", 10);
        if post(server.port, "/v1/catalog", &body).is_ok() {
            acked.records.extend(ids);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes did not resume on a server started on a full disk"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    check_all(server.port, &acked);
}

/// POST `body` to `path` until it is acknowledged (space came back); each answer 200 or
/// `507 storage_full`, else a panic showing the server's log.
fn post_until_accepted(server: &Server, path: &str, body: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, resp) = http(server.port, "POST", path, "application/x-ndjson", body).unwrap();
        match status {
            200 => return,
            507 => assert!(resp.contains("storage_full") && resp.contains("disk"), "{resp}"),
            _ => panic!(
                "POST {path} after space returned: {status} {resp}; the server's log:\n{}",
                server.log_text()
            ),
        }
        assert!(
            Instant::now() < deadline,
            "POST {path} still refused after space returned: {resp}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ready(port: u16) -> (u16, serde_json::Value) {
    let (status, body) = http(port, "GET", "/health/ready", "application/json", "").unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

fn search_hits(port: u16, word: &str) -> usize {
    let v = get_json(port, &format!("/v1/search?q={word}&limit=50"));
    v["hits"].as_array().map_or(0, Vec::len)
}

/// Without a mark (`min_free_disk_mb = 0`), the server on a fresh tmpfs.
const NO_MARK: (&str, &str) = ("NEEDLE_MIN_FREE_DISK_MB", "0");

fn start_without_mark(fs: &Tmpfs, acked: &mut Acked) -> Server {
    start_without_mark_with(fs, acked, &[])
}

/// [`start_without_mark`] with `env` set as well.
fn start_without_mark_with(fs: &Tmpfs, acked: &mut Acked, env: &[(&str, &str)]) -> Server {
    let env: Vec<(&str, &str)> = std::iter::once(NO_MARK).chain(env.iter().copied()).collect();
    let server = Server::start_with_env(&fs.path().join("data"), &env);
    let (ids, body) = records("a", 100);
    post(server.port, "/v1/catalog", &body).unwrap();
    acked.records.extend(ids);
    let (ids, body) = events("a", 100);
    post(server.port, "/v1/events", &body).unwrap();
    acked.events.extend(ids);
    server
}

/// Wait until the server's log shows `line` (a store met the full disk), panicking with
/// the log after `what`.
fn wait_for_log(server: &Server, line: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log_text().contains(line) {
        assert!(
            Instant::now() < deadline,
            "{what}; the server's log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A store met the full disk: writes answer 507 while it is full, every acknowledged
/// write reads back, readiness says `degraded`; once `ballast` is removed, writes resume
/// without a restart, the index catches up (`word` finds the batch acknowledged first),
/// and everything acknowledged survives `kill -9`.
fn refuses_then_recovers(fs: &Tmpfs, server: Server, ballast: &Path, mut acked: Acked, word: &str) {
    let (_, body) = records("still", 5);
    let refused = post(server.port, "/v1/catalog", &body).unwrap_err();
    assert!(refused.contains("full"), "{refused}");
    let (_, body) = events("still", 5);
    assert!(post(server.port, "/v1/events", &body).is_err());

    // Reads keep working meanwhile: a failed store is reopened at once, and what it lost
    // (applied but not durable yet) applied again from the log, so every acknowledged
    // write reads back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(id) = acked.records.iter().find(|id| {
        http(server.port, "GET", &format!("/v1/catalog/{id}"), "application/json", "")
            .unwrap()
            .0
            != 200
    }) {
        assert!(
            Instant::now() < deadline,
            "acknowledged {id} unreadable while the disk is full; the server's log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    check_all(server.port, &acked);
    let (status, body) = http(server.port, "GET", "/v1/search?q=disk&limit=5", "application/json", "").unwrap();
    assert_eq!(status, 200, "search on a full disk: {body}");
    let (status, health) = ready(server.port);
    assert_eq!(status, 200, "reads work, so the server stays ready: {health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["reason"].as_str().unwrap().contains("disk"), "{health}");

    // Space returns: the stores recover and writes resume without a restart.
    std::fs::remove_file(ballast).unwrap();
    let (ids, body) = records("back", 5);
    post_until_accepted(&server, "/v1/catalog", &body);
    acked.records.extend(ids);
    let (ids, body) = events("back", 5);
    post_until_accepted(&server, "/v1/events", &body);
    acked.events.extend(ids);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(server.port).1["status"] != "ok" {
        assert!(
            Instant::now() < deadline,
            "still not ready after recovery: {}",
            ready(server.port).1
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    check_all(server.port, &acked);
    // The index caught up too: what was acknowledged around the failure is searchable.
    let deadline = Instant::now() + Duration::from_secs(30);
    while search_hits(server.port, word) < 5 || search_hits(server.port, "back") < 5 {
        assert!(
            Instant::now() < deadline,
            "the index did not catch up after space returned"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // kill -9: everything acknowledged survives, through the failure and back.
    eprintln!("--- the first server's log:\n{}", server.log_text());
    server.kill();
    let server = Server::start_with_env(&fs.path().join("data"), &[NO_MARK]);
    check_all(server.port, &acked);
    assert!(search_hits(server.port, word) >= 5);
}

/// The index commits after every write here, so its segment files (a few pages per
/// commit) take the last free pages long before the write log's or the catalog store's
/// small appends do.
const COMMIT_EACH_WRITE: (&str, &str) = ("NEEDLE_REFRESH_INTERVAL_MS", "5");

/// Fill the disk but `headroom` and post small catalog batches until one is refused; the
/// refused batch and `Some(ballast, first acknowledged batch's word)` when the index was
/// the store that met the full disk, `None` (ballast removed, writes accepted again) when
/// another store met it first.
fn spill_until_the_index_fails(
    fs: &Tmpfs,
    server: &Server,
    acked: &mut Acked,
    round: usize,
) -> Option<(PathBuf, String)> {
    let ballast = fill_but(fs.path(), 160 << 10);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut first_acked = None;
    for i in 1.. {
        assert!(
            Instant::now() < deadline,
            "writes were still acknowledged on a full disk"
        );
        let tag = format!("spill{}", round * 1000 + i);
        let (ids, body) = records(&tag, 5);
        match post(server.port, "/v1/catalog", &body) {
            Ok(()) => {
                acked.records.extend(ids);
                first_acked.get_or_insert(tag);
            }
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let index_failed = "the catalog engine failed a write";
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log_text().contains(index_failed) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if server.log_text().contains(index_failed) {
        let word = first_acked.expect("no write was acknowledged before the disk filled up");
        return Some((ballast, word));
    }
    // The write log or the catalog store took the last page first (the index then holds
    // its commits back and never meets ENOSPC): free the space, let the stores recover,
    // and fill again.
    eprintln!(
        "round {round}: another store met the full disk first; the server's log:\n{}",
        server.log_text()
    );
    std::fs::remove_file(&ballast).unwrap();
    let (ids, body) = records(&format!("between{round}"), 1);
    post_until_accepted(server, "/v1/catalog", &body);
    acked.records.extend(ids);
    None
}

#[test]
fn the_index_writer_killed_by_a_full_disk_starts_again_and_writes_resume_without_restart() {
    let fs = Tmpfs::mount(96);
    let mut acked = Acked::default();
    let server = start_without_mark_with(&fs, &mut acked, &[COMMIT_EACH_WRITE]);
    // Something else fills the disk, leaving room for the log's small appends but not for
    // the index's next segment files: nothing holds the writes back, so tantivy meets
    // ENOSPC at its commit and kills its writer.
    let (ballast, word) = (1..=5)
        .find_map(|round| spill_until_the_index_fails(&fs, &server, &mut acked, round))
        .unwrap_or_else(|| {
            panic!(
                "the index never met the full disk first in 5 rounds; the server's log:\n{}",
                server.log_text()
            )
        });
    refuses_then_recovers(&fs, server, &ballast, acked, &word);
}

#[test]
fn the_catalog_store_failed_by_a_full_disk_is_reopened_and_writes_resume_without_restart() {
    let fs = Tmpfs::mount(96);
    let mut acked = Acked::default();
    let server = start_without_mark(&fs, &mut acked);
    // One large batch (~320 KiB of descriptions): the disk keeps room for its log entry
    // but not for the catalog store's durable commit of it, which redb then fails (and
    // latches: every read and write refused until reopened).
    let ids: Vec<String> = (0..40).map(|i| format!("tr:big-{i}")).collect();
    let text = "d".repeat(8000);
    let body = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","type":"track","name":"Disk big {id}","description":"{text}"}}"#))
        .collect::<Vec<_>>()
        .join("\n");
    let ballast = fill_but(fs.path(), body.len() as u64 + (96 << 10));
    post(server.port, "/v1/catalog", &body).expect("the log has room for the batch");
    acked.records.extend(ids);
    wait_for_log(
        &server,
        "the catalog store failed a write",
        "the catalog store never met the full disk",
    );
    wait_for_log(
        &server,
        "the catalog store was reopened after a failed write",
        "the catalog store was not reopened",
    );
    refuses_then_recovers(&fs, server, &ballast, acked, "big");
}
