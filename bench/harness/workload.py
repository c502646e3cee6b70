"""The query workload: known-item queries built from the catalog with a fixed seed.

Each query has a `target` (the entity a listener means) and `accept` (ids that count as
a success at rank 1; the target alone except for `exact` ties and duplicate tracks).
The rules for choosing a findable target are in bench/README.md ("Workload").
"""
from __future__ import annotations

import bisect
import random
import re
from collections import Counter, defaultdict
from typing import Any, Callable, Iterable

from .catalog import Catalog, Entity
from .common import fold, has_accents, log
from .spaceless import Spaceless
from .typos import damerau, one_typo, two_typos

CATEGORIES = ["exact", "title_artist", "typo1", "typo2", "prefix", "diacritics",
              "non_latin", "description", "ambiguous_popular", "spaceless"]
# Share of each category's queries by entity type (missing types are filled by others).
MIX = {"artist": 0.3, "track": 0.3, "show": 0.3, "audiobook": 0.1}
MARGIN = 0.02  # normalised popularity by which a target must beat the runner-up
STOP = set("""the and for with that this from your you are was were have has had not but all any
can our out its his her their they them into about what when where which who how why will
just more most some such than then there these those also been being over only very each
other after before because while would could should been show podcast episode episodes
audiobook chapter book books listen new every week weekly daily talk talks youve youre dont
cant isnt weve theyre well ive lets thats whats heres theres""".split())
SCRIPTS: list[tuple[str, str, bool]] = [  # name, regex class, written without spaces
    ("cjk", "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]", True),
    ("hangul", "[\uac00-\ud7af]", True),
    ("cyrillic", "[\u0400-\u04ff]", False),
    ("arabic", "[\u0600-\u06ff]", False),
    ("devanagari", "[\u0900-\u097f]", False),
]

Query = dict[str, Any]
Gen = Callable[[Entity], Query | None]


