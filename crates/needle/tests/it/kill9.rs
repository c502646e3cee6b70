//! Every acknowledged write survives `kill -9` of the server, repeatedly.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A minimal HTTP/1.1 client: one request per connection.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn start(dir: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--http-addr", &format!("127.0.0.1:{port}")])
        .env("NEEDLE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http(port, "GET", "/health/ready", "") {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not become ready");
}

/// Wait (bounded) until `batches` have been acknowledged, or the writer stopped.
fn wait_for_batches<T>(batches: &AtomicUsize, target: usize, writer: &std::thread::JoinHandle<T>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while batches.load(Ordering::Acquire) < target && !writer.is_finished() {
        assert!(Instant::now() < deadline, "{target} batches not acknowledged in time");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<String> = Vec::new();
    for round in 0..3 {
        let port = free_port();
        let mut child = start(dir.path(), port);
        // Writers stream batches; the killer strikes mid-stream, after a number of
        // acknowledged batches that differs from round to round.
        let batches = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&batches);
        let writer = std::thread::spawn(move || {
            let mut ok = Vec::new();
            for b in 0..1000 {
                let ids: Vec<String> = (0..50).map(|i| format!("r{round}-b{b}-{i}")).collect();
                let body: Vec<String> = ids
                    .iter()
                    .map(|id| format!(r#"{{"id":"{id}","type":"track","name":"Song {id}"}}"#))
                    .collect();
                match http(port, "POST", "/v1/catalog", &format!("[{}]", body.join(","))) {
                    Ok((200, resp)) if resp.contains("\"accepted\":50") => ok.extend(ids),
                    _ => break,
                }
                counter.fetch_add(1, Ordering::Release);
            }
            ok
        });
        wait_for_batches(&batches, 5 + 20 * round, &writer);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let got = writer.join().unwrap();
        assert!(!got.is_empty(), "no batch was acknowledged before the kill");
        acked.extend(got);
    }
    let port = free_port();
    let mut child = start(dir.path(), port);
    for id in &acked {
        let (status, body) = http(port, "GET", &format!("/v1/catalog/{id}"), "").unwrap();
        assert_eq!(status, 200, "acknowledged {id} lost: {body}");
    }
    // And searchable: the index caught up from the store on start.
    let last = acked.last().unwrap();
    let (status, body) = http(
        port,
        "GET",
        &format!("/v1/search?q=song%20{}", last.replace('-', "%20")),
        "",
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(last.as_str()),
        "{last} not searchable after restart: {body}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
