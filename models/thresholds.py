"""Per-theme decision thresholds, tuned on dev data for F1."""

from __future__ import annotations

import numpy as np


def _best_cut(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float] | None:
    """(threshold, F1) of the best cut of one label's scores; None without any positive."""
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    n_pos = int(y_true.sum())
    if n_pos == 0 or len(scores) == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y_true[order]
    tp = np.cumsum(t)
    predicted = np.arange(1, len(s) + 1)
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # a cut can only fall between distinct scores
    f1 = np.where(last_of_tie, 2 * tp / (predicted + n_pos), -1.0)
    k = int(np.argmax(f1))
    nxt = s[k + 1] if k + 1 < len(s) else s[k] - 1e-6
    # every paragraph on (the lowest score is 0) gives a cut just below 0: 0 decides the same, and is a score
    return float(np.clip((s[k] + nxt) / 2, 0.0, 1.0)), float(f1[k])


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray, default: float = 0.5) -> float:
    """The threshold on ``scores`` that maximises F1 of one binary label.

    Candidates are midpoints between consecutive distinct scores, so the threshold sits between a
    positive call and a negative one rather than on a training score. Without any positive in
    ``y_true`` F1 is undefined and ``default`` is returned.
    """
    cut = _best_cut(y_true, scores)
    return default if cut is None else cut[0]


def tune_thresholds(y_true: np.ndarray, proba: np.ndarray, default: float = 0.5) -> np.ndarray:
    """One F1-optimal threshold per column of ``proba``."""
    return np.array([best_f1_threshold(y_true[:, j], proba[:, j], default) for j in range(proba.shape[1])])


def tuned_macro_f1(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Macro-F1 when every theme uses its best threshold: the score used to pick checkpoints on dev."""
    cuts = [_best_cut(y_true[:, j], proba[:, j]) for j in range(proba.shape[1])]
    f1 = [c[1] for c in cuts if c is not None]
    return float(np.mean(f1)) if f1 else 0.0
