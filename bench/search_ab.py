#!/usr/bin/env python3
"""Searches over HTTP, two builds (or data directories) side by side (BENCHMARKS §9.3):
each served in turn by `needle serve` on a free port, `wrk -t2 -c16 -d<seconds>s
--latency` over the 3,000 search paths of bench/serving_memory.py (seed 18), A, B, A, B;
prints searches/s, p50 and p99 and the server's memory after each run. No model needed.

  bench/search_ab.py --a BIN DIR --b BIN DIR --catalog catalog.jsonl.gz [--seconds 30]

Stdlib only (plus `wrk`).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serving_memory as sm  # noqa: E402  (the path maker, ports, HTTP and /proc readers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", nargs=2, metavar=("BIN", "DIR"), required=True)
    ap.add_argument("--b", nargs=2, metavar=("BIN", "DIR"), required=True)
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    paths = sm.search_paths(a.catalog, 3000, random.Random(18))
    lua = os.path.join(tempfile.gettempdir(), "needle_search_ab.lua")
    with open(lua, "w") as f:
        f.write("local paths = {\n" + ",\n".join(json.dumps(p) for p in paths) + "}\nlocal i = 0\n"
                "request = function() i = i + 1\n return wrk.format(\"GET\", paths[(i % #paths) + 1]) end\n")
    for label, (binary, data) in [("A", a.a), ("B", a.b)] * a.rounds:
        port = sm.free_port()
        proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--http-addr", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while sm.get(port, "/health/ready")[0] != 200:
                assert proc.poll() is None, "the server exited"
                time.sleep(0.2)
            out = subprocess.run(["wrk", "-t2", "-c16", f"-d{a.seconds}s", "--latency", "-s", lua,
                                  f"http://127.0.0.1:{port}"], capture_output=True, text=True).stdout
            rps = next((l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec:")), None)
            lat = {l.split()[0]: l.split()[1] for l in out.splitlines() if l.strip().startswith(("50%", "99%"))}
            print(json.dumps({"run": label, "searches_per_s": rps, "p50": lat.get("50%"), "p99": lat.get("99%"),
                              "memory_mb": sm.memory(proc.pid)}), flush=True)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
