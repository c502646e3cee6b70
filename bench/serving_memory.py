#!/usr/bin/env python3
"""Serving memory of one `needle serve` on a data directory (issue #18, BENCHMARKS §9):
resident memory after start (model loaded), after a minute of searches, and after
recommendation calls, split into heap (RssAnon) and mapped pages (RssFile), with the peak
(VmHWM); and the data directory's size per part.

  bench/serving_memory.py --bin target/release/needle --data DIR --catalog catalog.jsonl.gz

DIR holds an imported catalog, events and a trained model (README "The real catalog").
Searches: `wrk -t2 -c16 -d<seconds>s` over 3,000 paths made from random catalog names
(whole names, their first half, their first two words), seed 18. Recommendations: 400
sequential calls (`for_you`, `discover`, `daily_mix`, `similar`) for listeners of the
events, with their p50 and p99 over HTTP (100 calls each: the p99 is the largest). The
server runs with its default configuration (plus --env) on a free port. Prints one JSON
object. Stdlib only (plus `wrk`).
"""

import argparse
import gzip
import json
import os
import random
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[k] = round(int(v.split()[0]) / 1024)
    return out


def du_mb(path):
    if os.path.isfile(path):
        return round(os.stat(path).st_blocks * 512 / 1e6)
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return round(total / 1e6)


def search_paths(catalog, n, rng):
    names = []
    with gzip.open(catalog, "rt") as f:
        for line in f:
            try:
                names.append(json.loads(line)["name"])
            except (ValueError, KeyError):
                pass
    paths = []
    for _ in range(n):
        name = rng.choice(names)
        words = name.split()
        form = rng.randrange(3)
        q = name if form == 0 else (name[: max(1, len(name) // 2)] if form == 1 else " ".join(words[:2]))
        paths.append("/v1/search?q=" + urllib.parse.quote(q) + "&limit=10")
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--catalog", required=True, help="the converted catalog (.jsonl.gz): search words")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    a = ap.parse_args()
    rng = random.Random(18)
    paths = search_paths(a.catalog, 3000, rng)
    lua = os.path.join(tempfile.gettempdir(), "needle_memory_paths.lua")
    with open(lua, "w") as f:
        f.write("local paths = {\n" + ",\n".join(json.dumps(p) for p in paths) + "}\nlocal i = 0\n"
                "request = function() i = i + 1\n return wrk.format(\"GET\", paths[(i % #paths) + 1]) end\n")
    port = free_port()
    env = dict(os.environ, **dict(kv.split("=", 1) for kv in a.env))
    out = {"data_dir_mb": {p: du_mb(os.path.join(a.data, p)) for p in sorted(os.listdir(a.data))}}
    out["data_dir_mb"]["total"] = du_mb(a.data)
    t0 = time.time()
    proc = subprocess.Popen([a.bin, "--data-dir", a.data, "serve", "--http-addr", f"127.0.0.1:{port}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while get(port, "/health/ready")[0] != 200:
            assert proc.poll() is None, "the server exited"
            time.sleep(0.2)
        out["ready_s"] = round(time.time() - t0, 2)
        users = []
        while True:
            code, body = get(port, "/v1/admin/model")
            if code == 200:
                break
            time.sleep(0.5)
        out["model_loaded_s"] = round(time.time() - t0, 2)
        time.sleep(2)
        out["after_start"] = memory(proc.pid)
        w = subprocess.run(["wrk", "-t2", "-c16", f"-d{a.seconds}s", "-s", lua, f"http://127.0.0.1:{port}"],
                           capture_output=True, text=True).stdout
        out["searches_per_s"] = next((round(float(l.split()[1])) for l in w.splitlines()
                                      if l.startswith("Requests/sec:")), None)
        out["after_searches"] = memory(proc.pid)
        users = [f"lfm:user:{u}" for u in rng.sample(range(2, 2100), 100)]
        codes, took = {}, {}

        def timed(name, path):
            t = time.perf_counter()
            c, _ = get(port, path)
            took.setdefault(name, []).append((time.perf_counter() - t) * 1000)
            codes[c] = codes.get(c, 0) + 1

        for u in users:
            for surface in ("for_you", "discover", "daily_mix"):
                timed(surface, f"/v1/users/{urllib.parse.quote(u)}/recommendations?surface={surface}&limit=20")
            artist = urllib.parse.quote("lfm:artist:" + str(rng.randrange(1, 18000)))
            timed("similar", f"/v1/items/{artist}/similar?limit=20")
        out["recommendation_codes"] = codes
        out["recommendation_ms_p50_p99"] = {
            k: [round(sorted(v)[len(v) // 2], 2), round(sorted(v)[min(len(v) - 1, int(len(v) * .99))], 2)]
            for k, v in took.items()}
        out["after_recommendations"] = memory(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
