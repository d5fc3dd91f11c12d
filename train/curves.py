"""Learning curves and cross-validation: many small trainings whose spread says what one split cannot.

- :func:`learning_curve`: train on growing fractions of the training split (whole documents, several
  seeds), tune thresholds on the full dev split, score the full test split. Does macro-F1 still climb at
  100%? Then more labels would pay.
- :func:`cross_validate`: k folds of whole documents; each fold is the test once, while a tenth of the
  other folds' documents tunes the thresholds and the rest trains. Mean and spread over folds say how
  much one split's figure can move.

Both return a JSON-ready dict that a run-like folder keeps (``curve.json``, ``cv.json``) for ``compare``
to show. Scoring is the caller's ``score(y_true, y_pred, langs, labels) -> dict`` (in practice
``eval.metrics.point_scores``): training code does not import evaluation code.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from policytheme.data.records import Example, label_ids, to_matrix
from policytheme.data.splits import Source, added_training, combine, cv_folds, run_sources, split_summary
from policytheme.models import ModelError, make_model
from policytheme.train.run import TrainConfig, describe_sources, fit_rows, git_revision

Score = Callable[[np.ndarray, np.ndarray, Sequence[str], Sequence[str]], dict]
DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def fit_and_score(
    config: TrainConfig,
    labels: list[str],
    sources: list[Source],
    train: list[Example],
    dev: list[Example],
    test: list[Example],
    seed: int,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fit one model on ``train`` (the first of ``sources`` leading), tune its thresholds on ``dev``;
    (timing, test gold, test predictions)."""
    model = make_model(config.model, labels, seed=seed, **config.params)
    dev_xy = ([ex.text for ex in dev], to_matrix(dev, labels))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="policytheme-") as work:  # checkpoints of models that keep them
        fit_rows(model, train, sources, dev_xy, work_dir=work, progress=False)
    fit_seconds = time.perf_counter() - started
    if dev:
        model.tune(*dev_xy)
    pred = model.predict([ex.text for ex in test])
    return {"fit_seconds": round(fit_seconds, 3)}, to_matrix(test, labels), pred


def _docs_in_order(rows: list[Example], seed: int) -> list[str]:
    docs = sorted({ex.doc_id for ex in rows})
    return [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))]


def learning_curve(
    config: TrainConfig,
    score: Score,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: Sequence[int] = (0, 1, 2),
) -> dict:
    """Macro-F1 on the test split after training on growing fractions of the training documents.

    For each seed the training documents are shuffled once and a fraction takes the first documents of
    that order, so the subsets of one seed are nested; the seed also seeds the model. A point that cannot
    be trained (too few positives of a theme in a small subset) is recorded with its reason.
    """
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ModelError("fractions must be in (0, 1]")
    labels = label_ids(config.codebook)
    sources = run_sources(config, labels)
    parts = combine(sources)
    train, dev, test = sources[0].parts["train"], parts["dev"], parts["test"]
    held = {ex.doc_id for ex in dev + test}
    langs = [ex.lang for ex in test]
    points = []
    for seed in seeds:
        order = _docs_in_order(train, seed)
        for fraction in sorted(fractions):
            keep = set(order[: max(1, math.ceil(fraction * len(order)))])
            subset = [ex for ex in train if ex.doc_id in keep]
            # the other files' paragraphs, less those of documents this point leaves out (translations)
            extra = added_training(sources, held | ({ex.doc_id for ex in train} - keep))
            point = {"fraction": fraction, "seed": seed, "train_paragraphs": len(subset), "train_documents": len(keep)}
            try:
                timing, y, pred = fit_and_score(config, labels, sources, subset + extra, dev, test, seed)
            except ModelError as e:
                points.append({**point, "error": str(e)})
                continue
            points.append({**point, **timing, **score(y, pred, langs, labels)})
    fractions = sorted(fractions)
    return {
        "kind": "learning_curve",
        **_header(config, sources, parts),
        "fixed_train_paragraphs": len(added_training(sources)),
        "fractions": fractions,
        "seeds": list(seeds),
        "points": points,
        "summary": [_summarize([p for p in points if p["fraction"] == f], labels, fraction=f) for f in fractions],
    }


def cross_validate(config: TrainConfig, score: Score, folds: int = 5, include_test: bool = False) -> dict:
    """k-fold cross-validation grouped by document: each fold is tested once, after training on the others
    (less a tenth of their documents, which tunes the thresholds as the dev split does in ``train``).

    By default the data's test split stays out (it is the held-out figure the runs report); with
    ``include_test`` every paragraph takes part.
    """
    if folds < 2:
        raise ModelError("cross-validation needs at least 2 folds")
    labels = label_ids(config.codebook)
    sources = run_sources(config, labels)
    first = sources[0]
    parts = combine(sources)
    pool = first.examples if include_test else first.parts["train"] + first.parts["dev"]
    outside = {ex.doc_id for ex in first.examples} - {ex.doc_id for ex in pool}
    results = []
    for i, (train, dev, test) in enumerate(cv_folds(pool, folds, config.seed)):
        # the other files' paragraphs, less those of the fold's dev and test documents (translations)
        extra = added_training(sources, outside | {ex.doc_id for ex in dev + test})
        timing, y, pred = fit_and_score(config, labels, sources, train + extra, dev, test, config.seed)
        fold = {"fold": i, "train_paragraphs": len(train), "dev_paragraphs": len(dev), **timing}
        results.append({**fold, **score(y, pred, [ex.lang for ex in test], labels)})
    return {
        "kind": "cross_validation",
        **_header(config, sources, parts),
        "folds": folds,
        "include_test": include_test,
        "paragraphs": len(pool),
        "fold_results": results,
        "summary": _summarize(results, labels),
    }


def _header(config: TrainConfig, sources: list[Source], parts: dict) -> dict:
    return {
        "run": Path(config.out).name,
        "model": config.model,
        "params": config.params,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": describe_sources(sources),
        "splits": split_summary(parts),
        "split_seed": config.seed,
        "git": git_revision(),
    }


def _stats(values: list[float | None]) -> dict | None:
    v = np.array([x for x in values if x is not None], dtype=float)
    if not len(v):
        return None
    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"mean": float(v.mean()), "sd": sd, "min": float(v.min()), "max": float(v.max()), "n": int(len(v))}


def _summarize(points: list[dict], labels: list[str], **key) -> dict:
    """Mean, standard deviation, min and max over points (seeds or folds) of every figure they share."""
    ok = [p for p in points if "error" not in p]
    langs = sorted({lang for p in ok for lang in p["per_language"]})
    return {
        **key,
        "points": len(ok),
        "failed": len(points) - len(ok),
        "train_paragraphs": _stats([p["train_paragraphs"] for p in ok]),
        "macro_f1": _stats([p["macro_f1"] for p in ok]),
        "micro_f1": _stats([p["micro_f1"] for p in ok]),
        "f1": {lab: _stats([p["f1"][lab] for p in ok]) for lab in labels},
        "per_language": {
            lang: _stats([p["per_language"][lang]["macro_f1"] for p in ok if lang in p["per_language"]])
            for lang in langs
        },
        "fit_seconds": _stats([p["fit_seconds"] for p in ok]),
    }
