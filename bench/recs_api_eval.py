#!/usr/bin/env python3
"""The RecBole protocol on HetRec Last.fm, through Needle's HTTP API.

What a user would do: load the catalog and the *training* listening events with
`POST /v1/catalog` and `POST /v1/events`, train with `POST /v1/admin/train`, then read
`GET /v1/users/{id}/recommendations?types=artist&limit=50` for every test listener. The
protocol ranks all items except the listener's train and validation items; the API already
leaves out what the listener played (train), and validation items are dropped from the 50
returned before the top 10 are scored. Metrics are needle-recs' definitions (Recall, NDCG,
Hit, Precision @10, averaged over listeners with test items), the same as RecBole's.

    python3 bench/recs_api_eval.py --split /tmp/splits/split_seed0.tsv \
        --needle target/release/needle [--port 7791]

The split file comes from
`target/release/needle eval --data ../shared/data/hetrec2011-lastfm-2k --seeds 1 --models popularity --write-split /tmp/splits`.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict


def call(base: str, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"):
    req = urllib.request.Request(base + path, data=body, method=method)
    if body is not None:
        req.add_header("content-type", ctype)
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, json.loads(r.read() or b"null")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True)
    ap.add_argument("--needle", default="target/release/needle")
    ap.add_argument("--port", type=int, default=7791)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    parts = {"train": [], "valid": [], "test": []}
    with open(args.split) as f:
        next(f)
        for line in f:
            u, i, w, p = line.rstrip("\n").split("\t")
            parts[p].append((u, i, float(w)))
    items = sorted({i for p in parts.values() for _, i, _ in p})
    valid = defaultdict(set)
    test = defaultdict(set)
    for u, i, _ in parts["valid"]:
        valid[u].add(i)
    for u, i, _ in parts["test"]:
        test[u].add(i)

    data = tempfile.mkdtemp(prefix="needle-recs-eval-")
    env = dict(os.environ, NEEDLE_RECS__TRAIN_ON_START="false")
    base = f"http://127.0.0.1:{args.port}"
    log = open(os.path.join(data, "server.log"), "wb")
    proc = subprocess.Popen(
        [args.needle, "serve", "--data-dir", os.path.join(data, "d"), "--http-addr", f"127.0.0.1:{args.port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        for _ in range(300):
            try:
                call(base, "GET", "/health/ready")
                break
            except Exception:
                time.sleep(0.1)
        t0 = time.time()
        nd = "\n".join(json.dumps({"id": f"a{i}", "type": "artist", "name": f"artist {i}"}) for i in items)
        st, rep = call(base, "POST", "/v1/catalog", nd.encode(), "application/x-ndjson")
        assert st == 200 and not rep["rejected"], rep
        ts = 1_300_000_000_000
        events = [
            json.dumps({"user_id": u, "type": "play", "item_id": f"a{i}", "ts": ts, "count": max(1, int(w))})
            for u, i, w in parts["train"]
        ]
        for s in range(0, len(events), 10_000):
            st, rep = call(base, "POST", "/v1/events", "\n".join(events[s : s + 10_000]).encode(), "application/x-ndjson")
            assert st == 200 and not rep["rejected"], rep
        load_s = time.time() - t0
        t0 = time.time()
        st, job = call(base, "POST", "/v1/admin/train")
        assert st == 202, job
        while True:
            _, j = call(base, "GET", f"/v1/admin/jobs/{job['job_id']}")
            if j["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert j["status"] == "done", j
        train_s = time.time() - t0
        k = args.k
        sums = {"recall": 0.0, "ndcg": 0.0, "hit": 0.0, "precision": 0.0}
        lat = []
        n = 0
        for u in sorted(test):
            t = time.perf_counter()
            _, r = call(base, "GET", f"/v1/users/{u}/recommendations?types=artist&limit=50")
            lat.append((time.perf_counter() - t) * 1e3)
            ranked = [x["id"][1:] for x in r["items"] if x["id"][1:] not in valid[u]][:k]
            truth = test[u]
            hits = [1 if i in truth else 0 for i in ranked]
            dcg = sum(h / math.log2(p + 2) for p, h in enumerate(hits))
            idcg = sum(1 / math.log2(p + 2) for p in range(min(len(truth), k)))
            sums["recall"] += sum(hits) / len(truth)
            sums["ndcg"] += dcg / idcg
            sums["hit"] += 1.0 if any(hits) else 0.0
            sums["precision"] += sum(hits) / k
            n += 1
        lat.sort()
        out = {m: v / n for m, v in sums.items()}
        out.update(
            listeners=n,
            load_seconds=round(load_s, 1),
            train_seconds=round(train_s, 1),
            http_p50_ms=round(lat[len(lat) // 2], 2),
            http_p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            model=j.get("stats"),
        )
        print(json.dumps(out, indent=1))
        print(
            f"| Needle via HTTP API | {out['recall']:.4f} | {out['ndcg']:.4f} | {out['hit']:.4f} | {out['precision']:.4f} |"
        )
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
