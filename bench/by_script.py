#!/usr/bin/env python3
"""Success@1 and MRR@10 of the `non_latin` and `spaceless` queries per script and form,
per engine, from a finished `bench/run` (`bench/out/<mode>/`).

    bench/by_script.py [--mode full] [--engines needle,lucene,...] [--misses ENGINE]
"""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).parent / "out"
SCRIPT_OF_NON_LATIN = [("cjk", "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]"), ("hangul", "[\uac00-\ud7af]"),
                       ("cyrillic", "[\u0400-\u04ff]"), ("arabic", "[\u0600-\u06ff]"),
                       ("devanagari", "[\u0900-\u097f]")]


def cell(q: dict) -> str:
    if q["cat"] == "spaceless":
        script, form = q["note"].split(":")[0].split()
        return f"spaceless {script} {form}"
    for name, cls in SCRIPT_OF_NON_LATIN:
        if re.search(cls, q["q"]):
            return f"non_latin {name}"
    return "non_latin other"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="full")
    ap.add_argument("--engines", default="")
    ap.add_argument("--misses", default="")
    a = ap.parse_args()
    work = OUT / a.mode
    qs = {q["qid"]: q for q in map(json.loads, (work / "queries.jsonl").read_text().splitlines())
          if q["cat"] in ("non_latin", "spaceless")}
    engines = [e for e in a.engines.split(",") if e] or sorted(
        p.stem.removeprefix("results-") for p in work.glob("results-*.jsonl"))
    table: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for eng in engines:
        path = work / f"results-{eng}.jsonl"
        if not path.exists():
            continue
        for r in map(json.loads, path.read_text().splitlines()):
            q = qs.get(r["qid"])
            if not q:
                continue
            ids = r["ids"][:10]
            rank = next((i + 1 for i, x in enumerate(ids) if x in q["accept"]), 0)
            s1, rr = float(rank == 1), (1.0 / rank if rank else 0.0)
            for key in {cell(q), q["cat"], q["cat"] + " " + cell(q).split()[1]}:
                table[key][eng].append((s1, rr))
            if eng == a.misses and rank != 1:
                print(f"miss {cell(q)}: {q['q']!r} -> want {q['target']} ({q['note']}); got {ids[:3]}")
    print("| queries | n | " + " | ".join(engines) + " |")
    print("|---|---|" + "---|" * len(engines))
    for key in sorted(table):
        n = max(len(v) for v in table[key].values())
        row = []
        for eng in engines:
            v = table[key].get(eng, [])
            row.append(f"{sum(x for x, _ in v) / len(v):.3f} / {sum(y for _, y in v) / len(v):.3f}" if v else "—")
        print(f"| {key} | {n} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
