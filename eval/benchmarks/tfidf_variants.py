"""Which TF-IDF settings win on real paragraphs: 5-fold cross-validation on the real train and dev documents.

    python -m policytheme.eval.benchmarks.tfidf_variants [--folds 5] [--boot 1000] [--fits "w1,w1 clause-fit"]

The folds are those of ``policytheme cross-validate`` (whole documents of ``data/real.jsonl``'s train and
dev splits; within each fold's training documents a tenth tunes the thresholds; the written corpus always
trains; the real test split stays out). Each fit setting (weight of the real paragraphs, C, n-grams) is
fitted once per fold through ``TfidfModel.fit`` and scored three ways: each clause, clauses and the whole
paragraph, the whole paragraph only. Predictions of all folds are pooled (4,156 paragraphs), and each way is
compared with the old default (clauses, weight 1) on the mean F1 of industrial upgrading and innovation by
a paired bootstrap over documents; price competition's F1 is shown but rests on a handful of paragraphs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from policytheme.data.records import label_ids, to_matrix
from policytheme.data.splits import added_training, cv_folds, lead_mask, read_sources
from policytheme.eval.metrics import f1_per_label
from policytheme.models import make_model
from policytheme.models.thresholds import tune_thresholds

DATA = ["data/real.jsonl", "data/corpus.jsonl"]
FITS = {  # name: model parameters that change how it is fitted
    "w1": {"lead_weight": 1.0},
    "w2": {"lead_weight": 2.0},
    "w4": {"lead_weight": 4.0},
    "w8": {"lead_weight": 8.0},
    "w1 C2": {"lead_weight": 1.0, "C": 2.0},
    "w1 C8": {"lead_weight": 1.0, "C": 8.0},
    "w4 C8": {"lead_weight": 4.0, "C": 8.0},
    "w1 1-5grams": {"lead_weight": 1.0, "char_ngrams": [1, 5]},
    "w1 clause-fit": {"lead_weight": 1.0, "clause_fit": True},  # refit on clauses too (TfidfModel.refit_on_clauses)
}
WAYS = {
    "clauses": {"clauses": True, "whole": False},
    "clauses+whole": {"clauses": True, "whole": True},
    "whole": {"clauses": False},
}
BASE = ("w1", "clauses")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--fits", default=",".join(FITS), help="comma-separated fit settings to run (default: all)")
    args = ap.parse_args()
    unknown = [name for name in args.fits.split(",") if name not in FITS]
    if unknown:
        ap.error(f"unknown fit setting(s) {', '.join(map(repr, unknown))}; known: {', '.join(FITS)}")
    fits = {name: FITS[name] for name in args.fits.split(",")}
    if BASE[0] not in fits:
        ap.error(f"--fits must include {BASE[0]!r}, the default every setting is compared with")
    labels = label_ids(None)
    sources = read_sources(DATA, labels)
    first = sources[0]
    pool = first.parts["train"] + first.parts["dev"]
    gold, docs, pred = [], [], {}
    for i, (train, dev, test) in enumerate(cv_folds(pool, args.folds)):
        held = {ex.doc_id for ex in first.parts["test"] + dev + test}  # the fold's documents, in any language
        train = train + added_training(sources, held)
        gold.append(to_matrix(test, labels))
        docs += [ex.doc_id for ex in test]
        for name, params in fits.items():
            started = time.perf_counter()
            model = make_model("tfidf-logreg", labels, **params)
            model.fit([ex.text for ex in train], to_matrix(train, labels), lead=lead_mask(train, sources))
            for way, scoring in WAYS.items():
                model.params.update(scoring)  # scoring only: the fitted classifiers stay as they are
                thresholds = tune_thresholds(to_matrix(dev, labels), model.predict_proba([ex.text for ex in dev]))
                scores = model.predict_proba([ex.text for ex in test])
                pred.setdefault((name, way), []).append((scores >= thresholds).astype(int))
            print(f"fold {i + 1}/{args.folds} {name}: {time.perf_counter() - started:.0f} s", flush=True)
    y, docs = np.concatenate(gold), np.array(docs)
    rows = {ids: np.concatenate(p) for ids, p in pred.items()}
    by_doc = [np.flatnonzero(docs == d) for d in np.unique(docs)]
    rng = np.random.default_rng(0)
    draws = [np.concatenate([by_doc[k] for k in rng.integers(0, len(by_doc), len(by_doc))]) for _ in range(args.boot)]

    def two(yt, yp):  # mean F1 of the two themes with hundreds of positives
        return float(f1_per_label(yt, yp)[[labels.index("industrial_upgrading"), labels.index("innovation")]].mean())

    base_name = " ".join(BASE)
    print(f"\n{len(y)} paragraphs of {len(by_doc)} documents, {args.folds} folds")
    print(f"Δ: upgrading+innovation vs {base_name}")
    print("| fit | scoring | macro-F1 | price | upgrading | innovation | Δ upgrading+innovation [95% CI] |")
    print("|---|---|---|---|---|---|---|")
    base = rows[BASE]
    for (name, way), p in sorted(rows.items(), key=lambda kv: -two(y, kv[1])):
        f1 = f1_per_label(y, p)
        delta = two(y, p) - two(y, base)
        boot = [two(y[s], p[s]) - two(y[s], base[s]) for s in draws]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        print(
            f"| {name} | {way} | {f1.mean():.3f} | {f1[0]:.3f} | {f1[1]:.3f} | {f1[2]:.3f} | "
            f"{delta:+.3f} [{lo:+.3f}, {hi:+.3f}] |"
        )


if __name__ == "__main__":
    main()
