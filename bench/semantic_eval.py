#!/usr/bin/env python3
"""Semantic-search evaluation: natural-language queries over podcasts and audiobooks.

Python 3 standard library only. See docs/EVALUATION.md, "Semantic search: natural-language
queries over podcasts and audiobooks".

    # 1. pool the top-20 of each mode (TREC-style) and fetch what a judge needs to read
    python3 bench/semantic_eval.py pool --server http://127.0.0.1:7700 \
        --modes keyword,semantic,hybrid --depth 20 --out bench/semantic/pool.jsonl
    # 2. print the unjudged candidates per query; grades go into bench/semantic/qrels.tsv
    python3 bench/semantic_eval.py judge-sheet --pool bench/semantic/pool.jsonl \
        --qrels bench/semantic/qrels.tsv [--split dev|test] [--template]
    # 3. score a split (test is the reported one; dev is for tuning fusion)
    python3 bench/semantic_eval.py score --server http://127.0.0.1:7700 \
        --qrels bench/semantic/qrels.tsv --split test --modes keyword,semantic,hybrid \
        --out bench/results/semantic_test.json
    # a mode may carry the semantic ratio: --modes keyword,hybrid@0.3,hybrid@0.7

qrels.tsv: `qid<TAB>id<TAB>grade<TAB>note`, grade 0 (not relevant), 1 (partly/related),
2 (squarely on topic) against the query's written criterion. Lines starting with `#` and a
`qid	id	grade	note` header are ignored. Unjudged hits count as non-relevant when scoring;
the `judged@10` column says how many of the top 10 were judged, so pool bias is visible.

The API key, if the server needs one, is read from --api-key or NEEDLE_API_KEY and sent as
`Authorization: Bearer ...`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_QUERIES = os.path.join(HERE, "semantic", "queries.tsv")
DEFAULT_QRELS = os.path.join(HERE, "semantic", "qrels.tsv")
DEFAULT_POOL = os.path.join(HERE, "semantic", "pool.jsonl")
DESC_CHARS = 400
KINDS = ("show", "audiobook", "episode", "chapter")
STOP = set(
    "a an and are about as at be by for from how i in into is it its like my of on or that the "
    "their them they this to what when who why with you your de la le les et des du en el los "
    "las y un una der die das und für auf über".split()
)


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


class ApiError(Exception):
    pass


# ----------------------------------------------------------------------------- files


def load_queries(path: str, split: str | None = None, qids: set[str] | None = None) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        sys.exit(f"cannot read queries {path}: {e}")
    if not lines or lines[0].split("\t")[:5] != ["qid", "split", "target_types", "query", "criterion"]:
        sys.exit(f"{path}: expected header qid\\tsplit\\ttarget_types\\tquery\\tcriterion")
    out, seen = [], set()
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 5:
            sys.exit(f"{path}:{n}: expected 5 tab-separated columns, got {len(f)}")
        qid, sp, types, query, crit = (x.strip() for x in f)
        if qid in seen:
            sys.exit(f"{path}:{n}: duplicate qid {qid}")
        seen.add(qid)
        if sp not in ("dev", "test"):
            sys.exit(f"{path}:{n}: split must be dev or test, got {sp!r}")
        bad = [t for t in types.split(",") if t not in KINDS]
        if bad:
            sys.exit(f"{path}:{n}: unknown target type(s) {bad}")
        if split and split != "all" and sp != split:
            continue
        if qids and qid not in qids:
            continue
        out.append({"qid": qid, "split": sp, "types": types, "kind": types.split(",")[0],
                    "query": query, "criterion": crit})
    return out


def load_qrels(path: str) -> dict[str, dict[str, int]]:
    """{qid: {id: grade}}; a later line for the same (qid, id) wins."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    if not os.path.exists(path):
        return qrels
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#") or line.startswith("qid\t"):
            continue
        f = line.split("\t")
        if len(f) < 3:
            sys.exit(f"{path}:{n}: expected qid<TAB>id<TAB>grade[<TAB>note]")
        try:
            g = int(f[2])
        except ValueError:
            sys.exit(f"{path}:{n}: grade {f[2]!r} is not 0, 1 or 2")
        if g not in (0, 1, 2):
            sys.exit(f"{path}:{n}: grade {g} is not 0, 1 or 2")
        qrels[f[0].strip()][f[1].strip()] = g
    return qrels


