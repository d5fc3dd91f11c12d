"""Which TF-IDF variant to ship, chosen on cross-fitted scores of every train and dev document (rule R5 in
docs/quality.md), never on a test split.

    python -m policytheme.train.variants [--folds 5] [--boot 1000] [--variants default,whole]

Each variant is scored exactly as ``train`` tunes (``train.run.out_of_fold``): the default data's train and dev
documents in 5 folds of whole documents (a translation with its source), a model fit on four folds scoring
the tuning paragraphs of the fifth (the human-labeled paragraphs of real documents: ``data/real.jsonl`` and
``data/genres.jsonl``). Each fold is then decided by thresholds (overall, and per script where there are 10
positives: ``ThemeModel.tune``) tuned on the other four folds' out-of-fold scores, so no paragraph is decided
by a cut tuned on itself. Reported: macro-F1 of the English and of the Chinese paragraphs, their mean, and
the mean's difference from the default by a paired bootstrap over documents.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from policytheme.data.records import DEFAULT_DATA, label_ids, to_matrix
from policytheme.data.splits import CROSSFIT_TUNES, crossfit_parts, grouped_folds, run_sources
from policytheme.models import make_model
from policytheme.models.folders import TrainConfig
from policytheme.train.run import out_of_fold

VARIANTS = {  # name: (model, parameters)
    "default": ("tfidf-logreg", {}),
    "whole": ("tfidf-logreg", {"whole": True}),
    "C=1": ("tfidf-logreg", {"C": 1.0}),
    "C=16": ("tfidf-logreg", {"C": 16.0}),
    "clause_fit": ("tfidf-logreg", {"clause_fit": True}),
    "word_ngrams": ("tfidf-logreg", {"word_ngrams": [1, 2]}),
    "svm": ("tfidf-svm", {}),
}
# variants that add a labeled file to the default data; its rows only ever train (never tune, never held out)
DATA_VARIANTS = {"written-genres": "data/written-genres.jsonl"}
LANGS = ("en", "zh")


def f1_per_label(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """F1 of each theme (NaN where neither gold nor decisions hold it)."""
    tp = (y * p).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(y.sum(0) + p.sum(0) > 0, 2 * tp / (y.sum(0) + p.sum(0)), np.nan)


def decided_by_other_folds(model, texts, y, scores, fold_of) -> np.ndarray:
    """0/1 decisions of each fold's paragraphs by thresholds tuned on the other folds' scores."""
    out = np.zeros_like(y)
    for f in np.unique(fold_of):
        rest, own = fold_of != f, fold_of == f
        model.tune([t for t, r in zip(texts, rest) if r], y[rest], scores=scores[rest])
        out[own] = model.decide(scores[own], [t for t, o in zip(texts, own) if o])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated (default: all)")
    args = ap.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS and n not in DATA_VARIANTS]
    if unknown or "default" not in names:
        ap.error(f"--variants: known {', '.join([*VARIANTS, *DATA_VARIANTS])}; 'default' must be one")
    labels = label_ids(None)
    config = TrainConfig(model="tfidf-logreg", out="-")
    sources = run_sources(config, labels)
    parts = crossfit_parts(sources, CROSSFIT_TUNES)
    rows, tuning = parts["train"], parts["dev"]
    texts, y = [ex.text for ex in tuning], to_matrix(tuning, labels)
    row_folds = grouped_folds(rows, args.folds, config.seed)
    fold = dict(zip((ex.id for ex in rows), row_folds))
    fold_of = np.array([fold[ex.id] for ex in tuning])
    langs, docs = np.array([ex.lang for ex in tuning]), np.array([ex.doc_id for ex in tuning])
    print(
        f"{len(rows):,} train and dev paragraphs, {len(tuning):,} scored out of fold "
        f"({', '.join(f'{lang} {int((langs == lang).sum()):,}' for lang in LANGS)}), {args.folds} folds",
        flush=True,
    )
    decided = {}
    for name in names:
        kind, params = VARIANTS.get(name, VARIANTS["default"])
        started = time.perf_counter()
        run = TrainConfig(model=kind, out="-", params=params)
        these_rows, these_folds, these_sources = rows, row_folds, sources
        if name in DATA_VARIANTS:  # the same rows and folds, and the file's rows in every fold's training
            these_sources = run_sources(
                TrainConfig(model=kind, out="-", data=[*DEFAULT_DATA, DATA_VARIANTS[name]]), labels
            )
            extra = these_sources[-1].examples
            these_rows, these_folds = rows + extra, np.r_[row_folds, np.full(len(extra), -1)]
        scores = out_of_fold(run, labels, these_rows, tuning, these_sources, these_folds, progress=False)
        decided[name] = decided_by_other_folds(make_model(kind, labels, **params), texts, y, scores, fold_of)
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)

    def figure(p: np.ndarray, idx: np.ndarray) -> dict:
        out = {}
        for lang in LANGS:
            own = idx[langs[idx] == lang]
            f1 = f1_per_label(y[own], p[own])
            out[lang] = (float(np.nanmean(f1)), f1)
        out["mean"] = (np.mean([out[lang][0] for lang in LANGS]), None)
        return out

    every = np.arange(len(y))
    by_doc = [np.flatnonzero(docs == d) for d in np.unique(docs)]
    rng = np.random.default_rng(0)
    draws = [np.concatenate([by_doc[k] for k in rng.integers(0, len(by_doc), len(by_doc))]) for _ in range(args.boot)]
    base = decided["default"]
    base_boot = [figure(base, s)["mean"][0] for s in draws]
    print("\n| variant | English macro-F1 (price, upgrading, innovation) | Chinese (same) | mean | Δ mean [95% CI] |")
    print("|---|---|---|---|---|")
    for name in sorted(names, key=lambda n: -figure(decided[n], every)["mean"][0]):
        p = decided[name]
        fig = figure(p, every)
        delta = fig["mean"][0] - figure(base, every)["mean"][0]
        boot = [figure(p, s)["mean"][0] - b for s, b in zip(draws, base_boot)]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        cells = [f"{fig[lang][0]:.3f} ({', '.join(f'{v:.3f}' for v in fig[lang][1])})" for lang in LANGS]
        print(f"| {name} | {' | '.join(cells)} | {fig['mean'][0]:.3f} | {delta:+.3f} [{lo:+.3f}, {hi:+.3f}] |")


if __name__ == "__main__":
    main()
