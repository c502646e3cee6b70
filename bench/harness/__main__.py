"""`bench/run [--quick] [--engines needle,typesense,...]`: the whole benchmark, end to end."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import metrics, report, sysinfo, wrk
from .catalog import convert, flatten, subsample
from .common import OUT, RESULTS, ROOT, log, write_jsonl
from .engines.base import Engine, EngineRun, IndexStats, QueryResult
from .workload import build_workload

ALL = ["needle", "needle-http", "typesense", "tantivy-py", "sqlite-fts5", "xapian", "lucene", "lucene-icu", "postgres",
       "meilisearch"]
WRK_ENGINES = {"needle-http", "typesense"}


def make_engines(names: list[str]) -> dict[str, Engine | str]:
    """Engine objects by name, or the reason an engine cannot be made."""
    from .engines.needle import Needle, NeedleHttp

    out: dict[str, Engine | str] = {}
    needle = Needle()
    for n in names:
        try:
            if n == "needle":
                out[n] = needle
            elif n == "needle-http":
                out[n] = NeedleHttp(needle)
            elif n == "typesense":
                from .engines.typesense import Typesense
                out[n] = Typesense()
            elif n in ("tantivy-py", "sqlite-fts5", "xapian"):
                from .engines.pyworker import PyWorkerEngine
                out[n] = PyWorkerEngine(n)
            elif n == "lucene":
                from .engines.lucene import Lucene
                out[n] = Lucene()
            elif n == "lucene-icu":
                from .engines.lucene import LuceneIcu
                out[n] = LuceneIcu()
            elif n == "postgres":
                from .engines.postgres import Postgres
                out[n] = Postgres()
            elif n == "meilisearch":
                out[n] = ("no Meilisearch server in the reachable registries: crates.io `meilisearch` is a "
                          "0.0.0 placeholder and `milli` a 0.1.0 placeholder, PyPI and npm only have clients, "
                          "Debian has no package; not benchmarked")
            else:
                out[n] = f"unknown engine {n!r} (known: {', '.join(ALL)})"
        except Exception as e:  # noqa: BLE001
            out[n] = f"{type(e).__name__}: {e}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="~100k entities, ~100 queries per category")
    ap.add_argument("--engines", default=",".join(ALL), help="comma-separated subset of: " + ", ".join(ALL))
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--per-category", type=int, default=0, help="queries per category (default 300, quick 100)")
    ap.add_argument("--wrk-seconds", type=int, default=15)
    ap.add_argument("--wrk-connections", type=int, default=16)
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--reuse", default="", help="engines whose saved results of the same workload "
                    "(bench/out/<mode>/engine-<name>.json) are reused instead of run again")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the Markdown and plots from the last run's saved results")
    a = ap.parse_args()
    mode = "quick" if a.quick else "full"
    if a.report_only:
        saved = json.loads((OUT / f"results-{mode}.json").read_text())
        fails = json.loads((OUT / mode / "needle_failures.json").read_text())
        write_outputs(saved, fails, mode, OUT / mode)
        return
    per_cat = a.per_category or (100 if a.quick else 300)
    work = OUT / mode
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    machine = sysinfo.machine()
    log(f"bench: {mode} mode on {machine['nproc']} cores, {machine['cpu']}")

    from .engines.needle import BUILT, binary, snapshot
    if not BUILT.exists():
        raise SystemExit(f"{BUILT} is missing: cargo build --release -p needle")
    full = OUT / "catalog.jsonl.gz"
    snapshot(OUT / "bin" / "needle")
    convert(binary(), ROOT, full, keep=bool(a.reuse))
    log(f"needle: using a copy of {BUILT} built {machine['needle_binary_mtime']}")
    catalog_path = full
    if a.quick:
        catalog_path = OUT / "catalog-quick.jsonl.gz"
        subsample(full, catalog_path, 100_000, a.seed)
    docs = work / "docs.jsonl"
    cat = flatten(catalog_path, docs)
    queries = build_workload(cat, per_cat, a.seed)
    write_jsonl(work / "queries.jsonl", queries)
    names = {e.id: e.name for e in cat.entities}
    types = {e.id: e.type for e in cat.entities}
    cat_info = {"entities": len(cat.entities), "types": ", ".join(f"{t} {n:,}" for t, n in cat.type_counts.most_common())}
    del cat

    wanted = [e.strip() for e in a.engines.split(",") if e.strip()]
    reuse = [e.strip() for e in a.reuse.split(",") if e.strip()]
    qsha = hashlib.sha256((work / "queries.jsonl").read_bytes()).hexdigest()
    runs: dict[str, EngineRun] = {}
    skipped: dict[str, str] = {}
    for name in reuse:
        try:
            runs[name] = load_run(work, name, qsha)
            log(f"{name}: reusing saved results ({runs[name].config})")
        except (OSError, ValueError, KeyError) as e:
            skipped[name] = f"cannot reuse saved results: {e}"
    for name, eng in make_engines([w for w in wanted if w not in reuse]).items():
        if name == "needle-http" and "needle" in runs and runs["needle"].error:
            skipped[name] = "needle failed to import"
            continue
        if isinstance(eng, str):
            skipped[name] = eng
            log(f"{name}: skipped — {eng}")
            continue
        why = eng.missing()
        if why:
            skipped[name] = why
            log(f"{name}: skipped — {why}")
            continue
        run = EngineRun(name, eng.mode, config=eng.config)
        try:
            log(f"{name}: indexing")
            run.index = eng.index(docs, catalog_path, work)
            log(f"{name}: indexed {run.index.docs} docs in {run.index.seconds:.1f}s, "
                f"{run.index.bytes / 2**20:.0f} MiB, peak RSS {run.index.peak_rss_kib / 1024:.0f} MiB")
            run.results = eng.run_queries(queries)
            log(f"{name}: {len(run.results)} queries done")
            target = eng.http()
            if target and name in WRK_ENGINES and not a.no_wrk:
                why_wrk = wrk.available()
                if why_wrk:
                    skipped[f"{name} (wrk)"] = why_wrk
                else:
                    log(f"{name}: wrk {a.wrk_seconds}s at {a.wrk_connections} connections")
                    run.wrk = wrk.run(target, [q["q"] for q in queries], work / f"{name}.lua",
                                      threads=2, conns=a.wrk_connections, seconds=a.wrk_seconds)
                    log(f"{name}: {run.wrk['rps']:.0f} req/s")
            run.serve_rss_kib = eng.serve_rss_kib() or getattr(eng, "query_rss_kib", 0)
        except Exception as e:  # noqa: BLE001
            run.error = f"{type(e).__name__}: {e}"
            skipped[name] = f"failed: {run.error}"
            log(f"{name}: FAILED {run.error}\n{traceback.format_exc()}")
        finally:
            if name != "needle":  # needle-http reuses needle's data dir and stops the server
                eng.stop()
        runs[name] = run
        save_run(work, run, qsha)

    order = {n: i for i, n in enumerate(ALL)}
    runs = dict(sorted(runs.items(), key=lambda kv: order.get(kv[0], len(ALL))))
    ok = {n: r for n, r in runs.items() if r.results and not r.error}
    result: dict[str, Any] = {
        "mode": mode, "date": time.strftime("%Y-%m-%d"), "seed": a.seed, "per_category": per_cat,
        "queries": len(queries), "catalog": cat_info, "machine": machine,
        "relevance": {n: metrics.relevance(queries, r) for n, r in ok.items()},
        "latency": {n: metrics.latency(queries, r) for n, r in ok.items()},
        "index": {n: asdict(r.index) for n, r in ok.items() if r.index and n != "needle-http"},
        "serve_rss": {n: r.serve_rss_kib for n, r in ok.items()},
        "wrk": {n: {k: v for k, v in r.wrk.items() if k != "raw"} for n, r in ok.items() if r.wrk},
        "modes": {n: r.mode for n, r in ok.items()},
        "configs": {n: r.config for n, r in runs.items()},
        "skipped": skipped,
        "wall_seconds": round(time.time() - started, 1),
    }
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    failures = metrics.needle_failures(queries, ok, names, types)
    write_outputs(result, failures, mode, work)
    log(f"bench: done in {result['wall_seconds']:.0f}s")


def save_run(work: Path, run: EngineRun, qsha: str) -> None:
    write_jsonl(work / f"results-{run.name}.jsonl",
                ({"qid": i, "ids": r.ids, "micros": r.micros} for i, r in enumerate(run.results)))
    meta = run.to_json()
    del meta["results"]
    meta.update({"queries_sha": qsha, "saved_at": time.strftime("%Y-%m-%d %H:%M")})
    (work / f"engine-{run.name}.json").write_text(json.dumps(meta, indent=1))


def load_run(work: Path, name: str, qsha: str) -> EngineRun:
    meta = json.loads((work / f"engine-{name}.json").read_text())
    if meta["queries_sha"] != qsha:
        raise ValueError("saved for a different workload")
    if meta.get("error"):
        raise ValueError(f"the saved run failed: {meta['error']}")
    rows = [json.loads(line) for line in open(work / f"results-{name}.jsonl", encoding="utf-8")]
    run = EngineRun(name, meta["mode"], IndexStats(**meta["index"]) if meta.get("index") else None,
                    [QueryResult(r["ids"], r["micros"]) for r in rows], meta.get("serve_rss_kib", 0),
                    meta.get("wrk"), "", meta.get("config", "") + f" [results reused from the run of {meta['saved_at']}]")
    return run


def write_outputs(result: dict[str, Any], failures: list[dict[str, Any]], mode: str, work: Path) -> None:
    stem = f"{result['date']}-{mode}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    pngs = report.plots(result, OUT, stem)
    for p in pngs:
        shutil.copy(OUT / p, RESULTS / p)
    md = report.markdown(result, failures, pngs)
    (OUT / "BENCHMARKS.generated.md").write_text(md.replace("](", "](bench/out/"))
    (RESULTS / f"{stem}.md").write_text(md)
    (OUT / f"results-{mode}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (work / "needle_failures.json").write_text(json.dumps(failures, indent=1, ensure_ascii=False))
    write_md_failures(failures, work / "needle_failures.md")
    print(md)


def write_md_failures(failures: list[dict[str, Any]], path: Path) -> None:
    lines = [f"# Needle misses that an anchor got right ({len(failures)})", ""]
    for f in failures:
        lines.append(f"- [{f['cat']}] `{f['q']}` ({f['note']}) → target {f['target']}; Needle rank "
                     f"{f['needle_rank'] or '>10'}; top: {' | '.join(f['needle_top3']) or '(none)'}; "
                     f"right: {', '.join(f['anchors_right'])}")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
