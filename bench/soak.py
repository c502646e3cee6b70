#!/usr/bin/env python3
"""Memory soak (issue #18): a `needle serve` under a steady mixed load for a long time,
its resident memory sampled every 10 s, to show whether it plateaus.

Load (each stream paced by its own thread, sequential requests):
  * searches at --qps (names, prefixes and one-typo variants of catalog entities);
  * catalog upserts: a trickle (--writes-per-s records, 10 per batch), new and updated ids;
  * listening events: --events-per-s (batches of 20) for the known listeners;
  * recommendations: --recs-per-s calls of `for_you`/`discover` for known listeners;
  * one training job (`POST /v1/admin/train`) at a fifth of the run.

Writes `<out>.csv` (t_s, rss_mib, anon_mib, file_mib, hwm_mib, requests, errors; anon is
the heap, file the mapped index and store pages the kernel may drop) and `<out>.svg`.

  bench/soak.py --bin target/release/needle --data DIR --catalog catalog.jsonl.gz \\
      --minutes 30 --out bench/results/soak

DIR must hold an imported catalog (and events, for recommendations); the server runs on it
with its default configuration. Stdlib only.
"""

import argparse
import gzip
import json
import os
import random
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def call(port, method, path, body=None, ctype="application/x-ndjson"):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code
    except OSError:
        return 0


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def queries(catalog, n, rng):
    names = []
    opener = gzip.open if catalog.endswith(".gz") else open
    with opener(catalog, "rt") as f:
        for i, line in enumerate(f):
            if i % 97 == 0:
                name = json.loads(line).get("name", "")
                if 2 < len(name) < 60:
                    names.append(name)
    rng.shuffle(names)
    out = []
    for name in names[:n]:
        kind = rng.random()
        if kind < 0.5:
            out.append(name)
        elif kind < 0.75:
            out.append(name[: max(3, len(name) // 2)])
        else:
            i = rng.randrange(len(name))
            out.append(name[:i] + name[i + 1 :])
    return out


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors = 0

    def add(self, status):
        with self.lock:
            self.requests += 1
            if status >= 500 or status == 0:
                self.errors += 1


def paced(rate, stop, fn):
    if rate <= 0:
        return
    period = 1.0 / rate
    nxt = time.monotonic()
    while not stop.is_set():
        fn()
        nxt += period
        delay = nxt - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            nxt = time.monotonic()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/needle")
    ap.add_argument("--data", required=True)
    ap.add_argument("--catalog", required=True, help="the imported catalog file (queries are drawn from it)")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--qps", type=float, default=100)
    ap.add_argument("--writes-per-s", type=float, default=10)
    ap.add_argument("--events-per-s", type=float, default=40)
    ap.add_argument("--recs-per-s", type=float, default=5)
    ap.add_argument("--users", default="lfm:user:2,lfm:user:3,lfm:user:4,lfm:user:5,lfm:user:6,lfm:user:7")
    ap.add_argument("--out", default="bench/results/soak")
    args = ap.parse_args()
    rng = random.Random(18)
    qs = queries(args.catalog, 5000, rng)
    users = args.users.split(",")
    port = free_port()
    log = open(args.out + ".server.log", "wb")
    proc = subprocess.Popen([args.bin, "serve", "--data-dir", args.data, "--http-addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "NEEDLE_LOG": "warn"})
    while call(port, "GET", "/health/ready") != 200:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start")
        time.sleep(0.2)
    c = Counter()
    stop = threading.Event()
    state = {"w": 0, "e": 0}

    def search():
        q = rng.choice(qs)
        c.add(call(port, "GET", "/v1/search?" + urllib.parse.urlencode({"q": q, "limit": 10})))

    def write():
        k = state["w"] = state["w"] + 1
        body = "\n".join(json.dumps({"id": f"soak:tr:{(k * 10 + j) % 20000}", "type": "track",
                                      "name": f"Soak track {k} {j}", "popularity": rng.random()}) for j in range(10))
        c.add(call(port, "POST", "/v1/catalog", body))

    def events():
        k = state["e"] = state["e"] + 1
        user = rng.choice(users)
        body = "\n".join(json.dumps({"user_id": user, "type": "play", "item_id": f"soak:tr:{rng.randrange(20000)}",
                                      "ts": int(time.time() * 1000), "event_id": f"soak-{k}-{j}"}) for j in range(20))
        c.add(call(port, "POST", "/v1/events", body))

    def recs():
        user = urllib.parse.quote(rng.choice(users), safe="")
        surface = rng.choice(["for_you", "discover"])
        c.add(call(port, "GET", f"/v1/users/{user}/recommendations?surface={surface}&limit=20"))

    streams = [(args.qps, search), (args.writes_per_s / 10, write), (args.events_per_s / 20, events),
               (args.recs_per_s, recs)]
    threads = [threading.Thread(target=paced, args=(r, stop, f), daemon=True) for r, f in streams]
    for t in threads:
        t.start()
    total = args.minutes * 60
    samples = []
    t0 = time.monotonic()
    trained = False
    with open(args.out + ".csv", "w") as csv:
        csv.write("t_s,rss_mib,anon_mib,file_mib,hwm_mib,requests,errors\n")
        while (t := time.monotonic() - t0) < total:
            if not trained and t > total / 5:
                c.add(call(port, "POST", "/v1/admin/train", "", ctype="application/json"))
                trained = True
            rss = status_kib(proc.pid, "VmRSS:") / 1024
            hwm = status_kib(proc.pid, "VmHWM:") / 1024
            anon = status_kib(proc.pid, "RssAnon:") / 1024
            file = status_kib(proc.pid, "RssFile:") / 1024
            samples.append((t, rss))
            csv.write(f"{t:.0f},{rss:.1f},{anon:.1f},{file:.1f},{hwm:.1f},{c.requests},{c.errors}\n")
            csv.flush()
            print(f"t={t:6.0f}s rss={rss:7.1f} MiB (anon {anon:.0f}, file {file:.0f}) hwm={hwm:7.1f} MiB "
                  f"requests={c.requests} errors={c.errors}", flush=True)
            time.sleep(10)
    stop.set()
    proc.terminate()
    proc.wait()
    svg(samples, args.out + ".svg", f"needle serve RSS, {args.minutes:g} min soak ({args.qps:g} searches/s + writes, events, recs, one training)")


def svg(samples, path, title):
    w, h, pad = 800, 360, 50
    tmax = max(t for t, _ in samples) or 1
    ymax = max(r for _, r in samples) * 1.1 or 1
    pts = " ".join(f"{pad + (w - 2 * pad) * t / tmax:.1f},{h - pad - (h - 2 * pad) * r / ymax:.1f}" for t, r in samples)
    ticks = ""
    for i in range(6):
        y = ymax * i / 5
        yy = h - pad - (h - 2 * pad) * i / 5
        ticks += f'<line x1="{pad}" y1="{yy:.1f}" x2="{w - pad}" y2="{yy:.1f}" stroke="#ddd"/><text x="{pad - 5}" y="{yy + 4:.1f}" text-anchor="end" font-size="11">{y:.0f}</text>'
        x = pad + (w - 2 * pad) * i / 5
        ticks += f'<text x="{x:.1f}" y="{h - pad + 16}" text-anchor="middle" font-size="11">{tmax * i / 5 / 60:.0f} min</text>'
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
                f'<rect width="100%" height="100%" fill="white"/>{ticks}'
                f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="13">{title}</text>'
                f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" text-anchor="middle" font-size="11">RSS, MiB</text>'
                f'<polyline fill="none" stroke="#c0392b" stroke-width="2" points="{pts}"/></svg>')


if __name__ == "__main__":
    main()
