"""The catalog: converted by Needle from ../shared/data, optionally subsampled (quick mode),
then flattened into the documents every anchor engine indexes (`docs.jsonl`)."""
from __future__ import annotations

import gzip
import json
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import fold, log, read_jsonl, run_measured

# Types kept whole in quick mode; the others are sampled down to the quick size.
KEEP_WHOLE = {"artist", "track", "album"}
PARENT_KEYS = ("artist_ids", "album_id", "show_id", "audiobook_id")


def data_root(root: Path) -> Path:
    for cand in (root.parent / "shared" / "data", root / ".." / "shared" / "data"):
        if cand.is_dir():
            return cand.resolve()
    raise FileNotFoundError("../shared/data not found next to the repository")


def convert(needle: Path, root: Path, out: Path, keep: bool = False) -> dict[str, Any]:
    """`needle dataset convert all ../shared/data -o out` (skipped when out is newer than the
    binary, or exists and `keep`: results being reused refer to it)."""
    if out.exists() and (keep or out.stat().st_mtime > needle.stat().st_mtime):
        log(f"catalog: reusing {out}")
        return {"reused": True}
    tmp = out.with_suffix(".tmp.gz")
    res = run_measured([str(needle), "dataset", "convert", "all", str(data_root(root)), "-o", str(tmp), "--quiet"])
    tmp.rename(out)
    log(f"catalog: converted in {res.seconds:.1f}s")
    return {"seconds": res.seconds, "reused": False}


def subsample(full: Path, out: Path, target: int, seed: int) -> None:
    """Keep every artist/track/album and a seeded sample of the rest, plus their parents."""
    if out.exists() and out.stat().st_mtime > full.stat().st_mtime:
        log(f"catalog: reusing quick subsample {out}")
        return
    types: dict[str, str] = {}
    parents: dict[str, list[str]] = {}
    for r in read_jsonl(full):
        if r.get("deleted"):
            continue
        types[r["id"]] = r["type"]
        ps: list[str] = list(r.get("artist_ids") or [])
        for k in PARENT_KEYS[1:]:
            if r.get(k):
                ps.append(r[k])
        if ps:
            parents[r["id"]] = ps
    whole = [i for i, t in types.items() if t in KEEP_WHOLE]
    rest = sorted(i for i, t in types.items() if t not in KEEP_WHOLE)
    rng = random.Random(seed)
    k = max(0, min(len(rest), target - len(whole)))
    keep = set(whole) | set(rng.sample(rest, k))
    for i in list(keep):
        keep.update(p for p in parents.get(i, []) if p in types)
    n = 0
    tmp = out.with_suffix(".tmp.gz")
    with gzip.open(full, "rt", encoding="utf-8") as src, gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as dst:
        for line in src:
            if not line.strip():
                continue
            rid = json.loads(line).get("id")
            if rid in keep:
                dst.write(line)
                n += 1
    tmp.rename(out)
    log(f"catalog: quick subsample of {n} entities ({len(whole)} artists/tracks/albums kept whole)")


@dataclass
class Entity:
    id: str
    type: str
    name: str
    key: str  # folded name
    pop: float  # log-normalised popularity per type, 0..1
    related: list[str]
    description: str


@dataclass
class Catalog:
    entities: list[Entity]
    by_id: dict[str, Entity]
    type_counts: Counter[str]


def _related(r: dict[str, Any], names: dict[str, str]) -> tuple[list[str], str]:
    rel: list[str] = [names[a] for a in r.get("artist_ids") or [] if a in names]
    for k in ("show_id", "audiobook_id"):
        if r.get(k) in names:
            rel.append(names[r[k]])
    for k in ("authors", "narrators"):
        rel.extend(r.get(k) or [])
    for k in ("publisher", "owner"):
        if r.get(k):
            rel.append(r[k])
    album = names.get(r.get("album_id") or "", "")
    return rel, album


def flatten(catalog: Path, docs: Path) -> Catalog:
    """Write `docs.jsonl` (one flat document per entity, the same input for every anchor)
    and return the entities the workload builder needs."""
    last: dict[str, dict[str, Any]] = {}
    for r in read_jsonl(catalog):
        if r.get("deleted"):
            last.pop(r["id"], None)
        else:
            last[r["id"]] = r
    names = {i: r["name"] for i, r in last.items() if r["type"] in ("artist", "album", "show", "audiobook")}
    max_pop: dict[str, float] = {}
    for r in last.values():
        max_pop[r["type"]] = max(max_pop.get(r["type"], 0.0), float(r.get("popularity") or 0.0))
    ents: list[Entity] = []
    docs.parent.mkdir(parents=True, exist_ok=True)
    with open(docs, "w", encoding="utf-8") as f:
        for r in last.values():
            raw = float(r.get("popularity") or 0.0)
            mp = max_pop.get(r["type"], 0.0)
            pop = math.log1p(raw) / math.log1p(mp) if mp > 0 else 0.0
            rel, album = _related(r, names)
            doc = {
                "id": r["id"], "type": r["type"], "name": r["name"],
                "aliases": r.get("aliases") or [], "related": rel, "album": album,
                "tags": r.get("tags") or [], "description": r.get("description") or "",
                "transcript": r.get("transcript") or "",
                "popularity": raw, "pop": round(pop, 6),
            }
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
            desc = doc["description"] if r["type"] in ("show", "audiobook", "episode") else ""
            ents.append(Entity(r["id"], r["type"], r["name"], fold(r["name"]), pop, rel, desc))
    by_id = {e.id: e for e in ents}
    counts = Counter(e.type for e in ents)
    log(f"catalog: {len(ents)} entities " + ", ".join(f"{t} {n}" for t, n in counts.most_common()))
    return Catalog(ents, by_id, counts)
