#!/usr/bin/env python3
"""The held-out protocols on HetRec Last.fm, through Needle's HTTP API.

What a user would do: load the catalog and the *training* listening events with
`POST /v1/catalog` and `POST /v1/events`, train with `POST /v1/admin/train`, then read
`GET /v1/users/{id}/recommendations?types=artist&limit=50` for every test listener. The
protocol ranks all items except the listener's train and validation items; the API already
leaves out what the listener played (train), and validation items are dropped from the 50
returned before the top 10 are scored. Metrics are needle-recs' definitions (Recall, NDCG,
Hit, Precision @10, averaged over listeners with test items), the same as RecBole's.

The listener-holdout protocol (`--protocol holdout`, a `holdout_seed{S}.tsv` split): the
server trains on the other listeners only; then each held-out listener's known half is
posted as events (after training, so the model never saw them: they are folded in at
request time) and the other half is to be found.

    python3 bench/recs_api_eval.py --split /tmp/splits/split_seed0.tsv \
        --needle target/release/needle [--port 7791] [--select off] [--per-user OUT.json]
    python3 bench/recs_api_eval.py --compare A.json B.json   # paired difference, A - B
    python3 bench/recs_api_eval.py --split ... --discovery 0,0.25,0.5,1   # discover's trade curve

`--select off` serves ALS alone (`NEEDLE_RECS__SELECT__ENABLED=false`: the tuned ALS
baseline through the same API); the default serves what model selection chose.
`--per-user` writes each listener's NDCG@k and Recall@k; `--compare` reads two such files
of the same split and prints the paired difference with its standard error.

The split files come from
`target/release/needle eval --data ../shared/data/hetrec2011-lastfm-2k --seeds 3 --models popularity --holdout --write-split /tmp/splits`.
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
import urllib.error
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
    ap.add_argument("--split")
    ap.add_argument("--needle", default="target/release/needle")
    ap.add_argument("--port", type=int, default=7791)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--protocol", choices=["recbole", "holdout"], default="recbole")
    ap.add_argument("--select", choices=["on", "off"], default="on")
    ap.add_argument("--per-user")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    ap.add_argument(
        "--data",
        default="../shared/data/hetrec2011-lastfm-2k",
        help="HetRec folder: each artist's 10 most applied tags go into the catalog (as `needle eval` reads them)",
    )
    ap.add_argument("--no-tags", action="store_true", help="load artists with names only")
    ap.add_argument(
        "--freshness",
        type=int,
        default=0,
        metavar="N",
        help="after the test: for N listeners, play the first item for_you recommends and time until for_you "
        "stops recommending it (the play reached the listener's profile and the fold-in)",
    )
    ap.add_argument(
        "--retrain",
        choices=["none", "full", "incremental"],
        help="RecBole only: after the first training, post the validation part as new plays and train again "
        "(full, or incremental: warm-started, no new selection; none: the plays are only folded in at request "
        "time) before the test is read",
    )
    ap.add_argument(
        "--discovery",
        help="comma-separated values of discover's `discovery` (e.g. 0,0.25,0.5,1): after the test, read "
        "`surface=discover&types=artist` for every test listener at each value and report its accuracy, "
        "coverage, novelty and ARP (client-side, train popularity), and the server's "
        "/v1/admin/recommendations/quality for the same value",
    )
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    if not args.split:
        ap.error("--split is required")

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
    env = dict(
        os.environ,
        NEEDLE_RECS__TRAIN_ON_START="false",
        NEEDLE_RECS__SELECT__ENABLED="true" if args.select == "on" else "false",
    )
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
        tags = {} if args.no_tags else artist_tags(args.data)
        nd = "\n".join(
            json.dumps({"id": f"a{i}", "type": "artist", "name": f"artist {i}", "tags": tags.get(i, [])}) for i in items
        )
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
            if j["status"] in ("done", "failed", "interrupted"):
                break
            time.sleep(0.2)
        assert j["status"] == "done", j
        train_s = time.time() - t0
        retrain_s = None
        if args.retrain:
            assert args.protocol == "recbole", "--retrain is for the RecBole protocol"
            fresh = [
                json.dumps({"user_id": u, "type": "play", "item_id": f"a{i}", "ts": ts + 86_400_000, "count": max(1, int(w))})
                for u, i, w in parts["valid"]
            ]
            for s in range(0, len(fresh), 10_000):
                st, rep = call(base, "POST", "/v1/events", "\n".join(fresh[s : s + 10_000]).encode(), "application/x-ndjson")
                assert st == 200 and not rep["rejected"], rep
            last = parts["valid"][-1][0]
            want = sum(1 for u, _, _ in parts["train"] + parts["valid"] if u == last)
            for _ in range(600):
                _, prof = call(base, "GET", f"/v1/users/{last}/profile")
                if prof["events"].get("play", 0) >= want:
                    break
                time.sleep(0.1)
            t0 = time.time()
            if args.retrain != "none":
                body = json.dumps({"incremental": args.retrain == "incremental"}).encode()
                st, job = call(base, "POST", "/v1/admin/train", body)
                assert st == 202, job
                while True:
                    _, j = call(base, "GET", f"/v1/admin/jobs/{job['job_id']}")
                    if j["status"] in ("done", "failed", "interrupted"):
                        break
                    time.sleep(0.2)
                assert j["status"] == "done", j
                retrain_s = time.time() - t0
        if args.protocol == "holdout":
            # The held-out listeners' known half, after training: folded in per request.
            known = [
                json.dumps({"user_id": u, "type": "play", "item_id": f"a{i}", "ts": ts, "count": max(1, int(w))})
                for u, i, w in parts["valid"]
            ]
            for s in range(0, len(known), 10_000):
                st, rep = call(base, "POST", "/v1/events", "\n".join(known[s : s + 10_000]).encode(), "application/x-ndjson")
                assert st == 200 and not rep["rejected"], rep
            # Acknowledged events are applied within moments; wait until the last
            # listener's profile shows all of them.
            last = parts["valid"][-1][0]
            want = sum(1 for u, _, _ in parts["valid"] if u == last)
            for _ in range(600):
                try:
                    _, prof = call(base, "GET", f"/v1/users/{last}/profile")
                    if prof["events"].get("play", 0) >= want:
                        break
                except urllib.error.HTTPError:
                    pass
                time.sleep(0.1)
        k = args.k
        sums = {"recall": 0.0, "ndcg": 0.0, "hit": 0.0, "precision": 0.0}
        lat = []
        n = 0
        per_user = {}
        for u in sorted(test):
            t = time.perf_counter()
            _, r = call(base, "GET", f"/v1/users/{u}/recommendations?types=artist&limit=50")
            lat.append((time.perf_counter() - t) * 1e3)
            # RecBole: validation items are excluded from the test ranking. Holdout: the
            # known half was played, so the API leaves it out already.
            ranked = [x["id"][1:] for x in r["items"] if x["id"][1:] not in valid[u]][:k]
            ndcg, recall, hits = ranking_metrics(ranked, test[u], k)
            sums["recall"] += recall
            sums["ndcg"] += ndcg
            per_user[u] = [ndcg, recall]
            sums["hit"] += 1.0 if hits else 0.0
            sums["precision"] += hits / k
            n += 1
        lat.sort()
        fresh_ms = []
        for u in sorted(test)[: args.freshness]:
            _, r = call(base, "GET", f"/v1/users/{u}/recommendations?types=artist&limit=10")
            if not r["items"]:
                continue
            top = r["items"][0]["id"]
            ev = json.dumps({"user_id": u, "type": "play", "item_id": top, "ts": ts + 2 * 86_400_000, "count": 1})
            st, rep = call(base, "POST", "/v1/events", ev.encode(), "application/x-ndjson")
            assert st == 200 and not rep["rejected"], rep
            t = time.perf_counter()
            while True:
                _, r = call(base, "GET", f"/v1/users/{u}/recommendations?types=artist&limit=10")
                if top not in [x["id"] for x in r["items"]]:
                    break
                assert time.perf_counter() - t < 30, f"{u}: {top} still recommended after 30 s"
            fresh_ms.append((time.perf_counter() - t) * 1e3)
        fresh_ms.sort()
        out = {m: v / n for m, v in sums.items()}
        if args.discovery:
            out["discovery"] = discovery_curve(base, args, parts, valid, test)
        if fresh_ms:
            out["freshness_ms"] = {
                "listeners": len(fresh_ms),
                "p50": round(fresh_ms[len(fresh_ms) // 2], 2),
                "p99": round(fresh_ms[min(len(fresh_ms) - 1, int(len(fresh_ms) * 0.99))], 2),
                "max": round(fresh_ms[-1], 2),
            }
        for m, idx in (("ndcg", 0), ("recall", 1)):
            v = [x[idx] for x in per_user.values()]
            mean = sum(v) / len(v)
            sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
            out[f"{m}_se"] = sd / math.sqrt(len(v))
        if args.per_user:
            with open(args.per_user, "w") as f:
                json.dump(per_user, f)
        out.update(
            listeners=n,
            load_seconds=round(load_s, 1),
            train_seconds=round(train_s, 1),
            retrain=args.retrain,
            retrain_seconds=None if retrain_s is None else round(retrain_s, 1),
            http_p50_ms=round(lat[len(lat) // 2], 2),
            http_p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            model=j.get("stats"),
            protocol=args.protocol,
            select=args.select,
        )
        print(json.dumps(out, indent=1))
        print(
            f"| Needle via HTTP API | {out['recall']:.4f} | {out['ndcg']:.4f} | {out['hit']:.4f} | {out['precision']:.4f} |"
        )
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def ranking_metrics(ranked: list[str], truth: set[str], k: int) -> tuple[float, float, int]:
    """NDCG@k, Recall@k and the number of hits of one top-k list (needle-recs' definitions)."""
    hits = [1 if i in truth else 0 for i in ranked[:k]]
    dcg = sum(h / math.log2(p + 2) for p, h in enumerate(hits))
    idcg = sum(1 / math.log2(p + 2) for p in range(min(len(truth), k)))
    return dcg / idcg, sum(hits) / len(truth), sum(hits)


def discovery_curve(base: str, args, parts, valid, test) -> dict:
    """Discover at each `--discovery` value: accuracy on the test items, and beyond-accuracy
    figures of the same lists (popularity = training listeners per artist)."""
    pop = defaultdict(int)
    for _, i, _ in parts["train"]:
        pop[i] += 1
    n_users = len({u for u, _, _ in parts["train"]})
    k = args.k
    curve = {}
    for d in args.discovery.split(","):
        ndcg, recall, arp, novelty, seen = [], [], [], [], set()
        for u in sorted(test):
            _, r = call(base, "GET", f"/v1/users/{u}/recommendations?surface=discover&types=artist&limit=50&discovery={d}")
            ranked = [x["id"][1:] for x in r["items"] if x["id"][1:] not in valid[u]][:k]
            n, r, _ = ranking_metrics(ranked, test[u], k)
            ndcg.append(n)
            recall.append(r)
            for i in ranked:
                arp.append(pop[i])
                novelty.append(-math.log2(max(1, pop[i]) / n_users))
                seen.add(i)
        _, q = call(base, "GET", f"/v1/admin/recommendations/quality?types=artist&limit={k}&sample=500&discovery={d}")
        served = next(s for s in q["surfaces"] if s["surface"] == "discover")

        def se(v):
            m = sum(v) / len(v)
            return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v))

        curve[d] = {
            "ndcg": sum(ndcg) / len(ndcg),
            "ndcg_se": se(ndcg),
            "recall": sum(recall) / len(recall),
            "recall_se": se(recall),
            "arp": sum(arp) / max(1, len(arp)),
            "novelty_bits": sum(novelty) / max(1, len(novelty)),
            "coverage": len(seen) / max(1, len(pop)),
            "quality_endpoint": served,
            "head_items_share": q["head_items_share"],
        }
        c = curve[d]
        print(
            f"| discover, discovery {d} | {c['recall']:.4f} ± {c['recall_se']:.4f} | {c['ndcg']:.4f} ± {c['ndcg_se']:.4f} "
            f"| {c['coverage']:.3f} | {c['novelty_bits']:.2f} | {c['arp']:.1f} | {served['head_share']:.3f} "
            f"| {served['intra_list_diversity'] or 0:.3f} |",
            file=sys.stderr,
        )
    return curve


