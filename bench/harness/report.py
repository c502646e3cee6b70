"""Markdown tables (ratios to the best anchor first, then absolutes) and PNG plots."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .workload import CATEGORIES

NEEDLE = ("needle", "needle-http")


def _f(x: float | None, nd: int = 2) -> str:
    return "–" if x is None or x != x else f"{x:.{nd}f}"


def _best(vals: dict[str, float], higher: bool) -> tuple[str, float] | None:
    vals = {k: v for k, v in vals.items() if v == v}
    if not vals:
        return None
    k = max(vals, key=vals.get) if higher else min(vals, key=vals.get)  # type: ignore[arg-type]
    return k, vals[k]


def _ratio_row(label: str, mine: float | None, anchors: dict[str, float], higher: bool, nd: int = 2) -> str:
    best = _best(anchors, higher)
    if mine is None or best is None:
        return f"| {label} | {_f(mine, nd)} | – | – |"
    name, v = best
    ratio = "–" if v == 0 else f"{mine / v:.2f}x"
    return f"| {label} | {_f(mine, nd)} | {_f(v, nd)} ({name}) | {ratio} |"


def ratios(r: dict[str, Any]) -> list[str]:
    rel, lat, idx, wrk, modes = r["relevance"], r["latency"], r["index"], r["wrk"], r["modes"]
    anchors = [e for e in rel if e not in NEEDLE]
    inproc = [e for e in anchors if modes.get(e) == "in-process"]
    http = [e for e in anchors if modes.get(e) == "http"]
    out = ["## Needle / best anchor", "",
           "Relevance: higher is better (ratio > 1 = Needle ahead). Latency, time, size: lower is better "
           "(ratio < 1 = Needle ahead). Throughput: higher is better.", "",
           "| figure | Needle | best anchor | Needle / best |", "|---|---|---|---|"]
    if "needle" in rel:
        for cat in CATEGORIES + ["all"]:
            for m in ("success@1", "mrr@10"):
                mine = rel["needle"].get(cat, {}).get(m)
                an = {e: rel[e][cat][m] for e in anchors if cat in rel[e]}
                out.append(_ratio_row(f"{m} {cat}", mine, an, True, 3))
    for mode, group, me in (("in-process", inproc, "needle"), ("HTTP", http, "needle-http")):
        if me in lat:
            for p in ("p50", "p99"):
                mine = lat[me].get("all", {}).get(p)
                an = {e: lat[e]["all"][p] for e in group if "all" in lat.get(e, {})}
                out.append(_ratio_row(f"latency {p} ms, all queries, {mode}", mine, an, False))
            worst = max((v["p99"] for c, v in lat[me].items() if c != "all"), default=None)
            an = {e: max(v["p99"] for c, v in lat[e].items() if c != "all") for e in group if lat.get(e)}
            out.append(_ratio_row(f"latency worst-category p99 ms, {mode}", worst, an, False))
    if "needle" in idx:
        an_idx = {e: v for e, v in idx.items() if e not in NEEDLE and v}
        out.append(_ratio_row("import/index seconds", idx["needle"]["seconds"],
                              {e: v["seconds"] for e, v in an_idx.items()}, False, 1))
        out.append(_ratio_row("index size MiB", idx["needle"]["bytes"] / 2**20,
                              {e: v["bytes"] / 2**20 for e, v in an_idx.items()}, False, 1))
        out.append(_ratio_row("peak RSS while indexing MiB", idx["needle"]["peak_rss_kib"] / 1024,
                              {e: v["peak_rss_kib"] / 1024 for e, v in an_idx.items() if v["peak_rss_kib"]}, False, 0))
    if "needle-http" in wrk:
        out.append(_ratio_row("HTTP throughput req/s (wrk)", wrk["needle-http"]["rps"],
                              {e: v["rps"] for e, v in wrk.items() if e not in NEEDLE}, True, 0))
    return out


def absolutes(r: dict[str, Any]) -> list[str]:
    rel, lat, idx, wrk = r["relevance"], r["latency"], r["index"], r["wrk"]
    engines = list(rel)
    out = ["## Relevance per category (success@1 / MRR@10 / recall@10)", "",
           "| category | n | " + " | ".join(engines) + " |", "|---|---|" + "---|" * len(engines)]
    for cat in CATEGORIES + ["all"]:
        n = next((rel[e][cat]["n"] for e in engines if cat in rel[e]), 0)
        cells = []
        for e in engines:
            v = rel[e].get(cat)
            cells.append(f"{v['success@1']:.3f} / {v['mrr@10']:.3f} / {v['recall@10']:.2f}" if v else "–")
        out.append(f"| {cat} | {n} | " + " | ".join(cells) + " |")
    out += ["", "## Latency per category, ms (p50 / p95 / p99), single-threaded", "",
            "In-process: Needle (`bench-queries`), tantivy-py, SQLite FTS5 and Xapian (Python bindings: "
            "the call from Python is included), Lucene (Java driver). HTTP: keep-alive Python client "
            "on 127.0.0.1, client overhead included.", "",
            "| category | " + " | ".join(f"{e} ({r['modes'].get(e, '')})" for e in lat) + " |",
            "|---|" + "---|" * len(lat)]
    for cat in CATEGORIES + ["all"]:
        cells = [f"{_f(v[cat]['p50'])} / {_f(v[cat]['p95'])} / {_f(v[cat]['p99'])}" if cat in v else "–"
                 for v in lat.values()]
        out.append(f"| {cat} | " + " | ".join(cells) + " |")
    out += ["", "## Import / index", "",
            "| engine | docs | seconds | docs/s | size on disk MiB | peak RSS index MiB | peak RSS query/serve MiB | note |",
            "|---|---|---|---|---|---|---|---|"]
    for e, v in idx.items():
        if not v:
            continue
        rate = v["docs"] / v["seconds"] if v["seconds"] and v["docs"] else 0
        rss = f"{r['serve_rss'].get(e, 0) / 1024:.0f}"
        if e == "needle" and r["serve_rss"].get("needle-http"):
            rss += f" (bench-queries) / {r['serve_rss']['needle-http'] / 1024:.0f} (serve, after wrk)"
        out.append(f"| {e} | {v['docs']} | {v['seconds']:.1f} | {rate:,.0f} | {v['bytes'] / 2**20:.1f} | "
                   f"{v['peak_rss_kib'] / 1024:.0f} | {rss} | {v.get('note', '')} |")
    if wrk:
        out += ["", "## HTTP throughput (wrk, fixed concurrency, all workload queries rotated)", "",
                "| engine | threads x connections | seconds | req/s | p50 ms | p99 ms | non-2xx | socket errors |",
                "|---|---|---|---|---|---|---|---|"]
        for e, v in wrk.items():
            out.append(f"| {e} | {v['threads']}x{v['connections']} | {v['seconds']} | {v['rps']:,.0f} | "
                       f"{_f(v.get('p50_ms'))} | {_f(v.get('p99_ms'))} | {v['non_2xx']} | {v['socket_errors'] or '–'} |")
    return out


def markdown(r: dict[str, Any], failures: list[dict[str, Any]], plots: list[str]) -> str:
    m = r["machine"]
    lines = [f"# Needle benchmarks — {r['mode']} mode, {r['date']}", "",
             f"Catalog: {r['catalog']['entities']:,} entities ({r['catalog']['types']}); "
             f"{r['queries']} queries ({r['per_category']} per category target, seed {r['seed']}). "
             "Generated by `bench/run" + (" --quick" if r["mode"] == "quick" else "") + "`; do not edit by hand.", "",
             f"Machine: {m['nproc']} cores ({m['cpu']}), {m['mem_total_gib']} GiB RAM, {m['os']}, "
             f"kernel {m['kernel']}; load average at start {m['loadavg_at_start']}, at end "
             f"{m.get('loadavg_at_end', '?')} (the machine is shared: other builds add noise); "
             f"Needle at {m['needle_git']}{' (dirty tree)' if m['needle_git_dirty'] else ''}, binary built "
             f"{m.get('needle_binary_mtime', '?')}; wall time {r.get('wall_seconds', 0):.0f} s.", "",
             "```", m["free_g"], "```", ""]
    lines += ratios(r) + [""] + absolutes(r) + [""]
    if r["skipped"]:
        lines += ["## Engines not run", ""] + [f"- **{e}**: {why}" for e, why in r["skipped"].items()] + [""]
    lines += ["## Engine configurations", ""] + [f"- **{e}**: {c}" for e, c in r["configs"].items()] + [""]
    for p in plots:
        lines += [f"![{p}]({p})", ""]
    if failures:
        lines += [f"## Needle misses that an anchor got right ({len(failures)}; first 30)", "",
                  "| cat | query | target | Needle's top 3 (rank of target) | anchors right |", "|---|---|---|---|---|"]
        def cell(x: str) -> str:
            return x.replace("|", "\\|").replace("\n", " ")

        for f in failures[:30]:
            top = "<br>".join(cell(t) for t in f["needle_top3"]) or "(no hits)"
            lines.append(f"| {f['cat']} | `{cell(f['q'])}` | {cell(f['target'])} | {top} ({f['needle_rank'] or '>10'}) | "
                         f"{', '.join(f['anchors_right'])} |")
        lines += ["", f"All {len(failures)}: `bench/out/<mode>/needle_failures.md` (most instructive first)."]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def plots(r: dict[str, Any], out_dir: Path, stem: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[str] = []
    rel, lat = r["relevance"], r["latency"]
    cats = [c for c in CATEGORIES if any(c in v for v in rel.values())]
    for metric in ("success@1", "mrr@10"):
        fig, ax = plt.subplots(figsize=(12, 5.5))
        engines = [e for e in rel if e != "needle-http"]
        w = 0.8 / max(1, len(engines))
        for i, e in enumerate(engines):
            ax.bar([j + i * w for j in range(len(cats))], [rel[e].get(c, {}).get(metric, 0) for c in cats], w, label=e)
        ax.set_xticks([j + 0.4 - w / 2 for j in range(len(cats))], cats, rotation=20)
        ax.set_ylim(0, 1)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per category ({r['mode']})")
        ax.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2))
        fig.tight_layout()
        name = f"{stem}-{metric.replace('@', '')}.png"
        fig.savefig(out_dir / name, dpi=90)
        plt.close(fig)
        made.append(name)
    fig, ax = plt.subplots(figsize=(12, 5.5))
    engines = list(lat)
    w = 0.8 / max(1, len(engines))
    for i, e in enumerate(engines):
        xs = [j + i * w for j in range(len(cats))]
        ax.bar(xs, [lat[e].get(c, {}).get("p99", 0) for c in cats], w, label=f"{e} p99", alpha=0.85)
        ax.scatter(xs, [lat[e].get(c, {}).get("p50", 0) for c in cats], color="black", s=8, zorder=3)
    ax.set_yscale("log")
    ax.axhline(10, color="red", lw=0.8, ls="--")
    ax.set_xticks([j + 0.4 - w / 2 for j in range(len(cats))], cats, rotation=20)
    ax.set_ylabel("ms (bars p99, dots p50; log scale)")
    ax.set_title(f"latency per category ({r['mode']}); dashed line 10 ms")
    ax.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    name = f"{stem}-latency.png"
    fig.savefig(out_dir / name, dpi=90)
    plt.close(fig)
    made.append(name)
    return made