def load_pool(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: bad JSON: {e}")
    return out


# ----------------------------------------------------------------------------- HTTP


class Client:
    def __init__(self, server: str, api_key: str | None, timeout: float):
        self.base = server.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.mode_unsupported = False
        self._catalog: dict[str, dict | None] = {}

    def get(self, path: str, params: dict | None = None, retries: int = 2):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, headers={"accept": "application/json"})
        if self.api_key:
            req.add_header("authorization", f"Bearer {self.api_key}")
        for attempt in range(retries + 1):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return r.status, json.loads(r.read() or b"null")
            except urllib.error.HTTPError as e:
                body = e.read()[:300].decode("utf-8", "replace")
                if e.code in (429, 502, 503) and attempt < retries:
                    time.sleep(float(e.headers.get("retry-after") or 1) if e.headers else 1)
                    continue
                return e.code, {"error_body": body}
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                if attempt < retries:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                raise ApiError(f"GET {url}: {e}") from e
            except json.JSONDecodeError as e:
                raise ApiError(f"GET {url}: response is not JSON ({e})") from e
        raise ApiError(f"GET {url}: gave up")

    def search(self, q: dict, mode: str, limit: int, explain: bool = False) -> tuple[list[dict], float]:
        params = {"q": q["query"], "types": q["types"], "limit": str(limit)}
        # `hybrid@0.7`: mode hybrid with semantic_ratio 0.7 (tuning on the dev split).
        mode, _, ratio = mode.partition("@")
        if ratio:
            params["semantic_ratio"] = ratio
        if mode and not self.mode_unsupported:
            params["mode"] = mode
        if explain:
            params["explain"] = "true"
        t0 = time.perf_counter()
        status, body = self.get("/v1/search", params)
        ms = (time.perf_counter() - t0) * 1000
        if status == 400 and "mode" in params and "mode" in json.dumps(body):
            warn(f"the server rejects mode={mode} ({str(body)[:160]}); modes are ignored from now on")
            self.mode_unsupported = True
            return self.search(q, mode, limit, explain)
        if status != 200:
            raise ApiError(f"search {q['qid']} mode={mode}: HTTP {status} {str(body)[:300]}")
        if not isinstance(body, dict) or not isinstance(body.get("hits"), list):
            raise ApiError(f"search {q['qid']}: no `hits` list in the response")
        served = body.get("mode")
        if mode and isinstance(served, str) and served != mode:
            warn(f"{q['qid']}: asked for mode={mode}, the server says it ran mode={served}")
        hits, seen = [], set()
        for h in body["hits"]:
            hid = h.get("id") if isinstance(h, dict) else None
            if isinstance(hid, str) and hid not in seen:
                seen.add(hid)
                hits.append(h)
        return hits[:limit], ms

    def entity(self, eid: str) -> dict | None:
        if eid not in self._catalog:
            status, body = self.get("/v1/catalog/" + urllib.parse.quote(eid, safe=":"))
            if status == 200 and isinstance(body, dict):
                # Some servers wrap the entity ({"entity": {...}}); accept both.
                ent = body.get("entity") if isinstance(body.get("entity"), dict) else body
                self._catalog[eid] = ent
            else:
                if status != 404:
                    warn(f"GET /v1/catalog/{eid}: HTTP {status}")
                self._catalog[eid] = None
        return self._catalog[eid]


def client_from(args) -> Client:
    return Client(args.server, args.api_key or os.environ.get("NEEDLE_API_KEY"), args.timeout)


def check_modes_differ(runs: dict[str, dict[str, list[str]]]) -> None:
    """Warn when every mode returned the same ranking for every query: the server most
    likely ignored `mode`."""
    modes = list(runs)
    if len(modes) < 2:
        return
    first = runs[modes[0]]
    if all(runs[m].get(q) == first.get(q) for m in modes[1:] for q in first) and first:
        warn(f"modes {','.join(modes)} gave identical rankings for every query; "
             "the server probably ignores `mode` (is semantic search enabled?)")


