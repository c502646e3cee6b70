"""The `spaceless` category: known-item queries in scripts written without spaces between
words (Chinese, Japanese, Thai) and in Korean, built the way people type them.

`non_latin` takes random 2-4 character substrings, which favours character n-grams. These
queries are what a listener types instead, so that a dictionary segmenter gets its chance:

- `word`: one dictionary word of the name (ICU's word break iterator, the segmenter behind
  Lucene's ICUTokenizer and Elasticsearch's `icu_tokenizer`), at least 2 characters, not
  the whole name;
- `words`: two such words of the name, in order, joined by a space;
- `start`: the first 2-5 characters of the name's first run in the script (typing).

The target is, as for `non_latin`, the clearly most popular entity whose name contains
every piece of the query. The word segmentation runs in Debian's `python3-icu`
(`/usr/bin/python3`, outside the venv); without it the category is left empty and says so.
"""
from __future__ import annotations

import json
import random
import re
import subprocess
import unicodedata
from typing import Any, Callable

from .catalog import Entity
from .common import fold, log

# name, characters that tell the script (a name belongs to the first script it matches),
# characters of a run in it.
SPACELESS_SCRIPTS: list[tuple[str, str, str]] = [
    ("japanese", "[\u3040-\u30ff]", "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]"),  # kana, Han mixed in
    ("chinese", "[\u3400-\u4dbf\u4e00-\u9fff]", "[\u3400-\u4dbf\u4e00-\u9fff]"),
    ("thai", "[\u0e00-\u0e7f]", "[\u0e00-\u0e7f]"),
    ("korean", "[\uac00-\ud7af]", "[\uac00-\ud7af]"),
]
FORMS = ["word", "words", "start"]
SEGMENT = r"""
import icu, json, sys
bi = icu.BreakIterator.createWordInstance(icu.Locale.getRoot())
for line in sys.stdin:
    s = json.loads(line)
    bi.setText(s)
    b = [0] + list(bi)
    print(json.dumps([s[b[i]:b[i + 1]] for i in range(len(b) - 1)], ensure_ascii=False))
"""


def norm(s: str) -> str:
    """What "contains" compares: NFKC (full-width forms) and lower case."""
    return unicodedata.normalize("NFKC", s).lower()


def segment(texts: list[str]) -> list[list[str]] | None:
    """ICU word segments of each text (Python strings index by code point, as ICU4C's
    UTF-16 offsets do for these scripts, all in the BMP); None without `python3-icu`."""
    payload = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
    try:
        out = subprocess.run(["/usr/bin/python3", "-c", SEGMENT], input=payload, capture_output=True,
                             text=True, check=True, encoding="utf-8")
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"workload: spaceless needs Debian python3-icu ({e}); category left empty")
        return None
    return [json.loads(line) for line in out.stdout.splitlines()]


def letters(s: str) -> int:
    """Characters that are not combining marks (a Thai syllable's vowel and tone marks are
    not letters of their own)."""
    return sum(1 for c in s if not unicodedata.category(c).startswith("M"))


def clean_cut(run: str, k: int) -> str:
    """The first `k` characters of `run`, extended so no combining mark is cut off its base
    (Thai vowels and tone marks)."""
    while k < len(run) and unicodedata.category(run[k]).startswith("M"):
        k += 1
    return run[:k]


class Spaceless:
    def __init__(self, pool: list[Entity], groups: dict[str, list[Entity]], seed: int,
                 best: Callable[[list[Entity]], Entity | None]) -> None:
        self.rng = random.Random(seed)
        self.groups = groups
        self.best = best
        self.by_script: dict[str, list[Entity]] = {s: [] for s, _, _ in SPACELESS_SCRIPTS}
        for e in pool:
            for s, cls, _ in SPACELESS_SCRIPTS:
                if re.search(cls, e.name):
                    self.by_script[s].append(e)
                    break
        self.names = [(e, norm(e.name)) for e in pool]
        self.cls = {s: run for s, _, run in SPACELESS_SCRIPTS}
        self.used: set[str] = set()

    def target(self, pieces: list[str]) -> Entity | None:
        holders = [e for e, n in self.names if all(p in n for p in pieces)]
        return self.best(holders)

    def query(self, script: str, form: str, e: Entity, segs: list[str]) -> dict[str, Any] | None:
        cls = self.cls[script]
        name = norm(e.name)
        if form == "start":
            runs = re.findall(f"{cls}+", name)
            runs = [r for r in runs if letters(r) >= 3]
            if not runs:
                return None
            pieces = [clean_cut(runs[0], self.rng.randint(2, min(5, len(runs[0]) - 1)))]
            if letters(pieces[0]) < 2:
                return None
        else:
            ws = list(dict.fromkeys(norm(w) for w in segs if letters(w) >= 2 and re.search(cls, w)))
            ws = [w for w in ws if w != name]
            need = 1 if form == "word" else 2
            if len(ws) < need:
                return None
            pick = sorted(self.rng.sample(range(len(ws)), need))
            pieces = [ws[i] for i in pick]
        q = " ".join(pieces)
        if q in self.used or fold(q) in self.groups:  # a whole name is an `exact` query
            return None
        target = self.target(pieces)
        if target is None:
            return None
        self.used.add(q)
        return {"cat": "spaceless", "q": q, "target": target.id, "accept": [target.id], "src": e.id,
                "note": f"{script} {form}: {e.name}"}

    def build(self, n: int) -> list[dict[str, Any]]:
        cells = [(s, f) for s, _, _ in SPACELESS_SCRIPTS for f in FORMS if self.by_script[s]]
        if not cells:
            return []
        sample: dict[str, list[Entity]] = {}
        for s, ents in self.by_script.items():
            sample[s] = self.rng.sample(ents, min(len(ents), 4000))
        flat = [e for s in sample for e in sample[s]]
        segs = segment([e.name for e in flat])
        if segs is None:
            return []
        seg_of = {e.id: sg for e, sg in zip(flat, segs)}
        out: list[dict[str, Any]] = []
        per_cell = max(1, n // len(cells))
        for s, f in cells:
            got, tries = 0, 0
            while got < per_cell and tries < per_cell * 60:
                tries += 1
                e = self.rng.choice(sample[s])
                q = self.query(s, f, e, seg_of[e.id])
                if q:
                    out.append(q)
                    got += 1
        log("workload: spaceless " + ", ".join(f"{s} {len(v)} names" for s, v in self.by_script.items()))
        return out[:n]