class Builder:
    def __init__(self, cat: Catalog, seed: int) -> None:
        self.cat = cat
        self.seed = seed
        self.rng = random.Random(seed)
        self.groups: dict[str, list[Entity]] = defaultdict(list)
        self.vocab: Counter[str] = Counter()
        for e in cat.entities:
            self.groups[e.key].append(e)
            self.vocab.update(set(e.key.split()))
        self.by_type: dict[str, list[Entity]] = defaultdict(list)
        for e in cat.entities:
            if 2 <= len(e.key) <= 60 and any(c.isalpha() for c in e.key):
                self.by_type[e.type].append(e)
        order = sorted(range(len(cat.entities)), key=lambda i: cat.entities[i].key)
        self.sorted_keys = [cat.entities[i].key for i in order]
        self.sorted_ents = [cat.entities[i] for i in order]
        self.used: set[str] = set()

    # -- helpers -----------------------------------------------------------------
    def unique(self, e: Entity) -> bool:
        return len(self.groups[e.key]) == 1

    def best(self, cands: Iterable[Entity]) -> Entity | None:
        """The clearly most popular candidate (beats the runner-up by MARGIN), else None."""
        top = sorted(cands, key=lambda x: -x.pop)[:2]
        if not top or (len(top) == 2 and top[0].pop - top[1].pop < MARGIN):
            return None
        return top[0]

    def with_prefix(self, p: str) -> list[Entity]:
        lo = bisect.bisect_left(self.sorted_keys, p)
        hi = bisect.bisect_left(self.sorted_keys, p + "\U0010ffff")
        return self.sorted_ents[lo:hi]

    def q(self, cat: str, q: str, target: Entity, src: Entity, note: str = "",
          accept: list[str] | None = None) -> Query | None:
        dedup = f"{cat}\t{q}"
        if not q.strip() or dedup in self.used:
            return None
        self.used.add(dedup)
        return {"cat": cat, "q": q, "target": target.id, "accept": accept or [target.id],
                "src": src.id, "note": note}

    def fill(self, n: int, gen: Gen, mix: dict[str, float] = MIX,
             pool: list[Entity] | None = None) -> list[Query]:
        """Draw entities type by type (shares in `mix`) until `n` queries are generated."""
        out: list[Query] = []
        plan: list[tuple[list[Entity], int]] = []
        if pool is not None:
            plan = [(pool, n)]
        else:
            total = sum(mix[t] for t in mix if self.by_type.get(t))
            plan = [(self.by_type[t], round(n * mix[t] / total)) for t in mix if self.by_type.get(t)]
        for ents, need in plan + [([e for es, _ in plan for e in es[:200000]], n)]:
            got, tries = 0, 0
            while got < need and len(out) < n and tries < max(need, 1) * 60 and ents:
                tries += 1
                r = gen(self.rng.choice(ents))
                if r:
                    out.append(r)
                    got += 1
        return out

    # -- categories -------------------------------------------------------------
    def exact(self, e: Entity) -> Query | None:
        group = self.groups[e.key]
        target = max(group, key=lambda x: x.pop)
        return self.q("exact", e.name, target, e, f"{len(group)} share the name",
                      [x.id for x in group])

    def title_artist(self, e: Entity) -> Query | None:
        if e.type != "track" or not e.related or len(e.key) < 2:
            return None
        artist = e.related[0]
        same = [x for x in self.groups[e.key] if x.type == "track" and x.related
                and fold(x.related[0]) == fold(artist)]
        return self.q("title_artist", f"{e.name} {artist}".lower(), e, e, "", [x.id for x in same])

    def _typo_query(self, e: Entity, two: bool) -> Query | None:
        ws = e.key.split()
        if not self.unique(e) or len(ws) > 6:
            return None
        idx = [i for i, w in enumerate(ws) if len(w) >= (8 if two else 4) and w.isascii() and w.isalpha()]
        if not idx:
            if not two:
                return None
            idx4 = [i for i, w in enumerate(ws) if len(w) >= 4 and w.isascii() and w.isalpha()]
            if len(idx4) < 2:
                return None
            picks = self.rng.sample(idx4, 2)
            edits = [(i, one_typo(ws[i], self.rng)) for i in picks]
            want = 1
        else:
            i = self.rng.choice(idx)
            edits = [(i, two_typos(ws[i], self.rng) if two else one_typo(ws[i], self.rng))]
            want = 2 if two else 1
        new = list(ws)
        notes = []
        for i, ed in edits:
            if (not ed or damerau(ws[i], ed[0]) != want or self.vocab.get(ed[0])
                    or ed[0][0] != ws[i][0] or len(ed[0]) < (8 if want == 2 else 4)):
                return None
            new[i] = ed[0]
            notes.append(f"{ws[i]}>{ed[0]} ({ed[1]})")
        q = " ".join(new)
        if q in self.groups:
            return None
        return self.q("typo2" if two else "typo1", q, e, e, "; ".join(notes))

    def typo1(self, e: Entity) -> Query | None:
        return self._typo_query(e, False)

    def typo2(self, e: Entity) -> Query | None:
        return self._typo_query(e, True)

    def prefix(self, e: Entity) -> Query | None:
        ws = e.key.split()
        if not ws or not ws[0][0].isalnum():
            return None
        if len(ws) >= 2 and len(ws[0]) >= 2 and self.rng.random() < 0.35:
            k0 = self.rng.randint(1, min(4, len(ws[1])))
            cands = [f"{ws[0]} {ws[1][:k]}" for k in range(k0, min(4, len(ws[1])) + 1)]
            kind = "word+prefix"
        else:
            k0 = self.rng.randint(1, min(6, len(ws[0])))
            cands = [ws[0][:k] for k in range(k0, min(6, len(ws[0])) + 1)]
            kind = "prefix"
        for p in cands:
            # A prefix that is itself a whole name is an exact query for that name, not a prefix.
            if p in self.groups:
                continue
            target = self.best(self.with_prefix(p))
            if target is not None:
                return self.q("prefix", p, target, e, f"{kind} {len(p)} chars")
        return None

    def diacritics(self, e: Entity) -> Query | None:
        if not self.unique(e) or not has_accents(e.name):
            return None
        q = fold(e.name)
        if not q.isascii() or q == e.name.lower():
            return None
        return self.q("diacritics", q, e, e, e.name)

    def non_latin(self, e: Entity, script: tuple[str, str, bool]) -> Query | None:
        name, cls, spaceless = script
        low = e.name.lower()
        runs = re.findall(f"{cls}+", low)
        if spaceless:
            runs = [r for r in runs if len(r) >= 2]
            if not runs:
                return None
            run = self.rng.choice(runs)
            k = self.rng.randint(2, min(4, len(run)))
            i = self.rng.randrange(0, len(run) - k + 1)
            sub = run[i:i + k]
        else:
            runs = [r for r in runs if len(r) >= 3]
            if not runs:
                return None
            sub = self.rng.choice(runs)
        if fold(sub) in self.groups:  # the substring is a whole name: an exact query, not this category
            return None
        holders = [x for x in self.nonlatin_pool if sub in x.name.lower()]
        target = self.best(holders)
        if target is None:
            return None
        return self.q("non_latin", sub, target, e, f"{name}: {e.name}")

    def description(self, e: Entity) -> Query | None:
        if e.type not in ("show", "audiobook") or len(e.description) < 80:
            return None
        own = set(e.key.split()) | {w for r in e.related for w in fold(r).split()}
        ws = [w for w in dict.fromkeys(fold(e.description).split()[:-1])
              if len(w) >= 4 and w.isalpha() and w.isascii() and w not in STOP and w not in own
              and 1 <= self.df.get(w, 0) <= 300]
        ws = [w for w in ws if len(w) >= 5]
        if len(ws) < 3:
            return None
        rare = sorted(ws, key=lambda w: (self.df[w], w))[:8]
        k = self.rng.choice([2, 3])
        for _ in range(8):
            pick = self.rng.sample(rare, k)
            if min(self.vocab.get(w, 0) for w in pick) > 0:
                continue
            holders = set.intersection(*(self.postings[w] for w in pick))
            if holders == {e.id}:
                order = sorted(pick, key=lambda w: ws.index(w))
                return self.q("description", " ".join(order), e, e, e.name)
        return None

    @staticmethod
    def dup(x: Entity, y: Entity) -> bool:
        """The same thing from two sources (a Billboard and a Last.fm artist of one name)."""
        return x.type == y.type and x.key == y.key and x.id.split(":")[0] != y.id.split(":")[0]

    def ambiguous(self, key: str) -> Query | None:
        group = sorted(self.groups[key], key=lambda x: -x.pop)
        target = group[0]
        others = [x for x in group[1:] if not self.dup(x, target)]
        if not others or target.pop < 0.3 or target.pop - others[0].pop < MARGIN:
            return None
        accept = [target.id] + [x.id for x in group[1:] if self.dup(x, target)]
        return self.q("ambiguous_popular", target.name.lower(), target, target,
                      f"{len(others) + 1} distinct share the name: "
                      + ", ".join(sorted({x.type for x in group})), accept)

    # -- indexes built on demand ------------------------------------------------
    def build_description_index(self) -> None:
        self.df: Counter[str] = Counter()
        self.postings: dict[str, set[str]] = defaultdict(set)
        for e in self.cat.entities:
            if e.description:
                for w in set(fold(e.description).split()):
                    self.df[w] += 1
                    self.postings[w].add(e.id)

    def build(self, n: int) -> list[Query]:
        qs: list[Query] = []
        qs += self.fill(n, self.exact)
        qs += self.fill(n, self.title_artist, {"track": 1.0})
        qs += self.fill(n, self.typo1)
        qs += self.fill(n, self.typo2)
        qs += self.fill(n, self.prefix)
        dia = [e for es in self.by_type.values() for e in es
               if not e.name.isascii() and fold(e.name).isascii() and self.unique(e)]
        qs += self.fill(n, self.diacritics, pool=dia) if dia else []
        self.nonlatin_pool = [e for e in self.cat.entities if not fold(e.name).isascii()]
        per_script: list[Query] = []
        for sc in SCRIPTS:
            pool = [e for e in self.nonlatin_pool if re.search(sc[1], e.name)]
            if pool:
                per_script += self.fill(max(1, n // len(SCRIPTS)), lambda e, s=sc: self.non_latin(e, s), pool=pool)
        qs += per_script[:n]
        self.build_description_index()
        qs += self.fill(n, self.description, {"show": 0.6, "audiobook": 0.4})
        keys = sorted(k for k, g in self.groups.items() if len(g) >= 2 and len(k) >= 3)
        self.rng.shuffle(keys)
        amb = [q for q in (self.ambiguous(k) for k in keys[: n * 200]) if q][:n]
        qs += amb
        # Its own random stream, so adding it left the other categories' queries as they were.
        qs += Spaceless(self.nonlatin_pool, self.groups, self.seed + 1, self.best).build(n)
        for i, q in enumerate(qs):
            q["qid"] = i
        counts = Counter(q["cat"] for q in qs)
        log("workload: " + ", ".join(f"{c} {counts.get(c, 0)}" for c in CATEGORIES))
        return qs


def build_workload(cat: Catalog, per_category: int, seed: int) -> list[Query]:
    return Builder(cat, seed).build(per_category)
