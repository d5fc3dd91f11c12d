"""Which correction `summarize` uses: corrected shares per test document against the gold shares.

    python -m policytheme.eval.benchmarks.quantification --run /tmp/default-run [--boot 1000] [--speed 100000]

The run is one trained on the default data (``policytheme train --model tfidf-logreg --out /tmp/default-run``),
whose ``quantification.json`` holds its dev split's rates. Each test document of ``data/real.jsonl`` and
``data/genres.jsonl`` (never seen in training or tuning) is one group: its paragraphs are scored by the
model, and counting (cc), adjusted classify-and-count (acc) and probabilistic ACC (pacc) estimate each
theme's share (eval/quantify.py, the code `summarize` runs). Against the gold share of the document: mean
absolute error (per theme and over all), and the share of 95% intervals that hold the gold share. The
pooled test split (one group per file) is shown too.

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
    scores = model.predict_proba([ex.text for ex in rows])
    gold = to_matrix(rows, model.labels).astype(float)
    n = np.bincount(codes, minlength=len(docs))
    gold_share = np.stack([np.bincount(codes, gold[:, j], minlength=len(docs)) for j in range(gold.shape[1])], 1)
    return {
        "docs": docs,
        "codes": codes,
        "scores": scores,
        "decided": model.decide(scores).astype(bool),
        "gold": gold_share / n[:, None],
        "pooled_gold": gold.mean(0),
        "texts": [ex.text for ex in rows],
        "n": n,
    }


def score(d: dict, rates, method: str, n_boot: int) -> dict:
    s = estimate(d["codes"], len(d["docs"]), d["decided"], d["scores"], rates, method, n_boot=n_boot)
    err = np.abs(s.share - d["gold"])
    covered = (s.low <= d["gold"] + 1e-9) & (d["gold"] <= s.high + 1e-9)
    has = ~np.isnan(s.low)
    pooled = estimate(np.zeros(len(d["codes"]), dtype=np.int64), 1, d["decided"], d["scores"], rates, method, n_boot)
    return {
        "mae": float(np.nanmean(err)),
        "mae_theme": np.nanmean(err, 0).round(4).tolist(),
        "coverage": float(covered[has].mean()),
        "coverage_theme": [round(float(covered[has[:, j], j].mean()), 3) for j in range(covered.shape[1])],
        "width_theme": np.nanmean(s.high - s.low, 0).round(3).tolist(),
        "intervals": int(has.sum()),
        "width": float(np.nanmean(s.high - s.low)),
        "pooled": pooled.share[0].round(4).tolist(),
        "pooled_low": pooled.low[0].round(4).tolist(),
        "pooled_high": pooled.high[0].round(4).tolist(),
    }


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
    figures: dict = {"labels": model.labels, "files": {}}
    data = {name: test_documents(path, model) for name, path in FILES.items()}
    print(f"themes: {', '.join(model.labels)}; dev paragraphs: {len(rates.gold)}")
    for name, d in data.items():
        print(
            f"\n{name} test: {len(d['docs'])} documents, {len(d['codes'])} paragraphs; pooled gold "
            + ", ".join(f"{x:.3f}" for x in d["pooled_gold"])
        )
        print(f"{'method':7} {'MAE':>6}  {'MAE per theme':24} coverage (per theme) width per theme  pooled share [95%]")
        figures["files"][name] = {"documents": len(d["docs"]), "paragraphs": len(d["codes"]), "methods": {}}
        figures["files"][name]["pooled_gold"] = d["pooled_gold"].round(4).tolist()
        for method in METHODS[::-1]:
            r = score(d, rates, method, args.boot)
            figures["files"][name]["methods"][method] = r
            pooled = ", ".join(
                f"{s:.3f} [{lo:.3f}, {hi:.3f}]" for s, lo, hi in zip(r["pooled"], r["pooled_low"], r["pooled_high"])
            )
            per = " ".join(f"{x:.3f}" for x in r["mae_theme"])
            cov = " ".join(f"{x:.2f}" for x in r["coverage_theme"])
            wid = " ".join(f"{x:.2f}" for x in r["width_theme"])
            print(f"{method:7} {r['mae']:6.3f}  {per:24} {r['coverage']:5.3f} ({cov}) {wid}  {pooled}")
    both = {m: np.mean([figures["files"][f]["methods"][m]["mae"] for f in FILES]) for m in METHODS}
    print("\nmean over both files: " + ", ".join(f"{m} MAE {v:.3f}" for m, v in both.items()))
    if args.speed:
        figures["speed"] = speed(args.run, data["real"], model.labels, args.speed)
        print(f"\nsummarize on {args.speed:,} paragraphs (wall seconds, whole command): {figures['speed']}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
