#!/usr/bin/env python3
"""End-to-end check of bench/semantic_eval.py against a fake Needle (http.server).

    python3 bench/semantic_eval_test.py
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
import tempfile
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import semantic_eval as se  # noqa: E402

CATALOG = {
    "apple:show:1": {"id": "apple:show:1", "type": "show", "name": "Jazz Talk",
                     "publisher": "Radio X", "tags": ["Music"],
                     "description": "Conversations with jazz musicians. " * 30},
    "apple:show:2": {"id": "apple:show:2", "type": "show", "name": "Sports Hour",
                     "publisher": "Y", "tags": ["Sports"], "description": "Football."},
    "apple:show:3": {"id": "apple:show:3", "type": "show", "name": "Music Chats",
                     "tags": ["Music"], "description": "Interviews with musicians."},
    "lv:book:10": {"id": "lv:book:10", "type": "audiobook", "name": "Treasure Island",
                   "authors": ["R. L. Stevenson"], "tags": ["Action & Adventure Fiction"],
                   "description": "Pirates and a sea voyage."},
    "lv:book:11": {"id": "lv:book:11", "type": "audiobook", "name": "Emma",
                   "authors": ["Jane Austen"], "tags": ["Romance"], "description": "Matchmaking."},
    "cl:show:gotime": {"id": "cl:show:gotime", "type": "show", "name": "Go Time"},
    "cl:ep:gotime:200": {"id": "cl:ep:gotime:200", "type": "episode", "name": "Go Time #200",
                         "show_id": "cl:show:gotime",
                         "transcript": "Welcome to Go Time. " * 20 + "Today generics in Go, generics at last."},
}
RESULTS = {  # query -> keyword order; semantic is the reverse, hybrid drops the last
    "interviews with jazz musicians": ["apple:show:1", "apple:show:2", "apple:show:3"],
    "sea adventure novels": ["lv:book:11", "lv:book:10"],
    "generics coming to go": ["cl:ep:gotime:200"],
}


class Fake(BaseHTTPRequestHandler):
    reject_mode = False
    seen: list = []

    def log_message(self, *a):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        qs = dict(urllib.parse.parse_qsl(u.query))
        Fake.seen.append((u.path, qs, self.headers.get("authorization")))
        if u.path == "/v1/search":
            mode = qs.get("mode")
            if mode and Fake.reject_mode:
                return self._send(400, {"error": {"code": "invalid_param", "message": "unknown parameter `mode`"}})
            ids = list(RESULTS.get(qs.get("q", ""), []))
            if mode == "semantic":
                ids.reverse()
            elif mode == "hybrid":
                ids = ids[:-1] or ids
            types = set(qs.get("types", "").split(",")) - {""}
            hits = [{"id": i, "type": CATALOG[i]["type"], "name": CATALOG[i]["name"]}
                    for i in ids if not types or CATALOG[i]["type"] in types]
            hits = hits + [dict(hits[0])] if hits else hits  # a duplicate id must be dropped
            return self._send(200, {"hits": hits[: int(qs.get("limit", 10))]})
        if u.path.startswith("/v1/catalog/"):
            eid = urllib.parse.unquote(u.path[len("/v1/catalog/"):])
            if eid in CATALOG:
                return self._send(200, CATALOG[eid])
            return self._send(404, {"error": {"code": "entity_not_found"}})
        self._send(404, {})


QUERIES = (
    "qid\tsplit\ttarget_types\tquery\tcriterion\n"
    "S01\ttest\tshow\tinterviews with jazz musicians\tJazz interviews (2); music interviews (1).\n"
    "A01\ttest\taudiobook\tsea adventure novels\tSea adventure (2).\n"
    "E01\tdev\tepisode\tgenerics coming to go\tGo generics (2).\n"
)


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = se.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.srv.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        Fake.reject_mode = False
        Fake.seen = []
        self.dir = tempfile.mkdtemp()
        self.q = os.path.join(self.dir, "queries.tsv")
        self.pool = os.path.join(self.dir, "pool.jsonl")
        self.qrels = os.path.join(self.dir, "qrels.tsv")
        write(self.q, QUERIES)

    def test_pool_judge_score(self):
        rc, _, err = run("pool", "--server", self.url, "--queries", self.q, "--qrels", self.qrels,
                         "--modes", "keyword,semantic,hybrid", "--depth", "20", "--out", self.pool,
                         "--api-key", "k1")
        self.assertEqual(rc, 0, err)
        self.assertTrue(all(a == "Bearer k1" for _, _, a in Fake.seen))
        recs = [json.loads(l) for l in read(self.pool).splitlines()]
        self.assertEqual(len(recs), 6)  # 3 + 2 + 1 distinct (qid, id)
        r = {x["id"]: x for x in recs}
        self.assertEqual(r["apple:show:1"]["ranks"], {"keyword": 1, "semantic": 3, "hybrid": 1})
        self.assertEqual(r["apple:show:3"]["ranks"], {"keyword": 3, "semantic": 1})
        self.assertEqual(len(r["apple:show:1"]["description"]), se.DESC_CHARS)
        self.assertEqual(r["cl:ep:gotime:200"]["container"], "Go Time")
        self.assertTrue(any("generics" in s for s in r["cl:ep:gotime:200"]["transcript_snippets"]))
        self.assertEqual(r["lv:book:10"]["authors"], ["R. L. Stevenson"])
        self.assertTrue(all(x["status"] == "todo" for x in recs))

        # judge some, the sheet lists only the rest
        write(self.qrels, 
            "qid\tid\tgrade\tnote\n"
            "S01\tapple:show:1\t2\tjazz interviews\n"
            "S01\tapple:show:2\t0\tsports\n"
            "S01\tapple:show:3\t1\tmusic interviews\n"
            "A01\tlv:book:10\t2\tpirates at sea\n")
        rc, out, _ = run("judge-sheet", "--pool", self.pool, "--qrels", self.qrels)
        self.assertEqual(rc, 0)
        self.assertIn("## A01", out)
        self.assertIn("lv:book:11", out)
        self.assertNotIn("apple:show:1 |", out)
        self.assertIn("criterion: Sea adventure (2).", out)
        rc, out, _ = run("judge-sheet", "--pool", self.pool, "--qrels", self.qrels, "--blind")
        self.assertIn("lv:book:11", out)
        self.assertNotIn("keyword@", out)
        rc, out, _ = run("judge-sheet", "--pool", self.pool, "--qrels", self.qrels, "--template")
        self.assertEqual(sorted(out.split()), sorted(["A01", "lv:book:11", "E01", "cl:ep:gotime:200"]))

        # re-pooling keeps judged pairs and marks them
        rc, _, _ = run("pool", "--server", self.url, "--queries", self.q, "--qrels", self.qrels,
                       "--modes", "keyword", "--out", self.pool)
        recs = {x["id"]: x for x in map(json.loads, read(self.pool).splitlines())}
        self.assertEqual(recs["apple:show:1"]["grade"], 2)
        self.assertEqual(recs["apple:show:1"]["status"], "judged")
        self.assertEqual(recs["apple:show:3"]["ranks"]["semantic"], 1)

        out_json = os.path.join(self.dir, "score.json")
        rc, out, err = run("score", "--server", self.url, "--queries", self.q, "--qrels", self.qrels,
                           "--split", "test", "--modes", "keyword,semantic,hybrid", "--out", out_json)
        self.assertEqual(rc, 0, err)
        self.assertIn("| keyword |", out)
        s = json.loads(read(out_json))
        pq = s["per_query"]
        # S01 keyword: grades [2,0,1]; ideal [2,1,0]
        dcg = 2 + 0 + 1 / math.log2(4)
        idcg = 2 + 1 / math.log2(3)
        self.assertAlmostEqual(pq["keyword"]["S01"]["ndcg@10"], dcg / idcg)
        self.assertAlmostEqual(pq["semantic"]["S01"]["mrr@10"], 1 / 3)
        self.assertAlmostEqual(pq["keyword"]["S01"]["p@10"], 0.2)
        self.assertAlmostEqual(pq["hybrid"]["S01"]["recall@20"], 0.5)
        # A01 keyword: Emma (unjudged -> non-relevant, judged@10 = 1/2) then Treasure Island
        self.assertAlmostEqual(pq["keyword"]["A01"]["judged@10"], 0.5)
        self.assertAlmostEqual(pq["keyword"]["A01"]["ndcg@10"], (2 / math.log2(3)) / 2)
        self.assertEqual(s["queries"], 2)  # E01 is dev
        self.assertEqual(s["modes"]["keyword"]["show"]["n"], 1)
        self.assertIsNotNone(s["modes"]["hybrid"]["latency_ms"]["p99"])
        a = s["modes"]["keyword"]["all"]["ndcg@10"]
        vals = [pq["keyword"]["S01"]["ndcg@10"], pq["keyword"]["A01"]["ndcg@10"]]
        self.assertAlmostEqual(a["mean"], sum(vals) / 2)
        self.assertAlmostEqual(a["se"], abs(vals[0] - vals[1]) / 2 / math.sqrt(2) * math.sqrt(2))

    def test_mode_rejected_is_warned_and_dropped(self):
        Fake.reject_mode = True
        rc, out, err = run("score", "--server", self.url, "--queries", self.q, "--qrels", self.qrels,
                           "--split", "all", "--modes", "keyword,semantic")
        self.assertEqual(rc, 0, err)
        self.assertIn("rejects mode", err)
        self.assertIn("identical rankings", err)

    def test_unreachable_server_is_a_clear_error(self):
        rc, _, err = run("score", "--server", "http://127.0.0.1:9", "--queries", self.q,
                         "--qrels", self.qrels, "--timeout", "1", "--warmup", "0")
        self.assertEqual(rc, 2)
        self.assertIn("error: GET http://127.0.0.1:9/v1/search", err)

    def test_repo_queries_file_is_valid(self):
        qs = se.load_queries(se.DEFAULT_QUERIES)
        self.assertGreaterEqual(len(qs), 100)
        self.assertEqual(len({q["qid"] for q in qs}), len(qs))
        for kind in ("show", "audiobook", "episode"):
            dev = sum(q["kind"] == kind and q["split"] == "dev" for q in qs)
            test = sum(q["kind"] == kind and q["split"] == "test" for q in qs)
            self.assertLessEqual(abs(dev - test), 1, kind)


if __name__ == "__main__":
    unittest.main()
