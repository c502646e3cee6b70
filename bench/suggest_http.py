#!/usr/bin/env python3
"""`GET /v1/suggest` latency over HTTP on an imported catalog, from a sequential
keep-alive client (as the harness measures `needle-http`), and the held-out check.

    bench/suggest_http.py --bin bench/out/bin/needle --data bench/out/full/needle-data \
        --docs bench/out/full/docs.jsonl [--n 3000] [--user lfm:user:2]

Typed text: for a random sample of names (popularity-weighted: half from the most popular
tenth, half uniform), the first 1 to 8 characters, as a listener types them key by key.
Held-out: for the most popular 1,000 artists and tracks, and 1,000 uniform items, is the
item among the first five suggestions for its first 3 / 5 characters? Prints p50/p95/p99/max.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from learn_ab import Server  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--docs", required=True, type=Path)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--user", default="")
    ap.add_argument("--port", type=int, default=7783)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    docs = []
    with open(a.docs, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("name"):
                docs.append((d["id"], d.get("type", ""), d["name"], float(d.get("pop", 0))))
    docs.sort(key=lambda d: -d[3])
    top = docs[: len(docs) // 10]
    typed: list[str] = []
    while len(typed) < a.n:
        d = rng.choice(top if rng.random() < 0.5 else docs)
        k = rng.randint(1, min(8, len(d[2])))
        typed.append(d[2][:k])
    music = [d for d in docs if d[1] in ("artist", "track")][:1000]
    uniform = rng.sample(docs, 1000)
    srv = Server(a.bin, a.data, a.port)
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)

    def suggest(q: str) -> tuple[float, list[dict]]:
        params = {"q": q, "limit": 5}
        if a.user:
            params["user_id"] = a.user
        t = time.perf_counter()
        conn.request("GET", "/v1/suggest?" + urllib.parse.urlencode(params))
        r = conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t) * 1000
        if r.status != 200:
            raise SystemExit(f"{q!r}: {r.status} {body[:200]!r}")
        return ms, json.loads(body)["suggestions"]

    try:
        for q in typed[:200]:  # warm-up
            suggest(q)
        first = [suggest(q)[0] for q in typed]
        lat = [suggest(q)[0] for q in typed]  # reported: the second pass
        held = {}
        for label, items in (("popular artists and tracks", music), ("uniform", uniform)):
            for k in (3, 5):
                found = sum(1 for d in items if any(s.get("id") == d[0] for s in suggest(d[2][:k])[1]))
                held[f"{label}, first {k} characters"] = f"{found}/{len(items)}"
    finally:
        srv.stop()
    by_len: dict[int, list[float]] = {}
    for q, ms in zip(typed, lat):
        by_len.setdefault(min(len(q), 5), []).append(ms)
    print(json.dumps({"first_pass_p50_p99_ms": [round(pct(first, 0.5), 3), round(pct(first, 0.99), 3)],
                      "p99_ms_by_typed_length(5=5+)": {k: round(pct(v, 0.99), 3) for k, v in sorted(by_len.items())},
                      "slowest": sorted(zip(lat, typed), reverse=True)[:8],
                      "calls": len(lat), "p50_ms": round(pct(lat, 0.5), 3), "p95_ms": round(pct(lat, 0.95), 3),
                      "p99_ms": round(pct(lat, 0.99), 3), "max_ms": round(max(lat), 3),
                      "held_out_top5": held, "user": a.user or None}, indent=1))


if __name__ == "__main__":
    main()
