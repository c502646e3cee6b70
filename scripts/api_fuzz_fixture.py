"""A small, varied catalog and listening history for scripts/api-fuzz (made here, not
read from ../shared): every entity type, links between them, and plays by a few
listeners, so that search, reads, recommendations and sessions have something to answer.

Usage: python3 scripts/api_fuzz_fixture.py OUT_DIR  (writes catalog.jsonl, events.jsonl)
"""

import json
import random
import sys
from pathlib import Path

WORDS = "river night blue echo summer paper ghost silver city dream fire ocean wild heart road".split()


def name(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS).title() for _ in range(n))


def main(out: Path) -> None:
    rng = random.Random(18)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for a in range(12):
        records.append({"id": f"ar:{a}", "type": "artist", "name": name(rng, 2), "tags": ["rock", "indie"][: 1 + a % 2], "popularity": rng.random()})
        records.append({"id": f"al:{a}", "type": "album", "name": name(rng, 3), "artist_ids": [f"ar:{a}"], "release_date": f"20{10 + a}-0{1 + a % 9}-1{a % 9}"})
        for t in range(6):
            records.append({
                "id": f"tr:{a}-{t}", "type": "track", "name": name(rng, 3), "artist_ids": [f"ar:{a}"],
                "album_id": f"al:{a}", "duration_ms": 120_000 + 1000 * t, "explicit": t == 3,
                "markets": ["US", "DE"] if t % 2 else None, "language": "en",
            })
    records.append({"id": "pl:0", "type": "playlist", "name": "Morning Mix", "owner": "editors", "track_ids": [f"tr:{a}-0" for a in range(12)]})
    for s in range(4):
        records.append({"id": f"sh:{s}", "type": "show", "name": f"{name(rng, 2)} Podcast", "publisher": "Fixture Media", "description": "Talk about " + name(rng, 4), "language": "en"})
        for e in range(5):
            records.append({"id": f"ep:{s}-{e}", "type": "episode", "name": name(rng, 4), "show_id": f"sh:{s}", "release_date": f"2026-0{1 + e}-01", "transcript": "welcome to the show " + name(rng, 8)})
    for b in range(3):
        records.append({"id": f"ab:{b}", "type": "audiobook", "name": name(rng, 3), "authors": ["A. Writer"], "narrators": ["N. Reader"]})
        for c in range(3):
            records.append({"id": f"ch:{b}-{c}", "type": "chapter", "name": f"Chapter {c + 1}", "audiobook_id": f"ab:{b}"})
    (out / "catalog.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in records))
    tracks = [r["id"] for r in records if r["type"] == "track"]
    events = []
    for u in range(8):
        for i in range(40):
            events.append({
                "user_id": f"u{u}", "type": "play", "item_id": rng.choice(tracks[u * 8 : u * 8 + 24]),
                "ts": 1_764_000_000_000 + 60_000 * (u * 100 + i), "event_id": f"e{u}-{i}",
            })
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
