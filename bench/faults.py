#!/usr/bin/env python3
"""Fault harness (issue #18): `kill -9` a real `needle serve` at random moments while
clients write, and check after each restart that nothing acknowledged was lost.

Each cycle starts the server on the same data directory, runs mixed writers for a random
0.3–2.5 s, kills the server with SIGKILL mid-traffic, restarts it and checks:

* catalog: every id holds its last acknowledged write (upsert version or delete); a write
  in flight at the kill may have landed or not, nothing else;
* search: acknowledged upserts are found by their unique token within a second;
* events: each listener has exactly its acknowledged events, or those plus its whole
  in-flight batch (a batch is never half-applied);
* erasure: erased listeners stay erased;
* training: a job runs now and then, and may be killed mid-way; the server still starts.

Usage:
  bench/faults.py --cycles 100 [--bin target/release/needle] [--seed 1] [--json out.json]
CI runs a short version (scripts/test's sibling step in .ci/run): --cycles 5.
Stdlib only.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(port, method, path, body=None, ctype="application/x-ndjson", timeout=30):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Model:
    """What the clients were told (acknowledged) and what was in flight at the kill."""

    def __init__(self):
        self.lock = threading.Lock()
        self.catalog = {}  # id -> ("up", version) | ("del", None)
        self.inflight_catalog = {}  # id -> op, cleared when answered
        self.events = {}  # user -> acknowledged count
        self.inflight_events = {}  # user -> batch size
        self.erased = set()
        self.inflight_erase = set()
        self.acked_writes = 0


def catalog_writer(port, model, stop, rng, ids):
    while not stop.is_set():
        batch = rng.sample(ids, 20)
        ops = {}
        lines = []
        for i in batch:
            if rng.random() < 0.2:
                ops[i] = ("del", None)
                lines.append(json.dumps({"id": i, "deleted": True}))
            else:
                v = rng.randrange(1_000_000)
                ops[i] = ("up", v)
                lines.append(json.dumps({"id": i, "type": "track", "name": f"Fault {token(i, v)}"}))
        with model.lock:
            model.inflight_catalog.update(ops)
        try:
            status, body = call(port, "POST", "/v1/catalog", "\n".join(lines))
        except OSError:
            return  # the server died: the batch stays in flight
        if status != 200:
            return
        rejected = json.loads(body)["rejected"]
        if rejected:
            raise SystemExit(f"the harness sent a bad record: {rejected}")
        with model.lock:
            for i, op in ops.items():
                model.catalog[i] = op
                model.inflight_catalog.pop(i, None)
            model.acked_writes += len(ops)


def token(i, v):
    return f"t{i.replace(':', '')}v{v}"


def event_writer(port, model, stop, rng, cycle):
    n = 0
    while not stop.is_set():
        user = f"fu{cycle}-{n % 100}"
        n += 1
        with model.lock:
            if user in model.erased or user in model.inflight_erase or model.events.get(user, 0) > 150:
                continue
        size = rng.randrange(1, 50)
        lines = [
            json.dumps({"user_id": user, "type": "play", "item_id": f"tr:f{rng.randrange(500)}",
                        "ts": int(time.time() * 1000) - rng.randrange(10**7), "event_id": f"{user}-{n}-{j}"})
            for j in range(size)
        ]
        with model.lock:
            model.inflight_events[user] = size
        try:
            status, body = call(port, "POST", "/v1/events", "\n".join(lines))
        except OSError:
            return
        if status != 200:
            return
        rejected = json.loads(body)["rejected"]
        if rejected:
            raise SystemExit(f"the harness sent a bad event: {rejected}")
        with model.lock:
            model.events[user] = model.events.get(user, 0) + size
            model.inflight_events.pop(user, None)
            model.acked_writes += size
        if rng.random() < 0.05:
            # Erase this listener; it gets no events after that.
            with model.lock:
                model.inflight_erase.add(user)
            try:
                status, _ = call(port, "DELETE", f"/v1/users/{user}")
            except OSError:
                return
            if status != 200:
                return
            with model.lock:
                model.inflight_erase.discard(user)
                model.erased.add(user)
                model.events.pop(user, None)
                model.acked_writes += 1


def trainer(port, stop, rng):
    while not stop.is_set():
        time.sleep(rng.uniform(0.2, 1.0))
        try:
            call(port, "POST", "/v1/admin/train", "", ctype="application/json")
        except OSError:
            return


def start(binary, data, port, log):
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [binary, "serve", "--data-dir", data, "--http-addr", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "NEEDLE_LOG": "warn"},
    )
    deadline = t0 + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited during start (code {proc.returncode}); see {log.name}")
        try:
            if call(port, "GET", "/health/ready", timeout=2)[0] == 200:
                return proc, time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("the server did not become ready in 120 s")


def verify(port, model, rng):
    """Returns a list of losses (each a sentence)."""
    losses = []
    for i, op in model.catalog.items():
        allowed = {op}
        if i in model.inflight_catalog:
            allowed.add(model.inflight_catalog[i])
        status, body = call(port, "GET", f"/v1/catalog/{i}")
        if status == 404:
            got = ("del", None)
        elif status == 200:
            name = json.loads(body)["name"]
            got = ("up", int(name.rsplit("v", 1)[1]))
        else:
            losses.append(f"GET /v1/catalog/{i}: {status} {body[:200]!r}")
            continue
        if got not in allowed:
            losses.append(f"{i}: acknowledged {op}, found {got}")
    # Searchable within a second (a sample of acknowledged upserts).
    ups = [(i, op[1]) for i, op in model.catalog.items() if op[0] == "up" and i not in model.inflight_catalog]
    for i, v in rng.sample(ups, min(20, len(ups))):
        deadline = time.monotonic() + 1.0
        while True:
            status, body = call(port, "GET", f"/v1/search?q={token(i, v)}&limit=3")
            if status == 200 and any(h["id"] == i for h in json.loads(body)["hits"]):
                break
            if time.monotonic() > deadline:
                losses.append(f"{i} (v{v}) not searchable within 1 s after restart")
                break
            time.sleep(0.05)
    for user, n in model.events.items():
        status, body = call(port, "GET", f"/v1/users/{user}/history?limit=200")
        got = len(json.loads(body)["events"]) if status == 200 else 0
        allowed = {n, n + model.inflight_events.get(user, 0)}
        if user in model.inflight_erase:
            allowed.add(0)  # its erasure was in flight at the kill
        if got not in allowed:
            losses.append(f"{user}: {got} events, acknowledged {n} (in flight {model.inflight_events.get(user, 0)})")
    for user in model.erased:
        status, body = call(port, "GET", f"/v1/users/{user}/history?limit=200")
        if status == 200 and json.loads(body)["events"]:
            losses.append(f"{user} was erased but has events again")
    return losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR") or "target", "debug", "needle"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write the report here too")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="needle-faults-")
    data = os.path.join(work, "data")
    log = open(os.path.join(work, "server.log"), "ab")
    model = Model()
    ids = [f"tr:f{k}" for k in range(500)]
    restarts, losses = [], []
    port = free_port()
    proc, took = start(args.bin, data, port, log)
    restarts.append(took)
    for cycle in range(args.cycles):
        stop = threading.Event()
        threads = [
            threading.Thread(target=catalog_writer, args=(port, model, stop, random.Random(rng.random()), ids[k::2]))
            for k in range(2)
        ] + [threading.Thread(target=event_writer, args=(port, model, stop, random.Random(rng.random()), cycle))]
        if cycle % 10 == 3:
            threads.append(threading.Thread(target=trainer, args=(port, stop, random.Random(rng.random()))))
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        port = free_port()
        proc, took = start(args.bin, data, port, log)
        restarts.append(took)
        found = verify(port, model, rng)
        # What was in flight is settled now: the state read back is the new truth.
        with model.lock:
            for i, op in list(model.inflight_catalog.items()):
                status, body = call(port, "GET", f"/v1/catalog/{i}")
                model.catalog[i] = ("del", None) if status == 404 else ("up", int(json.loads(body)["name"].rsplit("v", 1)[1]))
            model.inflight_catalog.clear()
            for user in list(model.inflight_events):
                status, body = call(port, "GET", f"/v1/users/{user}/history?limit=200")
                model.events[user] = len(json.loads(body)["events"]) if status == 200 else 0
            model.inflight_events.clear()
            for user in list(model.inflight_erase):
                status, body = call(port, "GET", f"/v1/users/{user}/history?limit=200")
                n = len(json.loads(body)["events"]) if status == 200 else 0
                if n == 0:
                    model.erased.add(user)
                    model.events.pop(user, None)
                else:
                    model.events[user] = n
            model.inflight_erase.clear()
        losses.extend(f"cycle {cycle}: {l}" for l in found)
        print(f"cycle {cycle + 1}/{args.cycles}: restart {took:.2f} s, acknowledged so far {model.acked_writes}, losses {len(found)}", flush=True)
    proc.kill()
    proc.wait()
    qs = statistics.quantiles(restarts, n=100) if len(restarts) > 1 else restarts * 99
    report = {
        "cycles": args.cycles,
        "acknowledged_writes": model.acked_writes,
        "catalog_ids_checked": len(model.catalog),
        "listeners_checked": len(model.events),
        "erased_listeners": len(model.erased),
        "losses_detail": losses[:20],
        "losses": len(losses),
        "restart_p50_s": round(statistics.median(restarts), 3),
        "restart_p99_s": round(qs[98], 3),
        "binary": args.bin,
        "seed": args.seed,
    }
    print(json.dumps(report, indent=2))
    for l in losses[:50]:
        print("LOSS:", l)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if losses else 0)


if __name__ == "__main__":
    main()
