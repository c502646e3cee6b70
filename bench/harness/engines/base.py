"""What every engine adapter provides, and the shared timing protocol.

Latency protocol (the same for every engine): each query is run twice back to back and
the second run is timed (Needle's `bench-queries --repeat 2`), single-threaded, one query
at a time. In-process engines are timed inside their process; server engines over HTTP
(or their wire protocol) from a keep-alive client on 127.0.0.1.
"""
from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

LIMIT = 10
FIELDS = ("name", "aliases", "related", "album", "tags", "description", "transcript")
# Field weights mirrored from docs/search.md so every anchor ranks name > aliases > related
# names > album > tags > description > transcript, as Needle does.
WEIGHTS = {"name": 10, "aliases": 9, "related": 7, "album": 5, "tags": 4, "description": 3, "transcript": 2}


@dataclass
class IndexStats:
    seconds: float
    docs: int
    bytes: int
    peak_rss_kib: int
    note: str = ""


@dataclass
class QueryResult:
    ids: list[str]
    micros: float


@dataclass
class HttpTarget:
    """What wrk needs to load a server engine: a base URL and a request path per query."""
    base: str
    path: Callable[[str], str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class EngineRun:
    name: str
    mode: str  # "in-process" | "http" | "sql"
    index: IndexStats | None = None
    results: list[QueryResult] = field(default_factory=list)
    serve_rss_kib: int = 0
    wrk: dict[str, Any] | None = None
    error: str = ""
    config: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["results"] = [asdict(r) for r in self.results]
        return d


class Engine(ABC):
    name: str = ""
    mode: str = "in-process"
    config: str = ""

    def missing(self) -> str | None:
        """Why the engine cannot run here (not installed ...), or None."""
        return None

    @abstractmethod
    def index(self, docs: Path, catalog: Path, workdir: Path) -> IndexStats: ...

    @abstractmethod
    def run_queries(self, queries: list[dict[str, Any]]) -> list[QueryResult]: ...

    def http(self) -> HttpTarget | None:
        return None

    def serve_rss_kib(self) -> int:
        return 0

    def stop(self) -> None:
        return None


class Searcher(Protocol):
    def search(self, q: str, limit: int) -> list[str]: ...


def time_queries(s: Searcher, queries: list[dict[str, Any]], limit: int = LIMIT) -> list[QueryResult]:
    out: list[QueryResult] = []
    for q in queries:
        ids: list[str] = []
        micros = 0.0
        for _ in range(2):
            t0 = time.perf_counter()
            ids = s.search(q["q"], limit)
            micros = (time.perf_counter() - t0) * 1e6
        out.append(QueryResult(ids[:limit], micros))
    return out


def read_docs(path: Path):  # type: ignore[no-untyped-def]
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def typo_budget(word: str) -> int:
    """Typos allowed by word length, as Typesense/Meilisearch/Needle default: 0 <4, 1 <8, 2."""
    n = len(word)
    return 0 if n < 4 else (1 if n < 8 else 2)
