//! A real 6-node Redis Cluster (3 primaries, 3 replicas) on 127.0.0.1 for the shared-state
//! tests: `redis-server` processes on free ports in a temporary directory, joined with
//! `redis-cli --cluster create`, killed when dropped. No mocks: a missing `redis-server`
//! fails the test with what to install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long starting the cluster, or a failover, may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One node: its port and process (`None` once killed).
struct Node {
    port: u16,
    process: Option<Child>,
}

/// A running cluster; dropping it kills every node.
pub struct RedisCluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

fn need(binary: &str) {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{binary}` is not installed: the shared-state tests need a real Redis Cluster. \
         Install redis-server (Debian: `apt-get install redis-server`; scripts/test does it)"
    );
}

/// A port that is free, with its cluster bus port (+10000) free too.
fn free_port(taken: &[u16]) -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if port < 55_000 && !taken.contains(&port) && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// `redis-cli -p port args…`, its output (empty when the node does not answer).
pub fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Poll `ok` until it holds, for at most [`PATIENCE`]; fail naming `what`.
pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ok() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A node on a free port, answering `PING`. The port is free when chosen, but another
/// process (another test's server, an outgoing connection) may take it before the node
/// binds: a node that exits is started again on another port (at most 5 times).
fn start_answering(dir: &Path, taken: &[u16]) -> Node {
    for _ in 0..5 {
        let port = free_port(taken);
        let mut child = start_node(dir, port);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if cli(port, &["ping"]).trim() == "PONG" {
                return Node {
                    port,
                    process: Some(child),
                };
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for redis-server on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("redis-server exited at start five times (ports taken?)");
}

fn start_node(dir: &Path, port: u16) -> Child {
    let node_dir: PathBuf = dir.join(port.to_string());
    std::fs::create_dir_all(&node_dir).unwrap();
    let log = std::fs::File::create(node_dir.join("redis.log")).unwrap();
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
        // Failover within a few seconds of a primary's death (the default waits 15 s).
        .args(["--cluster-node-timeout", "1000"])
        .args(["--appendonly", "no", "--save", "", "--daemonize", "no"])
        // A replica's first sync starts at once (the default waits 5 s for more replicas).
        .args(["--repl-diskless-sync-delay", "0"])
        .arg("--dir")
        .arg(&node_dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server")
}

impl RedisCluster {
    /// Start six nodes and join them (three primaries, one replica each); returns once
    /// every node reports `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        need("redis-server");
        need("redis-cli");
        let dir = tempfile::tempdir().unwrap();
        let mut nodes: Vec<Node> = Vec::new();
        for _ in 0..6 {
            let taken: Vec<u16> = nodes.iter().map(|n| n.port).collect();
            nodes.push(start_answering(dir.path(), &taken));
        }
        let cluster = RedisCluster { nodes, _dir: dir };
        let addrs: Vec<String> = cluster.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for n in &cluster.nodes {
            wait_until(&format!("cluster_state:ok on port {}", n.port), || {
                let info = cli(n.port, &["cluster", "info"]);
                info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:6")
            });
        }
        cluster
    }

    /// The node URLs, for `cluster.redis`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// A node still running.
    pub fn live_port(&self) -> u16 {
        self.nodes
            .iter()
            .find(|n| n.process.is_some())
            .map(|n| n.port)
            .expect("a live node")
    }

    /// The port of the primary serving `key`'s slot, waiting (at most [`PATIENCE`]) while
    /// a failover is under way: the node asked may not have heard of the promotion yet.
    pub fn primary_of(&self, key: &str) -> u16 {
        let mut found = None;
        wait_until(&format!("a primary serving the slot of {key}"), || {
            found = self.try_primary_of(key);
            found.is_some()
        });
        found.unwrap()
    }

    fn try_primary_of(&self, key: &str) -> Option<u16> {
        let port = self.live_port();
        let slot: u16 = cli(port, &["cluster", "keyslot", key]).trim().parse().unwrap();
        let nodes = cli(port, &["cluster", "nodes"]);
        for line in nodes.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                continue;
            }
            let serves = f[8..].iter().any(|range| {
                let mut ends = range.split('-').map(|x| x.parse::<u16>().unwrap_or(u16::MAX));
                let lo = ends.next().unwrap_or(u16::MAX);
                let hi = ends.next().unwrap_or(lo);
                (lo..=hi).contains(&slot)
            });
            if serves {
                let addr = f[1].split('@').next().unwrap();
                return addr.rsplit(':').next().unwrap().parse().ok();
            }
        }
        None
    }

    /// Wait (at most [`PATIENCE`]) until a replica of the primary on `port` is online and
    /// has acknowledged everything the primary had written when this was called.
    /// Replication is asynchronous, and a replica's first full sync after `cluster create`
    /// can take seconds on a loaded machine: a test that kills a primary calls this first.
    pub fn wait_replicated(&self, port: u16) {
        let field = |info: &str, name: &str| -> Option<u64> {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':')?.parse().ok())
        };
        let written = field(&cli(port, &["info", "replication"]), "master_repl_offset")
            .expect("a primary reports master_repl_offset");
        wait_until(&format!("a replica of port {port} to reach offset {written}"), || {
            let info = cli(port, &["info", "replication"]);
            // slave0:ip=127.0.0.1,port=7001,state=online,offset=1234,lag=0
            info.lines().filter(|l| l.starts_with("slave")).any(|l| {
                let online = l.contains("state=online");
                let offset = l
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("offset=")?.parse::<u64>().ok());
                online && offset.is_some_and(|o| o >= written)
            })
        });
    }

    /// `kill -9` the node on `port`.
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster");
        if let Some(mut p) = node.process.take() {
            p.kill().unwrap(); // SIGKILL
            p.wait().unwrap();
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut p) = n.process.take() {
                let _ = p.kill();
                let _ = p.wait();
            }
        }
    }
}
