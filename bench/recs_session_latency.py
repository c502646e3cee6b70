#!/usr/bin/env python3
"""DJ session `next` latency over HTTP next to `for_you`, on the HetRec RecBole split (artists
loaded as tracks, ALS alone): each `next` writes the session state to the data directory
(`recs-state.redb`, fsync'd), so this measures what durable sessions cost.

    python3 bench/recs_session_latency.py   # needs target/release/needle and /tmp/splits/split_seed0.tsv

The split comes from `needle eval ... --write-split /tmp/splits` (docs/EVALUATION.md).
"""
import json, os, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, "bench")
from recs_api_eval import call
data = tempfile.mkdtemp(prefix="needle-sess-")
port = 7797
env = dict(os.environ, NEEDLE_RECS__TRAIN_ON_START="false", NEEDLE_RECS__SELECT__ENABLED="false")
proc = subprocess.Popen(["target/release/needle", "serve", "--data-dir", data + "/d", "--http-addr", f"127.0.0.1:{port}"],
                        stdout=open(data + "/log", "wb"), stderr=subprocess.STDOUT, env=env)
base = f"http://127.0.0.1:{port}"
try:
    for _ in range(300):
        try:
            call(base, "GET", "/health/ready"); break
        except Exception:
            time.sleep(0.1)
    rows = [l.rstrip("\n").split("\t") for l in open("/tmp/splits/split_seed0.tsv")][1:]
    items = sorted({r[1] for r in rows})
    # Artists as tracks so sessions (tracks by default) have something to serve.
    nd = "\n".join(json.dumps({"id": f"a{i}", "type": "track", "name": f"track {i}"}) for i in items)
    call(base, "POST", "/v1/catalog", nd.encode(), "application/x-ndjson")
    ev = [json.dumps({"user_id": u, "type": "play", "item_id": f"a{i}", "ts": 1_300_000_000_000, "count": 1}) for u, i, w, p in rows if p == "train"]
    for s in range(0, len(ev), 10000):
        call(base, "POST", "/v1/events", "\n".join(ev[s:s+10000]).encode(), "application/x-ndjson")
    st, job = call(base, "POST", "/v1/admin/train")
    while call(base, "GET", f"/v1/admin/jobs/{job['job_id']}")[1]["status"] != "done":
        time.sleep(0.2)
    users = sorted({r[0] for r in rows})[:50]
    nxt, rec = [], []
    for u in users:
        st, info = call(base, "POST", f"/v1/users/{u}/sessions", b"{}")
        sid = info["session_id"]
        for _ in range(10):
            t = time.perf_counter(); call(base, "GET", f"/v1/sessions/{sid}/next?limit=5"); nxt.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter(); call(base, "GET", f"/v1/users/{u}/recommendations?types=track&limit=5"); rec.append((time.perf_counter() - t) * 1e3)
    for name, v in (("session next (limit 5, state fsync'd)", nxt), ("for_you (limit 5)", rec)):
        v.sort(); print(f"{name}: n={len(v)} p50 {v[len(v)//2]:.2f} ms p99 {v[int(len(v)*0.99)]:.2f} ms max {v[-1]:.2f} ms")
finally:
    proc.terminate(); proc.wait(timeout=60)
