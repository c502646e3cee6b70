"""In-process anchors driven from Python (tantivy-py, SQLite FTS5, Xapian).

Each phase runs in its own child process (`python -m harness.engines.pyworker ...`) so that
its peak RSS is its own and not the harness's: `index DOCS DIR` builds the index,
`query DIR QUERIES OUT` runs the workload (timing protocol of `base.time_queries`).
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..common import BENCH, du, run_measured
from .base import Engine, IndexStats, QueryResult, time_queries

MODULES = {"tantivy-py": "tantivy_py", "sqlite-fts5": "sqlite_fts5", "xapian": "xapian_py"}


class PyWorkerEngine(Engine):
    mode = "in-process"

    def __init__(self, name: str) -> None:
        self.name = name
        self.mod = importlib.import_module(f".{MODULES[name]}", __package__)
        self.config = self.mod.CONFIG
        self.dir: Path | None = None
        self.query_rss_kib = 0

    def missing(self) -> str | None:
        return self.mod.missing()  # type: ignore[no-any-return]

    def _cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "harness.engines.pyworker", self.name, *args]

    def index(self, docs: Path, catalog: Path, workdir: Path) -> IndexStats:
        self.dir = workdir / f"{self.name}-index"
        subprocess.run(["rm", "-rf", str(self.dir)], check=True)
        stats = self.dir.parent / f"{self.name}-index.json"
        res = run_measured(self._cmd("index", str(docs), str(self.dir), str(stats)), cwd=BENCH)
        info = json.loads(stats.read_text())
        return IndexStats(info["seconds"], info["docs"], du(self.dir), res.max_rss_kib, info.get("note", ""))

    def run_queries(self, queries: list[dict[str, Any]]) -> list[QueryResult]:
        assert self.dir is not None
        qfile = self.dir.parent / f"{self.name}-queries.jsonl"
        out = self.dir.parent / f"{self.name}-results.jsonl"
        with open(qfile, "w", encoding="utf-8") as f:
            for q in queries:
                f.write(json.dumps({"q": q["q"]}, ensure_ascii=False) + "\n")
        res = run_measured(self._cmd("query", str(self.dir), str(qfile), str(out)), cwd=BENCH)
        self.query_rss_kib = res.max_rss_kib
        rows = [json.loads(line) for line in open(out, encoding="utf-8")]
        return [QueryResult(r["ids"], r["micros"]) for r in rows]


def main(argv: list[str]) -> None:
    name, phase = argv[0], argv[1]
    mod = importlib.import_module(f"harness.engines.{MODULES[name]}")
    if phase == "index":
        docs, dir_, stats = Path(argv[2]), Path(argv[3]), Path(argv[4])
        dir_.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        n, note = mod.build_index(docs, dir_)
        secs = time.perf_counter() - t0
        stats.write_text(json.dumps({"seconds": secs, "docs": n, "note": note}))
    elif phase == "query":
        dir_, qfile, out = Path(argv[2]), Path(argv[3]), Path(argv[4])
        queries = [json.loads(line) for line in open(qfile, encoding="utf-8")]
        searcher = mod.open_searcher(dir_)
        results = time_queries(searcher, queries)
        with open(out, "w", encoding="utf-8") as f:
            for r in results:
                f.write(json.dumps({"ids": r.ids, "micros": r.micros}) + "\n")
    else:
        raise SystemExit(f"unknown phase {phase}")


if __name__ == "__main__":
    main(sys.argv[1:])
