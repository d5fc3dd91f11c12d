"""Which correction `summarize` uses: corrected shares per document against the gold shares.

    python -m policytheme.eval.benchmarks.quantification --run /tmp/default-run [--boot 1000] [--speed 100000]

The run is one trained on the default data (``policytheme train --model tfidf-logreg --out /tmp/default-run``,
cross-fitted), whose ``quantification.json`` holds the out-of-fold scores and decisions of the paragraphs
that tuned it, with their documents (version 2). Two validations, each document one group, counting (cc),
probabilistic classify-and-count with calibrated scores (pcc), adjusted classify-and-count (acc) and
probabilistic ACC (pacc) side by side (eval/quantify.py, the code `summarize` runs):

1. the cross-fitted documents, leave one document out: each document's out-of-fold decisions and scores
   corrected with the rates, calibration and overdispersion of the other documents' paragraphs alone;
2. the test documents of ``data/real.jsonl`` and ``data/genres.jsonl`` (never trained or tuned on), scored
   by the run's model and decided as `label` decides (each script's thresholds), corrected with all of
   ``quantification.json``.

Against the gold share of each document: mean absolute error (per theme and over all), and the share of
95% intervals that hold the gold share.

``--speed N`` then times the command a user runs, ``policytheme summarize`` on an N-paragraph labeled file
(the test paragraphs with their scores, repeated over 1,000 documents with a year in their file names),
grouped by doc_id and by year, and to html.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from policytheme.data.records import GENRES_PATH, REAL_PATH, read_examples, to_matrix
from policytheme.eval.quantify import METHODS, estimate
from policytheme.eval.summarize import find_rates
from policytheme.models import load_model

FILES = {"real": REAL_PATH, "genres": GENRES_PATH}


def test_documents(path: Path, model) -> dict:
    rows = [ex for ex in read_examples(path, model.labels) if ex.extra.get("split") == "test"]
    docs = sorted({ex.doc_id for ex in rows})
    codes = np.array([docs.index(ex.doc_id) for ex in rows])
    texts = [ex.text for ex in rows]
    scores = model.predict_proba(texts)
    gold = to_matrix(rows, model.labels).astype(float)
    n = np.bincount(codes, minlength=len(docs))
    gold_share = np.stack([np.bincount(codes, gold[:, j], minlength=len(docs)) for j in range(gold.shape[1])], 1)
    return {
        "docs": docs,
        "codes": codes,
        "scores": scores,
        "decided": model.decide(scores, texts).astype(bool),
        "gold": gold_share / n[:, None],
        "texts": texts,
        "n": n,
    }


def figures(share: np.ndarray, low: np.ndarray, high: np.ndarray, gold: np.ndarray) -> dict:
    """MAE and interval coverage of documents x themes estimates against their gold shares."""
    err = np.abs(share - gold)
    covered = (low <= gold + 1e-9) & (gold <= high + 1e-9)
    has = ~np.isnan(low)
    return {
        "mae": float(np.nanmean(err)),
        "mae_theme": np.nanmean(err, 0).round(4).tolist(),
        "coverage": float(covered[has].mean()),
        "coverage_theme": [round(float(covered[has[:, j], j].mean()), 3) for j in range(covered.shape[1])],
        "intervals": int(has.sum()),
        "width_theme": np.nanmean(high - low, 0).round(3).tolist(),
    }


def test_figures(d: dict, rates, method: str, n_boot: int) -> tuple[dict, tuple]:
    s = estimate(d["codes"], len(d["docs"]), d["decided"], d["scores"], rates, method, n_boot=n_boot)
    return figures(s.share, s.low, s.high, d["gold"]), (s.share, s.low, s.high, d["gold"])


def held_out_figures(rates, method: str, n_boot: int) -> dict:
    """Leave one cross-fitted document out: its out-of-fold rows corrected with the other documents' alone."""
    out = []
    for d in np.unique(rates.doc):
        rows = rates.doc == d
        s = estimate(
            np.zeros(int(rows.sum()), dtype=np.int64), 1, rates.decided[rows], rates.scores[rows],
            rates.subset(~rows), method, n_boot=n_boot,
        )  # fmt: skip
        out.append((s.share[0], s.low[0], s.high[0], rates.gold[rows].mean(0)))
    return {"documents": len(out), **figures(*(np.array(x) for x in zip(*out)))}


