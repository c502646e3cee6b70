#!/usr/bin/env python3
"""The Python `implicit` library on the SAME split files that Needle's runner writes.

    needle eval --data DIR --seeds 3 --write-split /tmp/needle-splits
    crates/needle-recs/py/.venv/bin/python crates/needle-recs/py/implicit_baseline.py \
        --splits /tmp/needle-splits --factors 128 --regularization 1.0 --alpha 10 --iterations 15 --threads 2

Split files: TSV `user item weight part` (part = train|valid|test). Protocol (as in Needle):
models are trained on `train`; validation ranks every item with training interactions
except the user's train items against `valid`; test ranks them except train + valid
against `test`. Metrics exactly as RecBole: Recall@k = hits/|test|, Precision@k = hits/k,
Hit@k = [hits > 0], NDCG@k = DCG/IDCG with IDCG over min(|test|, k) ranks; averaged over
users with at least one held-out item.

Confidence: `implicit` multiplies the matrix by `alpha` and uses the result as the
confidence c (c - 1 extra weight on observed items). `--confidence binary` gives it
t(r) = 1, `log:EPS` gives t(r) = log(1 + r/EPS); `--hkv` passes 1 + alpha*t(r) with
alpha = 1, which is exactly Needle's c = 1 + alpha*t(r).
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import scipy.sparse as sp


def read_split(path):
    users, items = {}, {}
    parts = {"train": ([], [], []), "valid": ([], [], []), "test": ([], [], [])}
    with open(path) as f:
        next(f)
        for line in f:
            u, i, w, p = line.rstrip("\n").split("\t")
            ui = users.setdefault(u, len(users))
            ii = items.setdefault(i, len(items))
            r, c, v = parts[p]
            r.append(ui)
            c.append(ii)
            v.append(float(w))
    shape = (len(users), len(items))
    mats = {p: sp.csr_matrix((np.array(v, dtype=np.float32), (np.array(r), np.array(c))), shape=shape)
            for p, (r, c, v) in parts.items()}
    return mats


def transform(m, conf):
    m = m.copy().astype(np.float32)
    if conf == "binary":
        m.data[:] = 1.0
    elif conf.startswith("log:"):
        eps = float(conf[4:])
        m.data = np.log1p(m.data / eps).astype(np.float32)
    elif conf != "linear":
        raise SystemExit(f"bad --confidence {conf}")
    return m


def rank_metrics(scores, exclude, truth, item_ok, k):
    """RecBole metrics for dense `scores` (users x items)."""
    scores = scores.astype(np.float64, copy=True)
    scores[:, ~item_ok] = -np.inf
    ex = exclude.tocoo()
    scores[ex.row, ex.col] = -np.inf
    users = np.where(np.diff(truth.indptr) > 0)[0]
    s = scores[users]
    top = np.argpartition(-s, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    rec = ndcg = hit = prec = 0.0
    recommended = set()
    for row, u in enumerate(users):
        pos = set(truth.indices[truth.indptr[u]:truth.indptr[u + 1]].tolist())
        hits = np.array([t in pos for t in top[row]])
        h = hits.sum()
        recommended.update(top[row].tolist())
        rec += h / len(pos)
        prec += h / k
        hit += 1.0 if h > 0 else 0.0
        ndcg += (disc * hits).sum() / disc[: min(len(pos), k)].sum()
    n = len(users)
    return {"users": n, "recall": rec / n, "ndcg": ndcg / n, "hit": hit / n, "precision": prec / n,
            "coverage": len(recommended) / int(item_ok.sum())}


def eval_both(score_fn, mats, k):
    train, valid, test = mats["train"], mats["valid"], mats["test"]
    item_ok = np.asarray((train > 0).sum(axis=0)).ravel() > 0
    scores = score_fn()
    v = rank_metrics(scores, train, valid, item_ok, k)
    t = rank_metrics(scores, train + valid, test, item_ok, k)
    return v, t


def run_als(mats, args, factors, reg, alpha, conf):
    from implicit.cpu.als import AlternatingLeastSquares
    x = transform(mats["train"], conf)
    if args.hkv:
        x.data = 1.0 + alpha * x.data
        a = 1.0
    else:
        a = alpha
    model = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=a, iterations=args.iterations,
                                    use_cg=True, num_threads=args.threads, random_state=args.seed,
                                    calculate_training_loss=False)
    t0 = time.perf_counter()
    model.fit(x, show_progress=False)
    secs = time.perf_counter() - t0
    v, t = eval_both(lambda: model.user_factors @ model.item_factors.T, mats, args.k)
    return secs, v, t


def run_knn(mats, args, K):
    from implicit.nearest_neighbours import CosineRecommender
    x = transform(mats["train"], "binary")
    model = CosineRecommender(K=K, num_threads=args.threads)
    t0 = time.perf_counter()
    model.fit(x, show_progress=False)
    secs = time.perf_counter() - t0
    v, t = eval_both(lambda: (x @ model.similarity).toarray(), mats, args.k)
    return secs, v, t


def fmt(vals):
    vals = np.array(vals)
    if len(vals) < 2:
        return f"{vals.mean():.4f}"
    return f"{vals.mean():.4f} ± {vals.std(ddof=1):.4f}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--splits", required=True, help="folder with split_seed*.tsv")
    p.add_argument("--factors", type=int, default=128)
    p.add_argument("--regularization", type=float, default=1.0)
    p.add_argument("--alpha", type=float, default=10.0)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--confidence", default="binary")
    p.add_argument("--hkv", action="store_true", help="pass c = 1 + alpha*t(r) with alpha=1 (Needle's convention)")
    p.add_argument("--knn-k", type=int, default=100)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--tune", action="store_true", help="grid-search ALS and kNN on the validation part of seed 0")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    files = sorted(glob.glob(os.path.join(args.splits, "split_seed*.tsv")))
    if not files:
        raise SystemExit(f"no split_seed*.tsv in {args.splits}")
    import implicit
    from threadpoolctl import threadpool_info
    print(f"implicit {implicit.__version__}; BLAS: "
          + ", ".join(f"{i.get('internal_api')} {i.get('version')} threads={i.get('num_threads')}" for i in threadpool_info()),
          file=sys.stderr)
    als_cfg = (args.factors, args.regularization, args.alpha, args.confidence)
    knn_k = args.knn_k
    if args.tune:
        mats = read_split(files[0])
        best = None
        for factors in [64, 128, 256]:
            for reg in [0.1, 1.0, 10.0, 50.0]:
                for alpha in [1.0, 5.0, 10.0, 20.0, 40.0]:
                    secs, v, _ = run_als(mats, args, factors, reg, alpha, args.confidence)
                    print(f"tune als f={factors} reg={reg} alpha={alpha}: valid ndcg {v['ndcg']:.4f} ({secs:.2f}s)", file=sys.stderr)
                    if best is None or v["ndcg"] > best[0]:
                        best = (v["ndcg"], (factors, reg, alpha, args.confidence))
        als_cfg = best[1]
        bestk = None
        for K in [50, 100, 200, 500, 1000]:
            _, v, _ = run_knn(mats, args, K)
            print(f"tune knn K={K}: valid ndcg {v['ndcg']:.4f}", file=sys.stderr)
            if bestk is None or v["ndcg"] > bestk[0]:
                bestk = (v["ndcg"], K)
        knn_k = bestk[1]
    results = {"als": [], "knn": [], "als_config": als_cfg, "knn_k": knn_k}
    for f in files:
        mats = read_split(f)
        secs, v, t = run_als(mats, args, *als_cfg)
        results["als"].append({"file": f, "train_seconds": secs, "valid": v, "test": t})
        print(f"{os.path.basename(f)} ALS: {secs:.2f}s test recall {t['recall']:.4f} ndcg {t['ndcg']:.4f}", file=sys.stderr)
        secs, v, t = run_knn(mats, args, knn_k)
        results["knn"].append({"file": f, "train_seconds": secs, "valid": v, "test": t})
    print(f"| model | Recall@{args.k} | NDCG@{args.k} | Hit@{args.k} | Precision@{args.k} | coverage | train s | seeds |")
    print("|---|---|---|---|---|---|---|---|")
    f_, r_, a_, c_ = als_cfg
    for name, rows in [(f"implicit ALS f={f_} λ={r_} α={a_} it={args.iterations} conf={c_}{' (hkv)' if args.hkv else ''}", results["als"]),
                       (f"implicit CosineRecommender K={knn_k}", results["knn"])]:
        g = lambda key: [r["test"][key] for r in rows]
        print(f"| {name} | {fmt(g('recall'))} | {fmt(g('ndcg'))} | {fmt(g('hit'))} | {fmt(g('precision'))} | "
              f"{fmt(g('coverage'))} | {fmt([r['train_seconds'] for r in rows])} | {len(rows)} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
