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
        }
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
        "per_label": per_label,
    }


def bootstrap_ci(
    y_true: np.ndarray, y_pred: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Percentile bootstrap interval of macro-F1, resampling paragraphs with replacement."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    stats = np.array([macro_f1(y_true[idx], y_pred[idx]) for idx in (rng.integers(0, n, n) for _ in range(n_boot))])
    alpha = (1 - level) / 2
    return {
        "metric": "macro_f1",
        "level": level,
        "n_boot": n_boot,
        "low": float(np.quantile(stats, alpha)),
        "high": float(np.quantile(stats, 1 - alpha)),
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
    out = label_metrics(y_true, y_pred, y_score, labels)
    out["ci"] = {"macro_f1": bootstrap_ci(y_true, y_pred, n_boot=n_boot, seed=seed)}
    out["per_language"] = {}
    for lang in sorted(set(langs.tolist())):
        m = langs == lang
        sub = label_metrics(y_true[m], y_pred[m], y_score[m], labels)
        sub["ci"] = {"macro_f1": bootstrap_ci(y_true[m], y_pred[m], n_boot=n_boot, seed=seed)}
        out["per_language"][lang] = sub
    return out
