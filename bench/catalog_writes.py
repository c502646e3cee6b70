#!/usr/bin/env python3
"""Durable catalog writes over HTTP: POST /v1/catalog batches to a running Needle and report
records/s and per-batch acknowledgement latency (p50/p99). Standard library only.

    python3 bench/catalog_writes.py --url http://127.0.0.1:7790 --batches 200 --batch 500 --clients 2

Every batch upserts fresh synthetic tracks (ids unique per run and client); each answer is
checked (every record accepted), so a number is never reported for failed writes.
"""
import argparse
import json
import threading
import time
import urllib.request


def body(run, client, n, size):
    lines = []
    for i in range(size):
        k = (n * size + i)
        lines.append(json.dumps({
            "id": f"tr:bench-{run}-{client}-{k}",
            "type": "track",
            "name": f"Synthetic Song {k % 997} of Batch {n}",
            "artist_ids": [f"ar:bench-{k % 211}"],
            "popularity": k % 100,
        }))
    return ("\n".join(lines) + "\n").encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:7700")
    ap.add_argument("--batches", type=int, default=200, help="batches per client")
    ap.add_argument("--batch", type=int, default=500, help="records per batch")
    ap.add_argument("--clients", type=int, default=1)
    a = ap.parse_args()
    run = int(time.time() * 1000)
    latencies, errors = [], []
    lock = threading.Lock()

    def client(c):
        for n in range(a.batches):
            data = body(run, c, n, a.batch)
            req = urllib.request.Request(a.url + "/v1/catalog", data=data, method="POST",
                                         headers={"content-type": "application/x-ndjson"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as r:
                rep = json.loads(r.read())
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                if rep.get("accepted") != a.batch:
                    errors.append(rep)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} batches not fully accepted, e.g. {errors[0]}")
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    total = a.batches * a.batch * a.clients
    print(json.dumps({
        "records": total, "clients": a.clients, "batch": a.batch, "seconds": round(took, 2),
        "records_per_s": round(total / took), "ack_p50_ms": round(q(0.5), 1), "ack_p99_ms": round(q(0.99), 1),
    }))


if __name__ == "__main__":
    main()
