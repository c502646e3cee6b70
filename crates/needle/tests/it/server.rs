//! A real `needle serve` child process and a minimal HTTP/1.1 client for it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One request per connection; returns the status and the body.
pub fn http(port: u16, method: &str, path: &str, content_type: &str, body: &str) -> std::io::Result<(u16, String)> {
    request(port, method, path, &[("Content-Type", content_type)], body)
}

/// One request per connection with the given headers; returns the status and the body.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(s, "{head}\r\n{body}")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// `GET` a JSON document; panics unless the answer is 200.
pub fn get_json(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = http(port, "GET", path, "application/json", "").unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// A `needle serve` process on its own port; killed (SIGKILL) when dropped.
pub struct Server {
    pub port: u16,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Server {
    /// Start on `dir` and wait until `/health/ready` answers 200.
    pub fn start(dir: &Path) -> Server {
        Server::start_with_env(dir, &[])
    }

    /// Start on `dir` with extra environment variables (e.g. `NEEDLE_*` settings).
    pub fn start_with_env(dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        // The server's log, shown when it fails to start.
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_needle"))
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .env("NEEDLE_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log.reopen().map_or_else(|_| Stdio::null(), Stdio::from))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(port, "GET", "/health/ready", "application/json", "") {
                return Server { port, child, log };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(log.path()).unwrap_or_default();
                panic!("server exited during start: {status}; its log:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("server did not become ready");
    }

    /// What the server logged so far (at `NEEDLE_LOG=warn`).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
