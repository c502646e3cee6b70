"""tantivy through its Python binding (PyPI `tantivy`).

Configured as tantivy's docs describe for search-as-you-type with typos: an analyzer with
lowercasing and ASCII folding; per query word a disjunction-max over fields of an exact
term (field boost), a fuzzy term (Levenshtein 1 from 4 chars, 2 from 8, transpositions
cost 1) on the name-like fields, and a prefix term for the last word; all words required
(any word when nothing matches, as Typesense's drop_tokens_threshold=1); popularity through `weight_by_field` (score x log2(2 + w)).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .base import LIMIT, WEIGHTS, read_docs, typo_budget

CONFIG = ("simple tokenizer + lowercase + ascii_fold; per word dismax(term^w, fuzzy(d by length)^0.6w on "
          "name/aliases/related, prefix^0.8w on last word); all words required, any word when nothing matches; "
          "weight_by_field popw = 0.25*pop")
NAME_LIKE = ("name", "aliases", "related")
OTHER = ("album", "tags", "description", "transcript")


def missing() -> str | None:
    try:
        import tantivy  # noqa: F401
    except ImportError as e:
        return f"PyPI tantivy not installed: {e}"
    return None


def _analyzer() -> Any:
    import tantivy as t

    return (t.TextAnalyzerBuilder(t.Tokenizer.simple()).filter(t.Filter.remove_long(40))
            .filter(t.Filter.lowercase()).filter(t.Filter.ascii_fold()).build())


def _schema() -> Any:
    import tantivy as t

    sb = t.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    for f in NAME_LIKE + OTHER:
        sb.add_text_field(f, stored=False, tokenizer_name="fold",
                          index_option="freq" if f in ("description", "transcript") else "position")
    sb.add_float_field("popw", stored=False, fast=True, indexed=False)
    return sb.build()


def _open(dir_: Path, create: bool) -> Any:
    import tantivy as t

    idx = t.Index(_schema(), path=str(dir_), reuse=not create)
    idx.register_tokenizer("fold", _analyzer())
    return idx


def build_index(docs: Path, dir_: Path) -> tuple[int, str]:
    import tantivy as t

    idx = _open(dir_, create=True)
    w = idx.writer(heap_size=512_000_000, num_threads=2)
    n = 0
    for d in read_docs(docs):
        doc = t.Document()
        doc.add_text("id", d["id"])
        doc.add_text("name", d["name"])
        for f in ("aliases", "related", "tags"):
            for v in d[f]:
                doc.add_text(f, v)
        for f in ("album", "description", "transcript"):
            if d[f]:
                doc.add_text(f, d[f])
        doc.add_float("popw", 0.25 * float(d["pop"]))
        w.add_document(doc)
        n += 1
    w.commit()
    w.wait_merging_threads()
    return n, "tantivy 0.27 (Python binding), 2 indexing threads"


class TantivySearcher:
    def __init__(self, dir_: Path) -> None:
        import tantivy as t

        self.t = t
        self.idx = _open(dir_, create=False)
        self.idx.reload()
        self.schema = self.idx.schema
        self.searcher = self.idx.searcher()
        self.an = _analyzer()

    def _word(self, tok: str, last: bool) -> Any:
        Q = self.t.Query
        subs: list[Any] = []
        for f in NAME_LIKE:
            w = float(WEIGHTS[f])
            subs.append(Q.boost_query(Q.term_query(self.schema, f, tok), w))
            if typo_budget(tok):
                subs.append(Q.boost_query(Q.fuzzy_term_query(self.schema, f, tok, typo_budget(tok), True, False), 0.6 * w))
            if last:
                subs.append(Q.boost_query(Q.fuzzy_term_query(self.schema, f, tok, 0, True, True), 0.8 * w))
        for f in OTHER:
            subs.append(Q.boost_query(Q.term_query(self.schema, f, tok), float(WEIGHTS[f])))
        return Q.disjunction_max_query(subs, 0.0)

    def _run(self, words: list[Any], occur: Any, limit: int) -> list[str]:
        q = self.t.Query.boolean_query([(occur, w) for w in words])
        res = self.searcher.search(q, limit, count=False, weight_by_field="popw")
        return [self.searcher.doc(addr)["id"][0] for _score, addr in res.hits]

    def search(self, q: str, limit: int = LIMIT) -> list[str]:
        toks = self.an.analyze(q)
        if not toks:
            return []
        prefix_last = not q.endswith(" ")
        words = [self._word(tok, prefix_last and i == len(toks) - 1) for i, tok in enumerate(toks)]
        ids = self._run(words, self.t.Occur.Must, limit)
        if not ids and len(words) > 1:
            seen = set(ids)
            ids += [i for i in self._run(words, self.t.Occur.Should, limit + len(ids)) if i not in seen]
        return ids[:limit]


def open_searcher(dir_: Path) -> TantivySearcher:
    return TantivySearcher(dir_)


if __name__ == "__main__":
    import sys

    s = open_searcher(Path(sys.argv[1]))
    print(json.dumps(s.search(" ".join(sys.argv[2:]))))
