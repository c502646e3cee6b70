#!/usr/bin/env python3
"""The cluster's figures, side by side with standalone Needle in the same run (stdlib only;
wrk for search throughput). Starts 3 nats-server (JetStream, the log stream R3) and Needle
replicas on 127.0.0.1 from a release binary, and prints one JSON object per figure:

    cargo build --release -p needle
    python3 bench/cluster.py --needle target/release/needle [--catalog /tmp/catalog.jsonl.gz]

1. durable catalog writes (batches of 500, 2 clients) and event writes (batches of 1000):
   standalone vs through the cluster (3 replicas), records/s and ack p50/p99;
2. replication lag under that load: for sampled writes acknowledged by replica 0, the time
   until replica 1 answers a read with `min_seq` = the write's seq (HTTP round trip
   included), p50/p99;
3. time from `kill -9` of the stream's leader to the next acknowledged write;
4. with --catalog: the catalog loaded through the API, a snapshot, a replica wiped and
   restarted: seconds until it serves, and until it has caught up;
5. search throughput (wrk, 15 s) against 1, 2 and 3 replicas at once on this machine.
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path, timeout=30):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, json.loads(r.read() or b"null")


def post(port, path, data, headers=None, timeout=120):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST",
                                 headers={"content-type": "application/x-ndjson", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def wait(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out: {what}")


class Nats:
    def __init__(self, root, n=3):
        self.nodes = []
        ports = [(free_port(), free_port(), free_port()) for _ in range(n)]
        routes = ", ".join(f"nats-route://127.0.0.1:{r}" for _, _, r in ports)
        for i, (p, m, r) in enumerate(ports):
            conf = os.path.join(root, f"n{i}.conf")
            with open(conf, "w") as f:
                f.write(f"server_name: n{i}\nlisten: 127.0.0.1:{p}\nhttp: 127.0.0.1:{m}\nmax_payload: 8MB\n"
                        f"jetstream {{ store_dir: \"{root}/n{i}\", max_file_store: 64GB }}\n"
                        f"cluster {{ name: bench, listen: 127.0.0.1:{r}, routes: [{routes}] }}\n")
            self.nodes.append({"name": f"n{i}", "port": p, "monitor": m, "conf": conf, "proc": None})
        for n in self.nodes:
            self.start(n)
        self.ready()

    def start(self, n):
        n["proc"] = subprocess.Popen(["nats-server", "-c", n["conf"]], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def ready(self):
        def ok():
            for n in self.nodes:
                if n["proc"] is None:
                    continue
                _, jsz = get(n["monitor"], "/jsz")
                if not jsz.get("meta_cluster", {}).get("leader"):
                    return False
            return True
        wait(ok, 60, "NATS ready")

    def urls(self):
        return ",".join(f"nats://127.0.0.1:{n['port']}" for n in self.nodes)

    def leader(self, stream):
        for n in self.nodes:
            if n["proc"] is None:
                continue
            _, v = get(n["monitor"], "/jsz?streams=true")
            for acc in v.get("account_details", []):
                for s in acc.get("stream_detail", []):
                    if s["name"] == stream:
                        return s["cluster"]["leader"]

    def kill(self, name):
        for n in self.nodes:
            if n["name"] == name and n["proc"]:
                n["proc"].send_signal(signal.SIGKILL)
                n["proc"].wait()
                n["proc"] = None
                return n

    def stop(self):
        for n in self.nodes:
            if n["proc"]:
                n["proc"].kill()
                n["proc"].wait()


class Needle:
    def __init__(self, binary, data, extra):
        self.binary, self.data, self.extra = binary, data, extra
        self.port = None
        self.proc = None

    def start(self, timeout=900):
        self.port = free_port()
        t0 = time.time()
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data-dir", self.data, "--http-addr", f"127.0.0.1:{self.port}", *self.extra],
            stdout=subprocess.DEVNULL, stderr=open(self.data + ".log", "a"),
            env={**os.environ, "NEEDLE_LOG": "warn", "NEEDLE_RECS__TRAIN_ON_START": "false"})
        wait(lambda: get(self.port, "/health/ready")[0] == 200, timeout, "needle ready")
        return time.time() - t0

    def kill(self):
        if self.proc:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None


def synthetic(run, c, n, size, kind):
    lines = []
    for i in range(size):
        k = n * size + i
        if kind == "catalog":
            lines.append(json.dumps({"id": f"tr:b{run}-{c}-{k}", "type": "track",
                                     "name": f"Synthetic Song {k % 997} of Batch {n}",
                                     "artist_ids": [f"ar:b-{k % 211}"], "popularity": k % 100}))
        else:
            lines.append(json.dumps({"user_id": f"u{(c * 7919 + k) % 5000}", "type": "play",
                                     "item_id": f"tr:x-{k % 10007}", "ts": 1_760_000_000_000 + k,
                                     "event_id": f"e{run}-{c}-{k}"}))
    return ("\n".join(lines) + "\n").encode()


def writes(ports, kind, batches, size, clients, lag_port=None):
    run = int(time.time() * 1000)
    lat, lag, lock = [], [], threading.Lock()

    def client(c):
        port = ports[c % len(ports)]
        for n in range(batches):
            data = synthetic(run, c, n, size, kind)
            t0 = time.perf_counter()
            rep = post(port, "/v1/catalog" if kind == "catalog" else "/v1/events", data)
            t1 = time.perf_counter()
            assert rep.get("accepted", 0) + rep.get("duplicates", 0) == size, rep
            with lock:
                lat.append(t1 - t0)
            if lag_port and n % 5 == 0:
                get(lag_port, f"/v1/stats?min_seq={rep['seq']}")
                with lock:
                    lag.append(time.perf_counter() - t1)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    took = time.perf_counter() - t0
    out = {"kind": kind, "records": batches * size * clients, "batch": size, "clients": clients,
           "per_s": round(batches * size * clients / took), "ack_p50_ms": round(q(lat, .5) * 1000, 1),
           "ack_p99_ms": round(q(lat, .99) * 1000, 1)}
    if lag:
        out.update({"lag_samples": len(lag), "lag_p50_ms": round(q(lag, .5) * 1000, 1),
                    "lag_p99_ms": round(q(lag, .99) * 1000, 1)})
    return out


def wrk_rate(ports, seconds, conns):
    script = os.path.join(tempfile.gettempdir(), "needle_wrk.lua")
    with open(script, "w") as f:
        f.write('local qs = {"hello", "adele", "the beatles", "bohemian", "love song", "metallica", '
                '"podcast history", "jazz", "queen", "daft punk"}\nlocal i = 0\n'
                'request = function() i = i + 1\n return wrk.format("GET", "/v1/search?q=" .. '
                'qs[(i % #qs) + 1]:gsub(" ", "%%20") .. "&limit=10") end\n')
    procs = [subprocess.Popen(["wrk", "-t1", f"-c{max(1, conns // len(ports))}", f"-d{seconds}s", "-s", script,
                               f"http://127.0.0.1:{p}"], stdout=subprocess.PIPE, text=True) for p in ports]
    total = 0.0
    for p in procs:
        out = p.communicate()[0]
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                total += float(line.split()[1])
    return round(total)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--needle", default="target/release/needle")
    ap.add_argument("--catalog", help="the converted catalog (.jsonl.gz) for the wiped-replica figure")
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--wrk-seconds", type=int, default=15)
    a = ap.parse_args()
    binary = os.path.abspath(a.needle)
    root = tempfile.mkdtemp(prefix="needle-cluster-bench-")
    figures = {}
    try:
        # Standalone, same machine, same run.
        s = Needle(binary, os.path.join(root, "standalone"), [])
        s.start()
        figures["standalone_catalog"] = writes([s.port], "catalog", a.batches, 500, 2)
        figures["standalone_events"] = writes([s.port], "events", a.batches, 1000, 2)
        s.kill()

        nats = Nats(root)
        shared = os.path.join(root, "shared")
        reps = [Needle(binary, os.path.join(root, f"r{i}"),
                       ["--nats", nats.urls(), "--node-id", f"r{i}", "--shared-dir", shared]) for i in range(3)]
        for r in reps:
            r.start()
        ports = [r.port for r in reps]
        figures["cluster_catalog"] = writes([ports[0]], "catalog", a.batches, 500, 2, lag_port=ports[1])
        figures["cluster_events"] = writes([ports[0]], "events", a.batches, 1000, 2, lag_port=ports[1])
        figures["cluster_catalog_3_entry_replicas"] = writes(ports, "catalog", a.batches, 500, 3)

        # Leader kill -> next acknowledged write.
        stop = threading.Event()
        acks = []

        def ticker():
            n = 0
            while not stop.is_set():
                line = json.dumps({"id": f"ar:tick-{n}", "type": "artist", "name": f"Tick {n}"})
                try:
                    post(ports[n % 3], "/v1/catalog", line.encode(), {"Idempotency-Key": f"tick-{n}"}, timeout=30)
                    acks.append(time.time())
                    n += 1
                except Exception:
                    time.sleep(0.01)

        t = threading.Thread(target=ticker)
        t.start()
        time.sleep(2)
        leader = nats.leader("NEEDLE")
        killed = nats.kill(leader)
        k0 = time.time()
        wait(lambda: any(x > k0 for x in acks), 120, "an ack after the leader kill")
        figures["leader_kill_to_next_ack_s"] = round(min(x for x in acks if x > k0) - k0, 2)
        nats.start(killed)
        nats.ready()
        stop.set()
        t.join()

        # Search throughput with 1, 2, 3 replicas (wrk, one process per replica).
        for k in (1, 2, 3):
            figures[f"search_req_per_s_{k}_replicas"] = wrk_rate(ports[:k], a.wrk_seconds, 16)

        if a.catalog:
            # The real catalog through the API, then snapshot, wipe, restart.
            t0 = time.time()
            last = 0
            batch = []

            def flush():
                nonlocal last
                rep = post(ports[0], "/v1/catalog", ("".join(batch)).encode(), timeout=600)
                last = max(last, rep["seq"])
                batch.clear()

            with gzip.open(a.catalog, "rt") as f:
                for line in f:
                    batch.append(line)
                    if len(batch) == 5000:
                        flush()
            if batch:
                flush()
            figures["catalog_load_via_api_s"] = round(time.time() - t0, 1)
            for p in ports:
                get(p, f"/v1/stats?min_seq={last}", timeout=600)
            t0 = time.time()
            req = urllib.request.Request(f"http://127.0.0.1:{ports[0]}/v1/admin/snapshots", method="POST")
            with urllib.request.urlopen(req, timeout=3600) as r:
                m = json.loads(r.read())
            figures["snapshot_s"] = round(time.time() - t0, 1)
            figures["snapshot_bytes"] = sum(f["bytes"] for f in m["files"])
            reps[2].kill()
            shutil.rmtree(reps[2].data)
            post(ports[0], "/v1/catalog", b'{"id":"ar:after-snapshot","type":"artist","name":"After"}\n')
            figures["wiped_replica_serving_s"] = round(reps[2].start(timeout=3600), 1)
            t0 = time.time()
            get(reps[2].port, f"/v1/catalog/ar:after-snapshot?min_seq={last}", timeout=600)
            figures["wiped_replica_caught_up_after_serving_s"] = round(time.time() - t0, 1)
            _, st = get(reps[2].port, "/v1/admin/cluster", timeout=600)
            figures["wiped_replica_entries_replayed"] = st["applied_entries"]
        for r in reps:
            r.kill()
        nats.stop()
    finally:
        print(json.dumps(figures, indent=1))
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
