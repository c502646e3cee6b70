//! Real servers on loopback for tests (feature `testkit`, enabled by this crate's and the
//! binary's tests only): a NATS JetStream cluster of `nats-server` processes (Debian's
//! `nats-server` package), each with its own store directory and ports, and a Redis
//! Cluster ([`redis`]); killed when dropped. Never a mock: the tests exercise the engines
//! the cluster runs on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods, missing_docs)]

pub mod redis;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.1 GET; the status and body (`None` when nothing answers).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = resp.split_once("\r\n\r\n")?;
    // nats-server's monitor answers bodies over 2 KiB chunked (e.g. `/jsz?streams=true`
    // once there are two streams).
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    Some((status, if chunked { dechunk(body)? } else { body.to_string() }))
}

/// The payload of a `Transfer-Encoding: chunked` body.
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// One `nats-server` of a [`NatsCluster`].
pub struct NatsNode {
    pub name: String,
    pub port: u16,
    pub monitor: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl NatsNode {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let bin = which("nats-server");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the nats-server log");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
    }

    fn log_path(&self) -> PathBuf {
        self.config.with_extension("log")
    }

    /// The last `lines` lines this server logged (over all its starts), for a failing
    /// test's diagnostics.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path(), lines)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again with the same store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Started, but the process is gone (e.g. its port was taken).
    fn exited(&self) -> bool {
        // `try_wait` needs `&mut`; a zero-signal probe of the pid does not.
        self.child
            .as_ref()
            .is_some_and(|c| !Path::new(&format!("/proc/{}", c.id())).exists() || is_zombie(c.id()))
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a file (empty when it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

fn which(bin: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
    {
        let p = Path::new(dir).join(bin);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{bin}` is not installed: apt-get install nats-server (scripts/test installs it)");
}

/// `n` JetStream servers clustered on loopback (one server: no cluster block).
pub struct NatsCluster {
    pub nodes: Vec<NatsNode>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Start `n` servers and wait until they serve JetStream with a meta leader. Ports are
    /// picked free but may be taken by another test before the server binds them: a
    /// cluster that does not come up (a server exited, or no leader in 30 s) is started
    /// again on other ports, up to three times.
    pub fn start(n: usize) -> NatsCluster {
        for attempt in 1..=3 {
            let c = NatsCluster::spawn(n);
            if c.wait_until_ready(Duration::from_secs(30)) {
                return c;
            }
            eprintln!("NATS cluster attempt {attempt} did not come up; retrying on other ports");
        }
        panic!("NATS did not become ready in three attempts");
    }

    fn spawn(n: usize) -> NatsCluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16, u16)> = (0..n).map(|_| (free_port(), free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, &(port, monitor, route)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let mut conf = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor}\nmax_payload: 8MB\njetstream {{\n  store_dir: \"{}\"\n  max_file_store: 16GB\n  max_memory_store: 256MB\n}}\n",
                store.display()
            );
            if n > 1 {
                let routes: Vec<String> = ports
                    .iter()
                    .map(|&(_, _, r)| format!("nats-route://127.0.0.1:{r}"))
                    .collect();
                conf.push_str(&format!(
                    "cluster {{\n  name: needle-test\n  listen: 127.0.0.1:{route}\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                ));
            }
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config, conf).unwrap();
            let mut node = NatsNode {
                name,
                port,
                monitor,
                config,
                child: None,
            };
            node.spawn();
            nodes.push(node);
        }
        NatsCluster { nodes, _dir: dir }
    }

    /// Comma-separated client URLs of every node.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(NatsNode::url).collect::<Vec<_>>().join(",")
    }

    /// Wait until every running node serves JetStream and (clustered) a meta leader is
    /// elected; panics after `timeout`.
    pub fn wait_ready(&self, timeout: Duration) {
        assert!(self.wait_until_ready(timeout), "NATS did not become ready");
    }

    fn wait_until_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = self.nodes.iter().filter(|n| n.is_running()).all(|n| {
                let ok = matches!(http_get(n.monitor, "/healthz?js-enabled-only=true"), Some((200, _)));
                let leader = self.nodes.len() == 1
                    || http_get(n.monitor, "/jsz")
                        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
                        .is_some_and(|v| v["meta_cluster"]["leader"].as_str().is_some_and(|l| !l.is_empty()));
                ok && leader
            });
            if ready {
                return true;
            }
            if self.nodes.iter().any(NatsNode::exited) || Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What every node knows, for a failing test: its `/jsz` (streams, consumers, meta
    /// leader) on one line and the tail of its log.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            let jsz = if n.is_running() {
                http_get(n.monitor, "/jsz?streams=true&consumers=true").map_or_else(
                    || "(no answer)".to_string(),
                    |(_, b)| serde_json::from_str::<serde_json::Value>(&b).map_or(b, |v| v.to_string()),
                )
            } else {
                "(killed)".to_string()
            };
            out.push_str(&format!(
                "--- nats {} /jsz:\n{jsz}\n--- nats {} log:\n{}\n",
                n.name,
                n.name,
                n.log_tail(60)
            ));
        }
        out
    }

    /// The node leading `stream` (as a running node reports it).
    pub fn stream_leader(&self, stream: &str) -> Option<usize> {
        for n in self.nodes.iter().filter(|n| n.is_running()) {
            let Some((200, body)) = http_get(n.monitor, "/jsz?streams=true") else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            for acc in v["account_details"].as_array().into_iter().flatten() {
                for s in acc["stream_detail"].as_array().into_iter().flatten() {
                    if s["name"] == stream {
                        if let Some(leader) = s["cluster"]["leader"].as_str() {
                            return self.nodes.iter().position(|n| n.name == leader);
                        }
                    }
                }
            }
        }
        None
    }
}
