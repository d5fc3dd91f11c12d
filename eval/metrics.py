"""Multi-label metrics: arrays in, numbers out.

``y_true`` and ``y_pred`` are (n, k) 0/1 matrices, ``y_score`` the (n, k) probabilities. A theme with no
positive and no predicted positive in a subset has an undefined F1; it is reported as ``None`` and left
out of the macro average (sklearn's ``zero_division=np.nan``), so a small language without, say, price
competition paragraphs is scored on the themes it has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, hamming_loss, precision_recall_fscore_support

from policytheme.eval.calibration import expected_calibration_error


def _clean(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def f1_per_label(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """F1 per column, NaN where a theme has neither positives nor predictions (fast: used in bootstraps)."""
    t, p = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    tp = (t & p).sum(axis=0)
    denom = t.sum(axis=0) + p.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 over themes whose F1 is defined (0.0 when none is)."""
    f1 = f1_per_label(y_true, y_pred)
    return float(np.nanmean(f1)) if np.any(~np.isnan(f1)) else 0.0


def label_metrics(y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray, labels: Sequence[str]) -> dict:
    """Per-theme precision, recall, F1, support and PR-AUC, plus the averaged figures."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    p, r, _, support = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=np.nan)
    f1 = f1_per_label(y_true, y_pred)
    per_label = {}
    for j, lab in enumerate(labels):
        has_pos = y_true[:, j].any()
        pr_auc = average_precision_score(y_true[:, j], y_score[:, j]) if has_pos else float("nan")
        per_label[lab] = {
            "precision": _clean(p[j]),
            "recall": _clean(r[j]),
            "f1": _clean(f1[j]),
            "support": int(support[j]),
            "pr_auc": _clean(pr_auc),
            "ece": expected_calibration_error(y_true[:, j], y_score[:, j]),
        }
    eces = [v["ece"] for v in per_label.values() if v["ece"] is not None]
    micro = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0.0)[2]
    # samples F1 of a paragraph with no theme and no prediction is a perfect 1.0
    samples = precision_recall_fscore_support(y_true, y_pred, average="samples", zero_division=1.0)[2]
    return {
        "n": int(len(y_true)),
        "macro_f1": macro_f1(y_true, y_pred),
        "micro_f1": float(micro),
        "samples_f1": float(samples),
        "subset_accuracy": float(np.mean(np.all(y_true == y_pred, axis=1))) if len(y_true) else 0.0,
        "hamming_loss": float(hamming_loss(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_ece": float(np.mean(eces)) if eces else None,
        "per_label": per_label,
    }


def point_scores(y_true: np.ndarray, y_pred: np.ndarray, langs: Sequence[str], labels: Sequence[str]) -> dict:
    """The few figures a learning curve or a cross-validation fold keeps: F1 overall, per theme, per language."""
    y_true, y_pred, langs = np.asarray(y_true), np.asarray(y_pred), np.asarray(langs)
    f1 = f1_per_label(y_true, y_pred)
    micro = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0.0)[2]
    return {
        "n": int(len(y_true)),
        "macro_f1": macro_f1(y_true, y_pred),
        "micro_f1": float(micro),
        "f1": {lab: _clean(f1[j]) for j, lab in enumerate(labels)},
        "per_language": {
            lang: {"n": int((langs == lang).sum()), "macro_f1": macro_f1(y_true[langs == lang], y_pred[langs == lang])}
            for lang in sorted(set(langs.tolist()))
        },
    }


def bootstrap_f1(y_true: np.ndarray, y_pred: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """(n_boot, k) F1 per theme on paragraphs resampled with replacement (NaN where undefined)."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    return np.array([f1_per_label(y_true[idx], y_pred[idx]) for idx in (rng.integers(0, n, n) for _ in range(n_boot))])


def _macro_rows(f1: np.ndarray) -> np.ndarray:
    defined = ~np.isnan(f1)
    sums = np.where(defined, f1, 0.0).sum(axis=1)
    counts = defined.sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


def _interval(stats: np.ndarray, n_boot: int, level: float, metric: str) -> dict:
    alpha = (1 - level) / 2
    stats = stats[~np.isnan(stats)]
    low, high = np.quantile(stats, [alpha, 1 - alpha]) if len(stats) else (np.nan, np.nan)
    return {"metric": metric, "level": level, "n_boot": n_boot, "low": _clean(float(low)), "high": _clean(float(high))}


def bootstrap_ci(
    y_true: np.ndarray, y_pred: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Percentile bootstrap interval of macro-F1, resampling paragraphs with replacement."""
    return bootstrap_cis(y_true, y_pred, [], n_boot, seed, level)["macro_f1"]


def bootstrap_cis(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    labels: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile bootstrap intervals of macro-F1 and of each theme's F1, from the same resamples."""
    f1 = bootstrap_f1(np.asarray(y_true), np.asarray(y_pred), n_boot, seed)
    return {
        "macro_f1": _interval(_macro_rows(f1), n_boot, level, "macro_f1"),
        "per_label": {lab: _interval(f1[:, j], n_boot, level, "f1") for j, lab in enumerate(labels)},
    }


def evaluate_arrays(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray,
    langs: Sequence[str],
    labels: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Every figure overall and per language, with a bootstrap interval for macro-F1 on each."""
    y_true, y_pred, y_score = np.asarray(y_true), np.asarray(y_pred), np.asarray(y_score)
    langs = np.asarray(langs)
    out = _with_intervals(label_metrics(y_true, y_pred, y_score, labels), y_true, y_pred, labels, n_boot, seed)
    out["per_language"] = {}
    for lang in sorted(set(langs.tolist())):
        m = langs == lang
        sub = label_metrics(y_true[m], y_pred[m], y_score[m], labels)
        out["per_language"][lang] = _with_intervals(sub, y_true[m], y_pred[m], labels, n_boot, seed)
    return out


def _with_intervals(metrics: dict, y_true, y_pred, labels, n_boot: int, seed: int) -> dict:
    cis = bootstrap_cis(y_true, y_pred, labels, n_boot=n_boot, seed=seed)
    metrics["ci"] = {"macro_f1": cis["macro_f1"]}
    for lab in labels:
        metrics["per_label"][lab]["ci"] = cis["per_label"][lab]
    return metrics