def artist_tags(data: str, max_tags: int = 10) -> dict[str, list[str]]:
    """Each artist's `max_tags` most applied tags (ties: lower tag id first), by name."""
    names = {}
    with open(os.path.join(data, "tags.dat"), encoding="latin-1") as f:
        next(f)
        for line in f:
            tid, name = line.rstrip("\n").split("\t", 1)
            names[tid] = name.strip()
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    with open(os.path.join(data, "user_taggedartists.dat"), encoding="latin-1") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 3:
                counts[cols[1].strip()][int(cols[2])] += 1
    out = {}
    for artist, c in counts.items():
        top = sorted(c.items(), key=lambda x: (-x[1], x[0]))[:max_tags]
        out[artist] = [names.get(str(t), f"tag{t}")[:100] for t, _ in top if names.get(str(t), "").strip()]
    return out


def compare(a_path: str, b_path: str) -> int:
    """Paired difference A - B of NDCG@k and Recall@k over the listeners both scored."""
    a, b = json.load(open(a_path)), json.load(open(b_path))
    users = sorted(set(a) & set(b))
    out = {"listeners": len(users)}
    for m, idx in (("ndcg", 0), ("recall", 1)):
        d = [a[u][idx] - b[u][idx] for u in users]
        mean = sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
        se = sd / math.sqrt(len(d))
        out[m] = {"a": sum(a[u][idx] for u in users) / len(users), "b": sum(b[u][idx] for u in users) / len(users),
                  "diff": mean, "se": se, "z": mean / se if se > 0 else None}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
