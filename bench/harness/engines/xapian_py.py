"""Xapian 1.4 (Debian `python3-xapian`).

Configured as Xapian's docs describe: TermGenerator with per-field wdf increments as field
weights (name highest) and CJK n-grams, a spelling dictionary from the names; QueryParser
with AND as default operator, FLAG_PARTIAL (the last word as a prefix), FLAG_SPELLING_CORRECTION
(the corrected query is run when the typed one finds too little) and FLAG_CJK_NGRAM;
popularity as a ValueWeightPostingSource combined with OP_AND_MAYBE. Xapian does not fold
accents, so text is folded before indexing and querying (strip combining marks, casefold).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..common import strip_marks
from .base import FIELDS, LIMIT, WEIGHTS, read_docs

CONFIG = ("TermGenerator wdf_inc = field weight, FLAG_SPELLING on names, FLAG_CJK_NGRAM; QueryParser "
          "OP_AND + FLAG_PARTIAL + FLAG_SPELLING_CORRECTION + FLAG_CJK_NGRAM; corrected query, then OR, when nothing matches; "
          "popularity via ValueWeightPostingSource (OP_AND_MAYBE)")
DIST = "/usr/lib/python3/dist-packages"


def _xapian() -> Any:
    if DIST not in sys.path:
        sys.path.append(DIST)
    import xapian

    return xapian


def missing() -> str | None:
    try:
        _xapian()
    except ImportError as e:
        return f"python3-xapian (Debian) not installed: {e}"
    return None


def norm(s: str) -> str:
    return strip_marks(s.casefold())


def build_index(docs: Path, dir_: Path) -> tuple[int, str]:
    x = _xapian()
    db = x.WritableDatabase(str(dir_), x.DB_CREATE_OR_OVERWRITE)
    tg = x.TermGenerator()
    tg.set_database(db)
    tg.set_flags(x.TermGenerator.FLAG_CJK_NGRAM)
    n = 0
    db.begin_transaction(False)
    for d in read_docs(docs):
        doc = x.Document()
        tg.set_document(doc)
        for f in FIELDS:
            v = d[f]
            text = " ; ".join(v) if isinstance(v, list) else v
            if not text:
                continue
            if f in ("name", "aliases"):
                tg.set_flags(x.TermGenerator.FLAG_CJK_NGRAM | x.TermGenerator.FLAG_SPELLING)
            tg.index_text(norm(text), WEIGHTS[f])
            tg.increase_termpos()
            tg.set_flags(x.TermGenerator.FLAG_CJK_NGRAM)
        doc.add_value(0, x.sortable_serialise(float(d["pop"])))
        doc.set_data(d["id"])
        doc.add_boolean_term("Q" + d["id"])
        db.add_document(doc)
        n += 1
        if n % 50000 == 0:
            db.commit_transaction()
            db.begin_transaction(False)
    db.commit_transaction()
    db.close()
    return n, f"Xapian {x.version_string()}"


class XapianSearcher:
    def __init__(self, dir_: Path) -> None:
        x = self.x = _xapian()
        self.db = x.Database(str(dir_))
        self.qp = x.QueryParser()
        self.qp.set_database(self.db)
        self.qp.set_default_op(x.Query.OP_AND)
        self.flags = (x.QueryParser.FLAG_PARTIAL | x.QueryParser.FLAG_SPELLING_CORRECTION
                      | x.QueryParser.FLAG_CJK_NGRAM)
        self.enquire = x.Enquire(self.db)

    def _run(self, text: str, op: int, limit: int) -> list[str]:
        x = self.x
        self.qp.set_default_op(op)
        try:
            q = self.qp.parse_query(text, self.flags)
        except x.QueryParserError:
            return []
        self._corrected = self.qp.get_corrected_query_string()
        ps = x.ValueWeightPostingSource(0)
        self.enquire.set_query(x.Query(x.Query.OP_AND_MAYBE, q, x.Query(x.Query.OP_SCALE_WEIGHT, x.Query(ps), 1.0)))
        return [m.document.get_data().decode() for m in self.enquire.get_mset(0, limit)]

    def search(self, q: str, limit: int = LIMIT) -> list[str]:
        x = self.x
        text = norm(q)
        ids = self._run(text, x.Query.OP_AND, limit)
        corrected = self._corrected
        if not ids and corrected:
            seen = set(ids)
            ids += [i for i in self._run(corrected.decode(), x.Query.OP_AND, limit) if i not in seen]
        if not ids and len(text.split()) > 1:
            seen = set(ids)
            ids += [i for i in self._run(text, x.Query.OP_OR, limit + len(ids)) if i not in seen]
        return ids[:limit]


def open_searcher(dir_: Path) -> XapianSearcher:
    return XapianSearcher(dir_)
