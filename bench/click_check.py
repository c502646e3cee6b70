#!/usr/bin/env python3
"""Held-out check of ranking learned from clicks, over HTTP on a real catalog (#14).

    bench/click_check.py --bin bench/out/bin/needle --data DIR --queries bench/out/full/queries.jsonl \
        [--n 100] [--users 6] [--min-users 5]

Works on a copy of DIR. For `--n` queries of the `ambiguous_popular` and `exact`
categories with at least 4 results, the intended item is the one at position 3 or lower
(the 3rd, 4th or 5th, chosen at random). Then:

1. one noisy listener searches the query and clicks another result (the 2nd) 1,000 times:
   the order must not change (one listener is one vote; below `click_min_users`);
2. `--users` distinct listeners search it and click the intended item at its position;
3. the intended item must be first, for an anonymous search too.

Reports how many queries moved as required, and any that did not (with their top 3).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from learn_ab import Server, call  # noqa: E402

import urllib.parse  # noqa: E402


def search(base: str, q: str, user: str | None) -> dict:
    params = {"q": q, "limit": 10}
    if user:
        params["user_id"] = user
    return call(base, "GET", "/v1/search?" + urllib.parse.urlencode(params))


def click(base: str, res: dict, item: str, pos: int, user: str, eid: str) -> dict:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"type": "click", "search_id": res["search_id"], "item_id": item, "position": pos, "user_id": user,
            "ts": ts, "event_id": eid}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--queries", required=True, type=Path)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--users", type=int, default=6)
    ap.add_argument("--port", type=int, default=7782)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    qs = [json.loads(line) for line in a.queries.read_text().splitlines()]
    pool = [q for q in qs if q["cat"] in ("ambiguous_popular", "exact")]
    rng.shuffle(pool)
    work = Path(tempfile.mkdtemp(prefix="click_check-"))
    data = work / "data"
    shutil.copytree(a.data, data)
    srv = Server(a.bin, str(data), a.port)
    ok_noise = ok_learn = ok_anon = tried = 0
    misses = []
    try:
        for qi, q in enumerate(pool):
            if tried >= a.n:
                break
            before = search(srv.base, q["q"], None)
            ids = [h["id"] for h in before["hits"]]
            if len(ids) < 4:
                continue
            tried += 1
            pos = rng.randint(3, min(5, len(ids)))
            intended = ids[pos - 1]
            # 1. One noisy listener, 1,000 clicks on the 2nd result.
            res = search(srv.base, q["q"], f"noisy-{qi}")
            evs = [click(srv.base, res, ids[1], 2, f"noisy-{qi}", f"n-{qi}-{k}") for k in range(1000)]
            call(srv.base, "POST", "/v1/events", evs, ndjson=True)
            after_noise = [h["id"] for h in search(srv.base, q["q"], None)["hits"]]
            ok_noise += after_noise[:len(ids)] == ids
            # 2. Distinct listeners click the intended item where they see it.
            evs = []
            for u in range(a.users):
                user = f"l-{qi}-{u}"
                res = search(srv.base, q["q"], user)
                shown = [h["id"] for h in res["hits"]]
                if intended in shown:
                    evs.append(click(srv.base, res, intended, shown.index(intended) + 1, user, f"c-{qi}-{u}"))
            call(srv.base, "POST", "/v1/events", evs, ndjson=True)
            learned = [h["id"] for h in search(srv.base, q["q"], f"other-{qi}")["hits"]]
            anon = [h["id"] for h in search(srv.base, q["q"], None)["hits"]]
            ok_learn += bool(learned) and learned[0] == intended
            ok_anon += bool(anon) and anon[0] == intended
            if not anon or anon[0] != intended:
                misses.append({"q": q["q"], "intended": intended, "pos": pos, "top3": anon[:3]})
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"queries": tried, "unchanged_by_one_noisy_listener": ok_noise,
                      "intended_first_for_another_listener": ok_learn, "intended_first_anonymous": ok_anon,
                      "misses": misses[:10]}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
