"""Fast checks of the harness itself, standard library only (for CI):
`python3 bench/harness/selftest.py` — typo generator, workload rules, scoring."""
from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.catalog import Catalog, Entity  # noqa: E402
from harness.common import fold  # noqa: E402
from harness.engines.base import EngineRun, QueryResult  # noqa: E402
from harness.metrics import latency, relevance  # noqa: E402
from harness.typos import damerau, one_typo, two_typos  # noqa: E402
from harness.workload import build_workload  # noqa: E402


def check_typos() -> None:
    rng = random.Random(7)
    for w in ["beyonce", "shakira", "metallica", "tchaikovsky", "philosophy", "hello"]:
        for _ in range(50):
            t = one_typo(w, rng)
            assert t and damerau(w, t[0]) == 1 and t[0][0] == w[0], (w, t)
            t2 = two_typos(w, rng)
            if t2:
                assert damerau(w, t2[0]) == 2, (w, t2)
    assert damerau("shakria", "shakira") == 1
    assert fold("Beyoncé") == "beyonce" and fold("Mötley Crüe") == "motley crue" and fold("Don't") == "dont"


def synthetic() -> Catalog:
    rng = random.Random(3)
    syll = ["ka", "lo", "mi", "ren", "do", "sa", "vel", "tor", "ni", "bra", "quin", "el", "sto", "pha"]
    ents: list[Entity] = []

    def add(i: int, typ: str, name: str, pop: float, rel: list[str] | None = None, desc: str = "") -> None:
        ents.append(Entity(f"x:{typ}:{i}", typ, name, fold(name), pop, rel or [], desc))

    for i in range(400):
        word = lambda: "".join(rng.choice(syll) for _ in range(rng.randint(2, 4)))  # noqa: E731
        artist = f"{word().title()} {word().title()}"
        add(i, "artist", artist, rng.random())
        add(i, "track", f"{word().title()} {word()}", rng.random(), [artist])
        add(i, "show", f"{word().title()} Radio", rng.random(), [], " ".join(word() for _ in range(30)))
    for i, n in enumerate(["Beyoncé", "Sigur Rós", "東京事変", "Кино", "Hello", "Hello", "Hello"]):
        add(1000 + i, "artist" if i < 4 else "track", n, 0.2 + 0.1 * i, ["Adele"] if n == "Hello" else [])
    return Catalog(ents, {e.id: e for e in ents}, Counter(e.type for e in ents))


def check_workload() -> None:
    cat = synthetic()
    qs = build_workload(cat, 20, 11)
    assert qs == build_workload(cat, 20, 11), "the workload must be reproducible"
    cats = Counter(q["cat"] for q in qs)
    for c in ("exact", "title_artist", "typo1", "typo2", "prefix", "description"):
        assert cats[c] > 0, (c, cats)
    by_id = cat.by_id
    for q in qs:
        t = by_id[q["target"]]
        assert q["target"] in q["accept"]
        if q["cat"] == "typo1":
            assert any(damerau(a, b) == 1 for a, b in zip(t.key.split(), q["q"].split())), q
        if q["cat"] == "prefix":
            assert t.key.startswith(q["q"]), q
        if q["cat"] == "diacritics":
            assert q["q"].isascii() and not t.name.isascii(), q


def check_metrics() -> None:
    qs = [{"qid": 0, "cat": "exact", "accept": ["a"]}, {"qid": 1, "cat": "exact", "accept": ["b"]}]
    run = EngineRun("e", "in-process", results=[QueryResult(["a", "b"], 1000), QueryResult(["a", "b"], 3000)])
    rel = relevance(qs, run)["exact"]
    assert rel["success@1"] == 0.5 and rel["mrr@10"] == 0.75 and rel["recall@10"] == 1.0, rel
    assert latency(qs, run)["exact"]["p50"] == 2.0


if __name__ == "__main__":
    check_typos()
    check_workload()
    check_metrics()
    print("bench selftest: 3 passed, 0 failed")
