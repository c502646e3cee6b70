"""PostgreSQL 15 (Debian) with `pg_trgm` and `unaccent`, a private cluster on 127.0.0.1.

Configured as PostgreSQL's docs describe for fuzzy name search plus full text: an IMMUTABLE
`unaccent` wrapper; a weighted `tsvector` (name A, aliases/related B, album/tags C,
description/transcript D, `simple` configuration) with a GIN index, queried with all words
AND and the last as a prefix (`:*`); a trigram GIN index on the folded name for typo
tolerance (`<%` word similarity); ranked by ts_rank + word_similarity, popularity as tie-break.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from ..common import du, free_port, tree_hwm_kib
from .base import LIMIT, Engine, IndexStats, QueryResult, read_docs

BIN = Path("/usr/lib/postgresql/15/bin")
TOKEN = re.compile(r"\w+", re.UNICODE)
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;
CREATE UNLOGGED TABLE catalog (id text PRIMARY KEY, name text, aliases text, related text, album text,
  tags text, description text, transcript text, pop real);
"""
DERIVED = """
ALTER TABLE catalog ADD COLUMN name_f text GENERATED ALWAYS AS (lower(f_unaccent(name || ' ' || aliases))) STORED;
ALTER TABLE catalog ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('simple', f_unaccent(name)), 'A') ||
  setweight(to_tsvector('simple', f_unaccent(aliases || ' ' || related)), 'B') ||
  setweight(to_tsvector('simple', f_unaccent(album || ' ' || tags)), 'C') ||
  setweight(to_tsvector('simple', f_unaccent(description || ' ' || left(transcript, 200000))), 'D')) STORED;
CREATE INDEX catalog_trgm ON catalog USING gin (name_f gin_trgm_ops);
CREATE INDEX catalog_tsv ON catalog USING gin (tsv);
ANALYZE catalog;
"""
SEARCH = """
SELECT id FROM catalog
WHERE tsv @@ to_tsquery('simple', %(tsq)s) OR %(t)s <%% name_f
ORDER BY ts_rank(tsv, to_tsquery('simple', %(tsq)s)) + word_similarity(%(t)s, name_f) DESC, pop DESC
LIMIT %(limit)s
"""


class Postgres(Engine):
    name = "postgres"
    mode = "sql"
    config = ("15 (Debian), pg_trgm + unaccent; tsvector A/B/C/D weights ('simple'), words AND with last "
              "word :* prefix, OR trigram word_similarity(q, name) >= 0.6 (<%); ORDER BY ts_rank + "
              "word_similarity, pop; GIN indexes; shared_buffers 1GB; statement_timeout 2s; client psycopg over 127.0.0.1")

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.conn: Any = None

    def missing(self) -> str | None:
        if not (BIN / "postgres").exists():
            return "postgresql-15 (Debian) not installed"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg (PyPI) not installed"
        if not Path("/usr/share/postgresql/15/extension/pg_trgm.control").exists():
            return "postgresql-contrib (pg_trgm, unaccent) not installed"
        return None

    def _as_pg(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.getuid() == 0 else cmd

    def _start(self, workdir: Path) -> Path:
        data = workdir / "pgdata"
        shutil.rmtree(data, ignore_errors=True)
        sock = workdir / "pgsock"
        sock.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            shutil.chown(workdir, "postgres")
            shutil.chown(sock, "postgres")
        subprocess.run(self._as_pg([str(BIN / "initdb"), "-D", str(data), "-U", "bench", "--auth=trust",
                                    "-E", "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)
        self.port = free_port()
        log = open(workdir / "postgres.log", "wb")
        if os.getuid() == 0:
            shutil.chown(workdir / "postgres.log", "postgres")
        self.proc = subprocess.Popen(self._as_pg([
            str(BIN / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(sock),
            "-c", "listen_addresses=127.0.0.1", "-c", "shared_buffers=1GB", "-c", "maintenance_work_mem=1GB",
            "-c", "work_mem=64MB", "-c", "max_wal_size=4GB"]),
            stdout=log, stderr=subprocess.STDOUT)
        import psycopg

        deadline = time.time() + 60
        while True:
            try:
                self.conn = psycopg.connect(host="127.0.0.1", port=self.port, user="bench", dbname="postgres",
                                            autocommit=True)
                return data
            except psycopg.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)

    def index(self, docs: Path, catalog: Path, workdir: Path) -> IndexStats:
        workdir = workdir / "postgres"
        workdir.mkdir(parents=True, exist_ok=True)
        data = self._start(workdir)
        t0 = time.perf_counter()
        cur = self.conn.cursor()
        cur.execute(SCHEMA)
        n = 0
        cols = "id, name, aliases, related, album, tags, description, transcript, pop"
        with cur.copy(f"COPY catalog ({cols}) FROM STDIN") as cp:
            for d in read_docs(docs):
                vals = [d["id"], d["name"]] + [" ; ".join(d[k]) if isinstance(d[k], list) else d[k]
                                               for k in ("aliases", "related", "album", "tags", "description",
                                                         "transcript")]
                cp.write_row([v.replace("\x00", "") for v in vals] + [float(d["pop"])])
                n += 1
        cur.execute(DERIVED)
        secs = time.perf_counter() - t0
        cur.execute("SELECT pg_total_relation_size('catalog')")
        size = int(cur.fetchone()[0])
        return IndexStats(secs, n, size, self._cluster_rss(),
                          f"table + indexes (pg_total_relation_size); cluster on disk {du(data) / 2**20:.0f} MiB")

    def _cluster_rss(self) -> int:
        """Peak RSS of the busiest PostgreSQL process (the backend that did the work)."""
        return tree_hwm_kib(self.proc.pid) if self.proc else 0

    def run_queries(self, queries: list[dict[str, Any]]) -> list[QueryResult]:
        cur = self.conn.cursor()
        cur.execute("SET statement_timeout = '2s'")
        out: list[QueryResult] = []
        for q in queries:
            toks = TOKEN.findall(q["q"].lower().replace("_", " "))
            if not toks:
                out.append(QueryResult([], 0.0))
                continue
            terms = ["'" + t.replace("'", "''") + "'" for t in toks]
            if not q["q"].endswith(" "):
                terms[-1] += ":*"
            params = {"tsq": " & ".join(terms), "t": q["q"].lower(), "limit": LIMIT}
            ids: list[str] = []
            micros = 0.0
            for _ in range(2):
                t0 = time.perf_counter()
                try:
                    cur.execute(SEARCH, params)
                    ids = [r[0] for r in cur.fetchall()]
                except Exception:  # noqa: BLE001 - a timeout (2 s) counts as no answer
                    ids = []
                    micros = (time.perf_counter() - t0) * 1e6
                    break
                micros = (time.perf_counter() - t0) * 1e6
            out.append(QueryResult(ids, micros))
        return out

    def serve_rss_kib(self) -> int:
        return self._cluster_rss() if self.proc else 0

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
