"""SQLite FTS5 (Python's sqlite3).

Configured as the FTS5 docs describe: `unicode61 remove_diacritics 2` tokenizer, prefix
indexes (`prefix='1 2 3'`) and a prefix query on the last word, all words required (OR when
nothing matches), `bm25()` with per-column weights (name highest). FTS5 has no typo tolerance.
Popularity multiplies the bm25 score by log2(2 + 0.25*pop), as for tantivy-py.
"""
from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

from .base import FIELDS, LIMIT, WEIGHTS, read_docs

CONFIG = ("fts5 tokenize='unicode61 remove_diacritics 2' prefix='1 2 3'; words AND, last word prefix*, "
          "OR when nothing matches; ORDER BY bm25(weights " + ",".join(str(WEIGHTS[f]) for f in FIELDS)
          + ") * log2(2+0.25*pop)")
TOKEN = re.compile(r"\w+", re.UNICODE)


def missing() -> str | None:
    try:
        c = sqlite3.connect(":memory:")
        c.execute("CREATE VIRTUAL TABLE t USING fts5(a)")
    except sqlite3.Error as e:
        return f"sqlite3 without FTS5: {e}"
    return None


def build_index(docs: Path, dir_: Path) -> tuple[int, str]:
    db = sqlite3.connect(dir_ / "catalog.db")
    cols = ", ".join(FIELDS)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(f"CREATE VIRTUAL TABLE catalog USING fts5(id UNINDEXED, {cols}, popw UNINDEXED, "
               "tokenize='unicode61 remove_diacritics 2', prefix='1 2 3')")
    n = 0
    rows = []
    sql = f"INSERT INTO catalog(id, {cols}, popw) VALUES ({', '.join('?' * (len(FIELDS) + 2))})"
    for d in read_docs(docs):
        vals = [d["id"]] + [" ; ".join(d[f]) if isinstance(d[f], list) else d[f] for f in FIELDS]
        rows.append(vals + [math.log2(2 + 0.25 * float(d["pop"]))])
        n += 1
        if len(rows) >= 10000:
            db.executemany(sql, rows)
            rows.clear()
    if rows:
        db.executemany(sql, rows)
    db.execute("INSERT INTO catalog(catalog) VALUES ('optimize')")
    db.commit()
    db.close()
    return n, f"SQLite {sqlite3.sqlite_version}"


class FtsSearcher:
    def __init__(self, dir_: Path) -> None:
        self.db = sqlite3.connect(dir_ / "catalog.db", check_same_thread=False)
        w = ", ".join(["0"] + [str(WEIGHTS[f]) for f in FIELDS] + ["0"])
        self.sql = (f"SELECT id FROM catalog WHERE catalog MATCH ? "
                    f"ORDER BY bm25(catalog, {w}) * popw LIMIT ?")

    def _run(self, match: str, limit: int) -> list[str]:
        try:
            return [r[0] for r in self.db.execute(self.sql, (match, limit))]
        except sqlite3.OperationalError:
            return []

    def search(self, q: str, limit: int = LIMIT) -> list[str]:
        toks = TOKEN.findall(q.replace("_", " "))
        if not toks:
            return []
        terms = ['"' + t.replace('"', '""') + '"' for t in toks]
        if not q.endswith(" "):
            terms[-1] += "*"
        ids = self._run(" AND ".join(terms), limit)
        if not ids and len(terms) > 1:
            seen = set(ids)
            ids += [i for i in self._run(" OR ".join(terms), limit + len(ids)) if i not in seen]
        return ids[:limit]


def open_searcher(dir_: Path) -> FtsSearcher:
    return FtsSearcher(dir_)