def show(label: str, r: dict) -> None:
    per = " ".join(f"{x:.3f}" for x in r["mae_theme"])
    cov = " ".join(f"{x:.2f}" for x in r["coverage_theme"])
    wid = " ".join(f"{x:.2f}" for x in r["width_theme"])
    print(f"{label:7} {r['mae']:6.3f}  {per:20} {r['coverage']:5.3f} ({cov})  {wid}")


HEADER = f"{'method':7} {'MAE':>6}  {'MAE per theme':20} coverage (per theme)  width per theme"


def speed(run: Path, d: dict, labels: list[str], n: int) -> dict:
    """Wall seconds of `policytheme summarize` on an n-paragraph labeled file, three ways."""
    work = Path(tempfile.mkdtemp(prefix="policytheme-quant-"))
    path = work / "labeled.jsonl"
    m = len(d["texts"])
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            k, doc = i % m, i * 1000 // n
            row = {
                "doc_id": f"doc{doc:04d}",
                "paragraph": i,
                "source": f"reports/report-{2000 + doc % 26}-{doc:04d}.txt",
                "start": 0,
                "end": len(d["texts"][k]),
                "text": d["texts"][k],
                "labels": [t for t, on in zip(labels, d["decided"][k]) if on],
                "scores": {t: round(float(s), 6) for t, s in zip(labels, d["scores"][k])},
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    manifest = {"model": {"path": str(run / "model")}, "paragraphs": n, "complete": True}
    path.with_name(path.name + ".manifest.json").write_text(json.dumps(manifest))
    out = {"paragraphs": n, "megabytes": round(path.stat().st_size / 1e6, 1)}
    for name, args in {
        "by doc_id, csv": ["--by", "doc_id", "--out", work / "s.csv"],
        "by year, csv": ["--by", "year", "--out", work / "y.csv"],
        "by year, html": ["--by", "year", "--out", work / "y.html"],
    }.items():
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "policytheme.cli", "summarize", str(path), *map(str, args)]
        subprocess.run(cmd, check=True, capture_output=True)
        out[name] = round(time.perf_counter() - started, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a run folder trained on the default data")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--speed", type=int, default=0, help="also time summarize on a labeled file of this many rows")
    ap.add_argument("--out", type=Path, help="write the figures as JSON")
    args = ap.parse_args(argv)
    model = load_model(args.run)
    rates = find_rates(args.run, model.labels)
    if rates.doc is None:
        raise SystemExit(f"{args.run}: its quantification.json names no documents (version 1): train it again")
    out: dict = {"labels": model.labels, "held_out": {}, "files": {}}
    print(f"themes: {', '.join(model.labels)}; tuning paragraphs: {len(rates.gold)} of {len(rates.docs)} documents")
    print(f"\ncross-fitted documents, each left out: {len(rates.docs)} documents, {len(rates.gold)} paragraphs")
    print(HEADER)
    for method in METHODS[::-1]:
        out["held_out"][method] = r = held_out_figures(rates, method, args.boot)
        show(method, r)
    data = {name: test_documents(path, model) for name, path in FILES.items()}
    pooled: dict = {m: [] for m in METHODS}
    for name, d in data.items():
        print(f"\n{name} test: {len(d['docs'])} documents, {len(d['codes'])} paragraphs")
        print(HEADER)
        out["files"][name] = {"documents": len(d["docs"]), "paragraphs": len(d["codes"]), "methods": {}}
        for method in METHODS[::-1]:
            r, arrays = test_figures(d, rates, method, args.boot)
            out["files"][name]["methods"][method] = r
            pooled[method].append(arrays)
            show(method, r)
    print(f"\nall {sum(len(d['docs']) for d in data.values())} test documents")
    print(HEADER)
    out["test"] = {}
    for method in METHODS[::-1]:
        out["test"][method] = r = figures(*(np.concatenate(x) for x in zip(*pooled[method])))
        show(method, r)
    if args.speed:
        out["speed"] = speed(args.run, data["real"], model.labels, args.speed)
        print(f"\nsummarize on {args.speed:,} paragraphs (wall seconds, whole command): {out['speed']}")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
