#!/usr/bin/env python3
"""Write the committed seed corpus (fuzz/seeds/<target>/): a few hand-made inputs per
target, in the layout its harness (crates/needle-fuzz/src/<target>.rs) reads. Run from
anywhere; it rewrites fuzz/seeds/ from scratch."""
import base64, hashlib, hmac, json, os, shutil, struct, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def js(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


shutil.rmtree(ROOT, ignore_errors=True)

# record: one JSON value.
put("record", "track", js({"id": "tr:1", "type": "track", "name": " Hello ", "popularity": 3.5,
    "artist_ids": ["ar:1"], "album_id": "al:1", "duration_ms": 295000, "release_date": "2015-10-23",
    "markets": ["gb", "US"], "explicit": False, "tags": ["pop", "soul"], "extra": {"isrc": "x", "n": [1, 2.5e-3]}}))
put("record", "delete", js({"id": "tr:1", "deleted": True}))
put("record", "episode", js({"id": "ep:1", "type": "episode", "name": "İstanbul ﬁve", "show_id": "sh:1",
    "description": "a talk", "transcript": "hello hello straße", "language": "TR", "release_date": "2024-02"}))
put("record", "audiobook", js({"id": "ab:1", "type": "audiobook", "name": "Pride and Prejudice",
    "authors": ["Jane Austen"], "narrators": ["Karen Savage"], "aliases": ["P&P"], "popularity": 1e308}))
put("record", "missing-name", js({"id": "ar:1", "type": "artist", "owner": "x"}))

# event: one JSON value, or a bare timestamp string when not JSON.
put("event", "play", js({"user_id": "u1", "type": "play", "item_id": "tr:1", "ts": "2024-05-01T12:00:00Z"}))
put("event", "full", js({"event_id": "e1", "user_id": "u1", "type": "search_click", "item_id": "tr:1",
    "ts": 1714564800000, "ms_played": 30000, "count": 13883, "context": "hello"}))
put("event", "offset-ts", js({"user_id": "u1", "type": "skip", "item_id": "t", "ts": "2024-02-29T23:59:60.123+05:30"}))
put("event", "bare-ts", "2999-12-31T23:59:59.999-00:01")
put("event", "bad-type", js({"user_id": "u1", "type": "listen", "item_id": "t", "ts": 1, "count": 4294967296}))

# query: a knobs byte (limit, offset, market, types, filter after a NUL), then q.
put("query", "plain", b"\x00hello")
put("query", "words", b"\x03beatles let it")
put("query", "filter", b"\x8aadele\x00tag:pop AND year:2015..2016, explicit:false")
put("query", "folding", "\x25İstanbul straß".encode())
put("query", "cjk", "\x40坂本 龍".encode())
put("query", "prefix-offset", "\x11mötley cr".encode())
put("query", "typo", b"\x00 hellp frm the othr")

# filter: the expression.
put("filter", "and", "tag:rock AND year:1990..1999, explicit:false")
put("filter", "alts", "type:track|album and market:se")
put("filter", "ranges", "year:>=1990,lang:en , release_year<2000")
put("filter", "unknown", "color:red")

# body: a knobs byte (content type, record limit), then the body.
rec = js({"id": "tr:1", "type": "track", "name": "Hello"})
put("body", "array", b"\x18" + ("[" + rec + "," + js({"id": "x", "deleted": True}) + "]").encode())
put("body", "ndjson", b"\x12" + (rec + "\n\nnot json\n" + rec + "\r\n").encode())
put("body", "bom-array", b"\x01\xef\xbb\xbf[1,2,3]")
put("body", "scalar", b"\x0842")
put("body", "unsupported", b"\x03[]")

# token: mode byte; even: a token to verify, odd: expiry (i64 LE, shifted) + listener id.
SECRET = b"fuzzing secret, not a real one"
NOW = 1_750_000_000_000


def sign(claims):
    body = "ndt1." + base64.urlsafe_b64encode(js(claims).encode()).decode().rstrip("=")
    tag = hmac.new(SECRET, body.encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(tag).decode().rstrip("=")


put("token", "valid", b"\x00" + sign({"sub": "u1", "exp": NOW + 60_000}).encode())
put("token", "expired", b"\x00" + sign({"sub": "u1", "exp": NOW}).encode())
put("token", "garbage", b"\x00ndt1.eyJzdWIiOiJ1In0.AAAA")
put("token", "sign", b"\x01" + struct.pack("<q", 3600_000 << 16) + "listener-ü".encode())
put("token", "sign-expired", b"\x07" + struct.pack("<q", -1 << 16) + b"u")


# frames: mode byte; bit 0 clear: raw file, set: [cut u16][len u16 payload]...; bit 1: write log.
def frame(p):
    return struct.pack("<II", len(p), zlib.crc32(p)) + p


def ev(user, item, ts):
    return js({"user_id": user, "type": "play", "item_id": item, "ts": ts, "count": 1}).encode()


events = frame(b"#" + struct.pack("<Q", 1) + ev("u", "a", 1) + b"\n" + ev("v", "b", 2) + b"\n") \
    + frame(b"E" + struct.pack("<Q", 2) + js({"op": "events", "events": [json.loads(ev("u", "c", 3))]}).encode()) \
    + frame(ev("w", "d", 4) + b"\n")
put("frames", "events", b"\x00" + events)
put("frames", "events-torn", b"\x00" + events + frame(b"#" + struct.pack("<Q", 3))[:-3])
wal = frame(struct.pack("<Q", 1) + js({"op": "erase_listener", "user_id": "a"}).encode() + b"\n"
            + js({"op": "activate_model", "version": 3}).encode() + b"\n") \
    + frame(struct.pack("<Q", 3) + js({"op": "catalog", "records": [{"delete": "tr:1"}]}).encode() + b"\n")
put("frames", "wal", b"\x02" + wal)
bad = bytearray(wal + wal)
bad[len(wal) + 12] ^= 0x40
put("frames", "wal-corrupt", b"\x02" + bytes(bad))


def spec(cut, payloads):
    out = struct.pack("<H", cut)
    for p in payloads:
        out += struct.pack("<H", len(p)) + p
    return out


put("frames", "built-events", b"\x01" + spec(0xFFFF, [b"#" + struct.pack("<Q", 7) + ev("u", "a", 1) + b"\n", b"#" + struct.pack("<Q", 8)]))
put("frames", "built-wal-cut", b"\x03" + spec(60, [struct.pack("<Q", 5) + js({"op": "erase_listener", "user_id": "z"}).encode()] * 2))
