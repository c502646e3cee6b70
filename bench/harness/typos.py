"""Realistic human misspellings of one word.

Every operation below is one Damerau-Levenshtein edit (an insertion, a deletion, a
substitution or a swap of two adjacent letters), modelled on what people actually type:
a dropped letter, a doubled letter, two letters swapped, the wrong vowel, a phonetic
confusion (s/z, c/k, i/y, single/double consonant). `ph`->`f` is two edits and is only
used where two typos are allowed.
"""
from __future__ import annotations

import random
from typing import Callable

VOWELS = "aeiou"
PHONETIC = {"s": "z", "z": "s", "c": "k", "k": "c", "y": "i", "i": "y", "v": "w", "w": "v"}

Op = Callable[[str, int, random.Random], str | None]


def _drop(w: str, i: int, rng: random.Random) -> str | None:
    if len(w) < 4:
        return None
    return w[:i] + w[i + 1:]


def _double(w: str, i: int, rng: random.Random) -> str | None:
    if not w[i].isalpha() or (i + 1 < len(w) and w[i + 1] == w[i]):
        return None
    return w[:i] + w[i] + w[i:]


def _swap(w: str, i: int, rng: random.Random) -> str | None:
    if i + 1 >= len(w) or w[i] == w[i + 1]:
        return None
    return w[:i] + w[i + 1] + w[i] + w[i + 2:]


def _vowel(w: str, i: int, rng: random.Random) -> str | None:
    if w[i] not in VOWELS:
        return None
    return w[:i] + rng.choice([v for v in VOWELS if v != w[i]]) + w[i + 1:]


def _phonetic(w: str, i: int, rng: random.Random) -> str | None:
    if w[i] not in PHONETIC:
        return None
    return w[:i] + PHONETIC[w[i]] + w[i + 1:]


def _undouble(w: str, i: int, rng: random.Random) -> str | None:
    if i + 1 < len(w) and w[i] == w[i + 1]:
        return w[:i] + w[i + 1:]
    return None


OPS: list[tuple[str, Op, float]] = [
    ("drop", _drop, 3.0),
    ("double", _double, 1.5),
    ("swap", _swap, 2.5),
    ("vowel", _vowel, 2.0),
    ("phonetic", _phonetic, 1.5),
    ("undouble", _undouble, 1.5),
]


def one_typo(word: str, rng: random.Random, allow_first: bool = False) -> tuple[str, str] | None:
    """One realistic edit of an ASCII-letter word, never on the first letter unless allowed."""
    if not word.isascii() or not word.isalpha():
        return None
    start = 0 if allow_first else 1
    for _ in range(30):
        name, op, _w = rng.choices(OPS, weights=[o[2] for o in OPS])[0]
        # Swapping position 0 with 1 changes the first letter too.
        i = rng.randrange(start, len(word))
        out = op(word, i, rng)
        if not out or out == word or (not allow_first and out[0] != word[0]):
            continue
        return out, name
    return None


def two_typos(word: str, rng: random.Random) -> tuple[str, str] | None:
    """Two edits in one long word: `ph`->`f`, or two single edits at different places."""
    if "ph" in word[1:] and rng.random() < 0.5:
        i = word.index("ph", 1)
        return word[:i] + "f" + word[i + 2:], "ph>f"
    first = one_typo(word, rng)
    if not first:
        return None
    second = one_typo(first[0], rng)
    if not second or damerau(word, second[0]) != 2:
        return None
    return second[0], f"{first[1]}+{second[1]}"


def damerau(a: str, b: str) -> int:
    """Optimal-string-alignment distance (what the engines call a typo count)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
