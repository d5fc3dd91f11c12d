"""Calibration and ranking curves of one theme's scores: arrays in, numbers out.

A theme's score is read as the model's probability that the paragraph carries the theme. Calibration asks
whether it is one: of the paragraphs scored about 0.8, do about 80% carry the theme? Scores are cut into
equal-width bins over [0, 1]; a bin's *confidence* is its mean score and its *accuracy* the share of its
paragraphs that carry the theme (the reliability diagram plots one against the other). The expected
calibration error (ECE) is the mean gap between the two, weighted by the paragraphs in each bin:

    ECE = sum over bins b of  n_b / n * |accuracy_b - confidence_b|
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

N_BINS = 10
MAX_CURVE_POINTS = 101


def _bin_index(y_score: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each score: [0, 1/n), [1/n, 2/n), ... and the last bin closed, [1 - 1/n, 1]."""
    return np.clip((np.asarray(y_score, dtype=float) * n_bins).astype(int), 0, n_bins - 1)


def reliability_bins(y_true: np.ndarray, y_score: np.ndarray, n_bins: int = N_BINS) -> list[dict]:
    """The non-empty bins of one theme: edges, paragraphs, mean score (confidence) and share positive."""
    y_true, y_score = np.asarray(y_true, dtype=float), np.asarray(y_score, dtype=float)
    idx = _bin_index(y_score, n_bins)
    out = []
    for b in range(n_bins):
        m = idx == b
        if m.any():
            out.append(
                {
                    "low": b / n_bins,
                    "high": (b + 1) / n_bins,
                    "count": int(m.sum()),
                    "confidence": float(y_score[m].mean()),
                    "accuracy": float(y_true[m].mean()),
                }
            )
    return out


def expected_calibration_error(y_true: np.ndarray, y_score: np.ndarray, n_bins: int = N_BINS) -> float | None:
    """ECE of one theme (see the module docstring); None without any paragraph."""
    bins = reliability_bins(y_true, y_score, n_bins)
    n = sum(b["count"] for b in bins)
    if n == 0:
        return None
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins))


def pr_curve_points(y_true: np.ndarray, y_score: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> dict | None:
    """The corners of the precision-recall curve (recall decreasing), at most ``max_points``; None without positives.

    A corner is the first or last threshold at a recall level: the points between them only repeat the
    recall, so dropping them keeps the curve's shape; only beyond ``max_points`` corners is it thinned.
    """
    y_true = np.asarray(y_true)
    if not y_true.any():
        return None
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    step = recall[1:] != recall[:-1]
    keep = np.flatnonzero(np.r_[True, step] | np.r_[step, True])
    if len(keep) > max_points:  # keep both ends, thin the middle evenly
        keep = keep[np.unique(np.linspace(0, len(keep) - 1, max_points).round().astype(int))]
    precision, recall = precision[keep], recall[keep]
    return {"precision": [round(float(x), 4) for x in precision], "recall": [round(float(x), 4) for x in recall]}


def theme_curves(y_true: np.ndarray, y_score: np.ndarray, labels: list[str], n_bins: int = N_BINS) -> dict:
    """What the report plots per theme: PR-curve points and reliability bins."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    return {
        "pr": {lab: pr_curve_points(y_true[:, j], y_score[:, j]) for j, lab in enumerate(labels)},
        "reliability": {lab: reliability_bins(y_true[:, j], y_score[:, j], n_bins) for j, lab in enumerate(labels)},
        "n_bins": n_bins,
    }
