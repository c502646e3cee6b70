#!/usr/bin/env python3
"""Search latency with the click model and synonyms on vs off, on one imported data dir.

    bench/learn_ab.py --bin bench/out/bin/needle --data bench/out/full/needle-data \
        --queries bench/out/full/queries.jsonl [--rounds 2] [--users 6]

1. OFF: `needle bench-queries` over the workload (no synonyms, no clicks).
2. Turn it ON through the HTTP API of `needle serve` on the same data dir:
   - `PUT /v1/settings/synonyms`: multi-way groups of frequent title words and their
     common short forms (`pt`/`part`, `ep`/`episode`, `vol`/`volume`, ...) and one-way
     rewrites of every query's first word to a made-up variant, so most queries carry a
     synonym rewrite;
   - for every query, `--users` distinct listeners search it and click its 3rd result
     (or the last one shown), so the click model is active (it needs 5) on every query
     with 3 or more results.
3. ON: `needle bench-queries` again.
Each state is its own copy of the data dir (off, clicks, clicks+synonyms); rounds run
the three in turn.

Prints p50/p95/p99 per configuration and the ON/OFF ratios; `--json` writes them.
The server's own search log records the bench queries too (as in production).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

SHORT = [["pt", "part"], ["ep", "episode"], ["vol", "volume"],
         ["dj", "disc jockey"], ["ch", "chapter"], ["intl", "international"],
         ["podcast", "pod", "show"], ["live", "concert"], ["remix", "rmx"], ["mix", "mixtape"]]


def call(base: str, method: str, path: str, body: object | None = None, ndjson: bool = False) -> dict:
    data = None
    headers = {}
    if body is not None:
        if ndjson:
            data = "\n".join(json.dumps(x) for x in body).encode()
            headers["content-type"] = "application/x-ndjson"
        else:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read()[:300]!r}") from e


def bench(bin_: str, data: str, queries: Path, out: Path) -> list[float]:
    subprocess.run([bin_, "--data-dir", data, "bench-queries", str(queries), "--out", str(out), "--repeat", "2"],
                   check=True, stdout=subprocess.DEVNULL)
    return sorted(json.loads(line)["micros"] / 1000 for line in out.read_text().splitlines())


def pct(xs: list[float], p: float) -> float:
    return xs[min(len(xs) - 1, int(p * len(xs)))]


class Server:
    def __init__(self, bin_: str, data: str, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.p = subprocess.Popen([bin_, "--data-dir", data, "serve", "--http-addr", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 600
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/health/ready", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise SystemExit("server did not become ready")

    def stop(self) -> None:
        self.p.terminate()
        self.p.wait(60)


def synonyms(qs: list[dict]) -> dict:
    groups = [{"synonyms": g} for g in SHORT]
    firsts = sorted({w for q in qs for w in q["q"].lower().split()[:1]
                     if w.isascii() and w.isalnum() and w not in ("feat", "ft", "featuring")})
    for w in firsts[:2000]:
        groups.append({"from": w, "to": [w + "x"]})
    return {"groups": groups}


def clicks(base: str, qs: list[dict], users: int) -> int:
    sent = 0
    for i, q in enumerate(qs):
        evs = []
        for u in range(users):
            res = call(base, "GET", "/v1/search?" + urllib.parse.urlencode({"q": q["q"], "limit": 10,
                                                                           "user_id": f"ab-{u}"}))
            hits = res.get("hits", [])
            if len(hits) < 3:
                break
            evs.append({"type": "click", "search_id": res["search_id"], "item_id": hits[2]["id"], "position": 3,
                        "user_id": f"ab-{u}", "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "event_id": f"ab-{i}-{u}"})
        if evs:
            call(base, "POST", "/v1/events", evs, ndjson=True)
            sent += len(evs)
    return sent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--queries", required=True, type=Path)
    ap.add_argument("--port", type=int, default=7781)
    ap.add_argument("--users", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    qs = [json.loads(line) for line in a.queries.read_text().splitlines()]
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "learn_ab"
    tmp.mkdir(exist_ok=True)
    bq = tmp / "queries.jsonl"
    bq.write_text("".join(json.dumps({"q": q["q"], "cat": q["cat"]}) + "\n" for q in qs))
    # Three data dirs made once, then benchmarked in turn (A/B/C, A/B/C, ...) so that the
    # machine's drift falls on all three alike.
    dirs = {k: tmp / k for k in ("off", "clicks", "clicks+synonyms")}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(a.data, dirs["off"])
    shutil.copytree(a.data, dirs["clicks"])
    srv = Server(a.bin, str(dirs["clicks"]), a.port)
    try:
        print(f"sent {clicks(srv.base, qs, a.users)} clicks", file=sys.stderr)
    finally:
        srv.stop()
    shutil.copytree(dirs["clicks"], dirs["clicks+synonyms"])
    srv = Server(a.bin, str(dirs["clicks+synonyms"]), a.port)
    try:
        call(srv.base, "PUT", "/v1/settings/synonyms", synonyms(qs))
    finally:
        srv.stop()
    runs: dict[str, list[list[float]]] = {k: [] for k in dirs}
    for _ in range(a.rounds):
        for k, d in dirs.items():
            runs[k].append(bench(a.bin, str(d), bq, tmp / f"{k}.jsonl"))
    out = {}
    for k, rs in runs.items():
        xs = sorted(x for r in rs for x in r)
        out[k] = {"n": len(xs), "p50": pct(xs, 0.5), "p95": pct(xs, 0.95), "p99": pct(xs, 0.99)}
    for k, v in out.items():
        base = out["off"]
        print(f"{k:16} n={v['n']:5} p50 {v['p50']:.2f} ms  p95 {v['p95']:.2f}  p99 {v['p99']:.2f}  "
              f"(p50 x{v['p50'] / base['p50']:.2f}, p99 x{v['p99'] / base['p99']:.2f})")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
