"""Relevance (success@1, MRR@10, recall@10) and latency percentiles per category."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from .common import percentile
from .engines.base import EngineRun
from .workload import CATEGORIES


def rank_of(ids: list[str], accept: set[str], k: int = 10) -> int | None:
    for i, x in enumerate(ids[:k]):
        if x in accept:
            return i + 1
    return None


def relevance(queries: list[dict[str, Any]], run: EngineRun) -> dict[str, dict[str, float]]:
    """Per category (and `all`): success@1, MRR@10 and recall@10 of the accepted ids."""
    acc: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for q, r in zip(queries, run.results):
        ok = set(q["accept"])
        rank = rank_of(r.ids, ok)
        s1 = 1.0 if rank == 1 else 0.0
        mrr = 1.0 / rank if rank else 0.0
        rec = 1.0 if rank else 0.0
        acc[q["cat"]].append((s1, mrr, rec))
        acc["all"].append((s1, mrr, rec))
    out: dict[str, dict[str, float]] = {}
    for cat in CATEGORIES + ["all"]:
        rows = acc.get(cat)
        if not rows:
            continue
        n = len(rows)
        out[cat] = {"n": n, "success@1": sum(r[0] for r in rows) / n,
                    "mrr@10": sum(r[1] for r in rows) / n, "recall@10": sum(r[2] for r in rows) / n}
    return out


def latency(queries: list[dict[str, Any]], run: EngineRun) -> dict[str, dict[str, float]]:
    """Per category (and `all`): p50/p95/p99/max in milliseconds."""
    acc: dict[str, list[float]] = defaultdict(list)
    for q, r in zip(queries, run.results):
        ms = r.micros / 1000.0
        acc[q["cat"]].append(ms)
        acc["all"].append(ms)
    out: dict[str, dict[str, float]] = {}
    for cat in CATEGORIES + ["all"]:
        v = acc.get(cat)
        if v:
            out[cat] = {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95),
                        "p99": percentile(v, 0.99), "max": max(v)}
    return out


def needle_failures(queries: list[dict[str, Any]], runs: dict[str, EngineRun],
                    names: dict[str, str], types: dict[str, str], needle: str = "needle") -> list[dict[str, Any]]:
    """Queries where Needle's top hit is not accepted but at least one anchor's is."""
    base = runs.get(needle)
    if not base or not base.results:
        return []
    out: list[dict[str, Any]] = []
    for i, q in enumerate(queries):
        ok = set(q["accept"])
        mine = base.results[i].ids
        if mine and mine[0] in ok:
            continue
        winners = [n for n, r in runs.items() if n not in (needle, "needle-http") and r.results
                   and r.results[i].ids and r.results[i].ids[0] in ok]
        if not winners:
            continue
        out.append({
            "qid": q["qid"], "cat": q["cat"], "q": q["q"], "note": q["note"],
            "target": f"{q['target']} [{types.get(q['target'], '?')}] {names.get(q['target'], '')}",
            "needle_rank": rank_of(mine, ok),
            "needle_top3": [f"{x} [{types.get(x, '?')}] {names.get(x, '')}" for x in mine[:3]],
            "anchors_right": winners,
        })
    return instructive_first(out)


def instructive_first(fails: list[dict[str, Any]], per_cat: int = 5) -> list[dict[str, Any]]:
    """Most instructive first: many anchors right and Needle far off, at most `per_cat` per
    category in the first round so that every category shows up near the top."""
    def weight(f: dict[str, Any]) -> tuple[int, int]:
        return (len(f["anchors_right"]) + (3 if f["needle_rank"] is None else 0), -f["qid"])

    ranked = sorted(fails, key=weight, reverse=True)
    first: list[dict[str, Any]] = []
    seen: dict[str, int] = defaultdict(int)
    for f in ranked:
        if seen[f["cat"]] < per_cat:
            first.append(f)
            seen[f["cat"]] += 1
    return first + [f for f in ranked if f not in first]
