"""Needle: imported with `needle import`, queried in-process with `needle bench-queries`
and over HTTP with `needle serve` on 127.0.0.1."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

from ..common import ROOT, du, free_port, run_measured, vm_hwm_kib, wait_http
from .base import LIMIT, Engine, HttpTarget, IndexStats, QueryResult


BUILT = ROOT / "target" / "release" / "needle"
_snapshot: list[Path] = []


def binary() -> Path:
    """The binary this run uses: a copy taken at start (builds may replace the original mid-run)."""
    return _snapshot[0] if _snapshot else BUILT


def snapshot(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUILT, dest)
    _snapshot[:] = [dest]
    return dest


class Needle(Engine):
    name = "needle"
    mode = "in-process"
    config = "defaults (docs/search.md); `needle import`, `needle bench-queries --repeat 2`"

    def __init__(self) -> None:
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.query_rss_kib = 0

    def missing(self) -> str | None:
        return None if binary().exists() else f"{binary()} not built (cargo build --release -p needle)"

    def index(self, docs: Path, catalog: Path, workdir: Path) -> IndexStats:
        self.dir = workdir / "needle-data"
        subprocess.run(["rm", "-rf", str(self.dir)], check=True)
        res = run_measured([str(binary()), "--data-dir", str(self.dir), "import", "--quiet", str(catalog)])
        summary = res.stderr_tail.strip().splitlines()[-1] if res.stderr_tail.strip() else ""
        n = sum(1 for _ in open(docs, encoding="utf-8"))
        return IndexStats(res.seconds, n, du(self.dir), res.max_rss_kib, summary)

    def run_queries(self, queries: list[dict[str, Any]]) -> list[QueryResult]:
        assert self.dir is not None
        qfile = self.dir.parent / "needle-queries.jsonl"
        out = self.dir.parent / "needle-results.jsonl"
        with open(qfile, "w", encoding="utf-8") as f:
            for q in queries:
                f.write(json.dumps({"q": q["q"], "limit": LIMIT}, ensure_ascii=False) + "\n")
        res = run_measured([str(binary()), "--data-dir", str(self.dir), "bench-queries", str(qfile),
                            "-o", str(out), "--repeat", "2"])
        self.query_rss_kib = res.max_rss_kib
        rows = [json.loads(line) for line in open(out, encoding="utf-8") if line.strip()]
        if len(rows) != len(queries):
            raise RuntimeError(f"bench-queries answered {len(rows)} of {len(queries)} queries")
        return [QueryResult(r["ids"], float(r["micros"])) for r in rows]

    # -- HTTP --------------------------------------------------------------------
    def start(self) -> None:
        assert self.dir is not None
        self.port = free_port()
        log = open(self.dir.parent / "needle-serve.log", "wb")
        self.proc = subprocess.Popen(
            [str(binary()), "--data-dir", str(self.dir), "serve", "--http-addr", f"127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.port}/health/ready", timeout=300)

    def http(self) -> HttpTarget | None:
        if not self.proc:
            return None
        return HttpTarget(f"http://127.0.0.1:{self.port}",
                          lambda q: f"/v1/search?limit={LIMIT}&q={urllib.parse.quote(q)}")

    def serve_rss_kib(self) -> int:
        return vm_hwm_kib(self.proc.pid) if self.proc else 0

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


class NeedleHttp(Engine):
    """The same Needle data directory, served over HTTP (started by the harness)."""
    name = "needle-http"
    mode = "http"
    config = "`needle serve --http-addr 127.0.0.1:PORT`, GET /v1/search?q=&limit=10"

    def __init__(self, inner: Needle) -> None:
        self.inner = inner
        self.session = requests.Session()

    def index(self, docs: Path, catalog: Path, workdir: Path) -> IndexStats:
        t0 = time.perf_counter()
        self.inner.start()
        return IndexStats(time.perf_counter() - t0, 0, 0, 0, "server start on the imported data dir")

    def run_queries(self, queries: list[dict[str, Any]]) -> list[QueryResult]:
        target = self.http()
        assert target is not None
        out: list[QueryResult] = []
        for q in queries:
            url = target.base + target.path(q["q"])
            ids: list[str] = []
            micros = 0.0
            for _ in range(2):
                t0 = time.perf_counter()
                r = self.session.get(url, timeout=30)
                micros = (time.perf_counter() - t0) * 1e6
                r.raise_for_status()
                ids = [h["id"] for h in r.json()["hits"]]
            out.append(QueryResult(ids, micros))
        return out

    def http(self) -> HttpTarget | None:
        return self.inner.http()

    def serve_rss_kib(self) -> int:
        return self.inner.serve_rss_kib()

    def stop(self) -> None:
        self.inner.stop()
