#!/usr/bin/env python3
"""Known-item search in each retrieval mode, on one running server (issue #15: "the
held-out known-item queries in hybrid mode, no category worse than keyword mode").

Reads the bench workload (`bench/out/<mode>/queries.jsonl`, written by `bench/run`: query,
category, accepted ids) and asks `GET /v1/search?q=&limit=10&mode=M` of a Needle server
for every query in every mode given, interleaved per query so drift hits every mode
alike. Prints success@1, MRR@10 and recall@10 per category and mode, the number of
queries whose rank-1 answer changed against keyword mode (better / worse), latency
p50/p99 per mode, and writes the figures as JSON.

    python3 bench/hybrid_known_item.py --server http://127.0.0.1:7700 \\
        --queries bench/out/full/queries.jsonl --modes keyword,auto,hybrid --out /tmp/ki.json

Standard library only.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request
from collections import defaultdict


def percentile(v: list[float], p: float) -> float:
    s = sorted(v)
    if not s:
        return 0.0
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def search(base: str, q: str, mode: str, limit: int) -> tuple[list[str], float]:
    # `hybrid@0.7`: mode hybrid with semantic_ratio 0.7.
    mode, _, ratio = mode.partition("@")
    url = f"{base}/v1/search?limit={limit}&mode={mode}&q={urllib.parse.quote(q)}"
    if ratio:
        url += f"&semantic_ratio={ratio}"
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = json.load(r)
    ms = (time.perf_counter() - t0) * 1000
    return [h["id"] for h in body["hits"]], ms


def rank_of(ids: list[str], accept: set[str]) -> int | None:
    for i, x in enumerate(ids[:10]):
        if x in accept:
            return i + 1
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--modes", default="keyword,auto,hybrid")
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--out")
    a = ap.parse_args()
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    queries = [json.loads(l) for l in open(a.queries, encoding="utf-8") if l.strip()]
    ranks: dict[str, list[int | None]] = {m: [] for m in modes}
    lat: dict[str, list[float]] = {m: [] for m in modes}
    for i, q in enumerate(queries):
        for m in modes:
            search(a.server, q["q"], m, a.limit)  # warm, as bench-queries --repeat 2
            ids, ms = search(a.server, q["q"], m, a.limit)
            ranks[m].append(rank_of(ids, set(q["accept"])))
            lat[m].append(ms)
        if (i + 1) % 500 == 0:
            print(f"{i + 1}/{len(queries)}", file=sys.stderr)
    cats = sorted({q["cat"] for q in queries}) + ["all"]
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for m in modes:
        per: dict[str, list[int | None]] = defaultdict(list)
        for q, r in zip(queries, ranks[m]):
            per[q["cat"]].append(r)
            per["all"].append(r)
        figures[m] = {}
        for c in cats:
            rs = per[c]
            n = len(rs)
            figures[m][c] = {
                "n": n,
                "success@1": sum(1 for r in rs if r == 1) / n,
                "mrr@10": sum(1 / r for r in rs if r) / n,
                "recall@10": sum(1 for r in rs if r) / n,
            }
        figures[m]["latency_ms"] = {"p50": percentile(lat[m], 0.5), "p99": percentile(lat[m], 0.99)}
    base = modes[0]
    print(f"| category | n | " + " | ".join(f"{m} s@1" for m in modes) + " |")
    print("|---|---:|" + "---:|" * len(modes))
    for c in cats:
        row = [f"{figures[m][c]['success@1']:.3f}" for m in modes]
        print(f"| {c} | {figures[base][c]['n']} | " + " | ".join(row) + " |")
    print()
    for m in modes[1:]:
        better = sum(1 for x, y in zip(ranks[base], ranks[m]) if y == 1 and x != 1)
        worse = sum(1 for x, y in zip(ranks[base], ranks[m]) if x == 1 and y != 1)
        print(f"{m} vs {base}: rank-1 gained {better}, lost {worse}")
        figures[m]["vs_" + base] = {"gained": better, "lost": worse}
    for m in modes:
        l = figures[m]["latency_ms"]
        print(f"{m}: p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms (HTTP, sequential client)")
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