# ----------------------------------------------------------------------------- pool


def _list(v) -> list[str]:
    if isinstance(v, list):
        return [x if isinstance(x, str) else (x.get("name") if isinstance(x, dict) else str(x))
                for x in v if x]
    if isinstance(v, str) and v:
        return [v]
    return []


def _first_str(*vals) -> str:
    for v in vals:
        if isinstance(v, str) and v.strip():
            return v.strip()
        if isinstance(v, dict) and isinstance(v.get("name"), str):
            return v["name"]
    return ""


def query_terms(query: str) -> list[str]:
    return [w for w in re.findall(r"\w+", query.lower()) if len(w) > 2 and w not in STOP]


def snippets(text: str, terms: list[str], width: int = 160, n: int = 2) -> list[str]:
    """Up to n windows of `text` around the first occurrences of query terms (for judging
    episodes, whose only text is a long transcript)."""
    low = text.lower()
    out, taken = [], []
    for t in terms:
        i = low.find(t)
        if i < 0 or any(abs(i - j) < width for j in taken):
            continue
        taken.append(i)
        s = max(0, i - width // 2)
        out.append(("…" if s else "") + " ".join(text[s:s + width].split()) + "…")
        if len(out) >= n:
            break
    return out


def display(hit: dict, ent: dict | None, client: Client, q: dict) -> dict:
    e = ent or {}
    container_id = _first_str(e.get("show_id"), e.get("audiobook_id"), hit.get("show_id"),
                              hit.get("audiobook_id"))
    container = _first_str(hit.get("show"), hit.get("show_name"), hit.get("audiobook"),
                           hit.get("audiobook_name"), e.get("show"), e.get("audiobook"))
    if not container and container_id:
        c = client.entity(container_id)
        container = _first_str((c or {}).get("name")) or container_id
    desc = _first_str(e.get("description"), hit.get("description"))
    transcript = e.get("transcript") if isinstance(e.get("transcript"), str) else ""
    rec = {
        "type": _first_str(hit.get("type"), e.get("type")),
        "name": _first_str(hit.get("name"), e.get("name")),
        "container": container,
        "authors": _list(e.get("authors") or hit.get("authors")),
        "publisher": _first_str(e.get("publisher"), hit.get("publisher")),
        "tags": _list(e.get("tags") or hit.get("tags")),
        "language": _first_str(e.get("language"), hit.get("language")),
        "description": desc[:DESC_CHARS],
    }
    if transcript:
        rec["transcript_head"] = " ".join(transcript[:DESC_CHARS].split())
        rec["transcript_snippets"] = snippets(transcript, query_terms(q["query"]))
    if ent is None:
        rec["catalog_missing"] = True
    return rec


def cmd_pool(args) -> int:
    client = client_from(args)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    queries = load_queries(args.queries, args.split, set(args.qid) if args.qid else None)
    if not queries:
        sys.exit("no queries selected")
    qrels = load_qrels(args.qrels)
    old = {(r["qid"], r["id"]): r for r in load_pool(args.out)}
    pool: dict[tuple[str, str], dict] = dict(old)
    runs: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for i, q in enumerate(queries, 1):
        for mode in modes:
            hits, _ = client.search(q, mode, args.depth, args.explain)
            runs[mode][q["qid"]] = [h["id"] for h in hits]
            for rank, h in enumerate(hits, 1):
                key = (q["qid"], h["id"])
                rec = pool.get(key)
                if rec is None or args.refresh:
                    ranks = (rec or {}).get("ranks", {})
                    ent = client.entity(h["id"])
                    rec = {"qid": q["qid"], "id": h["id"], "query": q["query"],
                           "criterion": q["criterion"], "kind": q["kind"], "split": q["split"],
                           **display(h, ent, client, q), "ranks": ranks}
                    pool[key] = rec
                rec["ranks"][f"{args.tag}:{mode}" if args.tag else mode] = rank
                if args.explain and isinstance(h.get("explain"), dict):
                    rec.setdefault("explain", {})[mode] = h["explain"]
        if i % 10 == 0 or i == len(queries):
            print(f"pooled {i}/{len(queries)} queries", file=sys.stderr)
    check_modes_differ(runs)
    todo = 0
    for (qid, eid), rec in pool.items():
        g = qrels.get(qid, {}).get(eid)
        rec["grade"] = g
        rec["status"] = "judged" if g is not None else "todo"
        todo += g is None
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for key in sorted(pool, key=lambda k: (k[0], min(pool[k]["ranks"].values() or [999]), k[1])):
            f.write(json.dumps(pool[key], ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(pool)} (query, item) pairs, {len(pool) - len(old)} new, "
          f"{todo} to judge", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- judge sheet


def cmd_judge_sheet(args) -> int:
    pool = load_pool(args.pool)
    if not pool:
        sys.exit(f"{args.pool}: empty or missing; run `pool` first")
    qrels = load_qrels(args.qrels)
    byq: dict[str, list[dict]] = defaultdict(list)
    for r in pool:
        if args.split and args.split != "all" and r.get("split") != args.split:
            continue
        if args.qid and r["qid"] not in args.qid:
            continue
        if r["id"] in qrels.get(r["qid"], {}) and not args.all:
            continue
        byq[r["qid"]].append(r)
    total = 0
    for qid in sorted(byq):
        if args.blind:  # no ranks, and an order that says nothing about which mode found what
            rows = sorted(byq[qid], key=lambda r: hashlib.sha1(f"{qid} {r['id']}".encode()).hexdigest())
        else:
            rows = sorted(byq[qid], key=lambda r: (min(r["ranks"].values() or [999]), r["id"]))
        total += len(rows)
        if args.template:
            for r in rows:
                print(f"{qid}\t{r['id']}\t\t")
            continue
        r0 = rows[0]
        print(f"## {qid} [{r0.get('split')}, {r0.get('kind')}] {r0['query']}")
        print(f"criterion: {r0['criterion']}")
        for r in rows:
            ranks = "" if args.blind else " ".join(f"{m}@{k}" for m, k in sorted(r["ranks"].items()))
            extra = []
            if r.get("container"):
                extra.append(f"in: {r['container']}")
            if r.get("authors"):
                extra.append("by: " + ", ".join(r["authors"][:3]))
            if r.get("publisher"):
                extra.append(f"pub: {r['publisher']}")
            if r.get("tags"):
                extra.append("tags: " + ", ".join(r["tags"][:5]))
            if r.get("language"):
                extra.append(f"lang: {r['language']}")
            print(f"- {r['id']} | {r.get('type')} | {r.get('name')} | {' | '.join(extra)}"
                  + (f" | {ranks}" if ranks else ""))
            text = r.get("description") or ""
            if text:
                print(f"    desc: {text[:args.chars]}")
            if r.get("transcript_snippets"):
                for s in r["transcript_snippets"]:
                    print(f"    transcript: {s[:args.chars]}")
            elif r.get("transcript_head") and not text:
                print(f"    transcript: {r['transcript_head'][:args.chars]}")
            if r.get("catalog_missing"):
                print("    (not found in /v1/catalog)")
        print()
    print(f"{total} candidate(s) in {len(byq)} quer(ies) to judge", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- metrics


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def metrics_for(ranked: list[str], judged: dict[str, int]) -> dict:
    top10, top20 = ranked[:10], ranked[:20]
    grades10 = [judged.get(i, 0) for i in top10]
    ideal = sorted(judged.values(), reverse=True)[:10]
    idcg = dcg(ideal)
    n_rel = sum(1 for g in judged.values() if g >= 1)
    rr = 0.0
    for k, i in enumerate(top10, 1):
        if judged.get(i, 0) == 2:
            rr = 1.0 / k
            break
    return {
        # linear gain (the grade), as trec_eval's ndcg_cut
        "ndcg@10": dcg(grades10) / idcg if idcg > 0 else None,
        "recall@20": sum(1 for i in top20 if judged.get(i, 0) >= 1) / n_rel if n_rel else None,
        "mrr@10": rr if any(g == 2 for g in judged.values()) else None,
        "p@10": sum(1 for g in grades10 if g >= 1) / 10,
        "judged@10": sum(1 for i in top10 if i in judged) / len(top10) if top10 else None,
        "returned": len(ranked),
    }


METRICS = ("ndcg@10", "recall@20", "mrr@10", "p@10", "judged@10")


def mean_se(vals: list[float]) -> tuple[float | None, float | None, int]:
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, 0
    m = sum(vals) / len(vals)
    se = statistics.stdev(vals) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0
    return m, se, len(vals)


def percentile(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def fmt(m, se) -> str:
    return "–" if m is None else f"{m:.3f} ± {se:.3f}"


def cmd_score(args) -> int:
    client = client_from(args)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    queries = load_queries(args.queries, args.split, set(args.qid) if args.qid else None)
    qrels = load_qrels(args.qrels)
    if not queries:
        sys.exit("no queries selected")
    unjudged_q = [q["qid"] for q in queries if not qrels.get(q["qid"])]
    if unjudged_q:
        warn(f"{len(unjudged_q)} queries have no judgements at all (skipped in nDCG/recall/MRR): "
             + ",".join(unjudged_q[:12]) + ("…" if len(unjudged_q) > 12 else ""))
    per_query: dict[str, dict[str, dict]] = defaultdict(dict)
    lat: dict[str, list[float]] = defaultdict(list)
    lat_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    runs: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for _ in range(args.warmup):
        client.search(queries[0], modes[0], args.limit)
    for mode in modes:
        for q in queries:
            hits, ms = client.search(q, mode, args.limit)
            lat[mode].append(ms)
            lat_kind[mode][q["kind"]].append(ms)
            ranked = [h["id"] for h in hits]
            runs[mode][q["qid"]] = ranked
            m = metrics_for(ranked, qrels.get(q["qid"], {}))
            m["kind"] = q["kind"]
            m["top10"] = ranked[:10]
            per_query[mode][q["qid"]] = m
    check_modes_differ(runs)

    kinds = [k for k in KINDS if any(q["kind"] == k for q in queries)]
    summary: dict = {"split": args.split, "queries": len(queries), "modes": {},
                     "mode_param_ignored": client.mode_unsupported,
                     "qrels": os.path.relpath(args.qrels), "limit": args.limit}
    for mode in modes:
        pq = per_query[mode]
        groups = {"all": list(pq.values())}
        for k in kinds:
            groups[k] = [v for v in pq.values() if v["kind"] == k]
        ms = {}
        for g, vals in groups.items():
            ms[g] = {"n": len(vals)}
            for met in METRICS:
                mean, se, n = mean_se([v[met] for v in vals])
                ms[g][met] = {"mean": mean, "se": se, "n": n}
        ms["latency_ms"] = {"p50": percentile(lat[mode], 0.5), "p99": percentile(lat[mode], 0.99),
                            "n": len(lat[mode])}
        ms["latency_ms_by_kind"] = {
            k: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99), "max": max(v), "n": len(v)}
            for k, v in sorted(lat_kind[mode].items())
        }
        summary["modes"][mode] = ms

    print(f"### split={args.split}, {len(queries)} queries, mean ± standard error over queries\n")
    print("| mode | " + " | ".join(METRICS) + " | p50 ms | p99 ms |")
    print("|---|" + "---|" * (len(METRICS) + 2))
    for mode in modes:
        s = summary["modes"][mode]
        cells = [fmt(s["all"][m]["mean"], s["all"][m]["se"]) for m in METRICS]
        l = s["latency_ms"]
        print(f"| {mode} | " + " | ".join(cells) + f" | {l['p50']:.1f} | {l['p99']:.1f} |")
    print("\n### nDCG@10 by kind (n queries)\n")
    print("| mode | " + " | ".join(f"{k} (n={summary['modes'][modes[0]][k]['n']})" for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for mode in modes:
        s = summary["modes"][mode]
        print(f"| {mode} | " + " | ".join(fmt(s[k]["ndcg@10"]["mean"], s[k]["ndcg@10"]["se"])
                                         for k in kinds) + " |")
    print("\n### judged@10 (share of the top 10 that has a judgement) by kind\n")
    print("| mode | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for mode in modes:
        s = summary["modes"][mode]
        print(f"| {mode} | " + " | ".join(fmt(s[k]["judged@10"]["mean"], s[k]["judged@10"]["se"])
                                         for k in kinds) + " |")
    print("\n### latency by kind, ms (p50 / p99 / max)\n")
    print("| mode | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for mode in modes:
        lk = summary["modes"][mode]["latency_ms_by_kind"]
        print(f"| {mode} | " + " | ".join(
            f"{lk[k]['p50']:.1f} / {lk[k]['p99']:.1f} / {lk[k]['max']:.1f}" if k in lk else "–" for k in kinds) + " |")
    if len(modes) >= 2:
        print("\n### paired nDCG@10 differences (mean ± SE of per-query difference)\n")
        base = modes[0]
        for mode in modes[1:]:
            d = [per_query[mode][q]["ndcg@10"] - per_query[base][q]["ndcg@10"]
                 for q in per_query[base]
                 if per_query[base][q]["ndcg@10"] is not None and per_query[mode][q]["ndcg@10"] is not None]
            mean, se, n = mean_se(d)
            summary.setdefault("paired_ndcg_diff", {})[f"{mode}-{base}"] = {"mean": mean, "se": se, "n": n}
            print(f"- {mode} − {base}: {fmt(mean, se)} (n={n})")
    if args.out:
        summary["per_query"] = per_query
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, server=True):
        p.add_argument("--queries", default=DEFAULT_QUERIES)
        p.add_argument("--split", default=None, help="dev, test or all (default: all for pool)")
        p.add_argument("--qid", action="append", help="only this query (repeatable)")
        if server:
            p.add_argument("--server", default="http://127.0.0.1:7700")
            p.add_argument("--api-key", default=None, help="or NEEDLE_API_KEY")
            p.add_argument("--timeout", type=float, default=30.0)
            p.add_argument("--modes", default="keyword,semantic,hybrid")

    p = sub.add_parser("pool", help="pool the top-k of each mode and fetch display fields")
    common(p)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--out", default=DEFAULT_POOL)
    p.add_argument("--qrels", default=DEFAULT_QRELS)
    p.add_argument("--explain", action="store_true", help="also ask for and keep explain")
    p.add_argument("--tag", default="", help="prefix the run keys (e.g. a build or model name)")
    p.add_argument("--refresh", action="store_true", help="re-fetch display fields of known pairs")
    p.set_defaults(func=cmd_pool)

    p = sub.add_parser("judge-sheet", help="print unjudged pooled candidates per query")
    common(p, server=False)
    p.add_argument("--pool", default=DEFAULT_POOL)
    p.add_argument("--qrels", default=DEFAULT_QRELS)
    p.add_argument("--chars", type=int, default=240, help="description characters to show")
    p.add_argument("--all", action="store_true", help="also list judged candidates")
    p.add_argument("--blind", action="store_true",
                   help="hide the ranks and order candidates by a hash, not by rank")
    p.add_argument("--template", action="store_true",
                   help="print qid<TAB>id<TAB><TAB> lines to fill in instead")
    p.set_defaults(func=cmd_judge_sheet)

    p = sub.add_parser("score", help="run the queries and compute nDCG@10, Recall@20, MRR@10, P@10")
    common(p)
    p.add_argument("--qrels", default=DEFAULT_QRELS)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", default=None)
    p.set_defaults(func=cmd_score)

    args = ap.parse_args(argv)
    if args.cmd == "score" and not args.split:
        args.split = "test"
    if args.cmd == "score" and args.limit < 20:
        warn("--limit below 20 makes Recall@20 a recall at --limit")
    try:
        return args.func(args)
    except ApiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
