"""Error analysis: the paragraphs a model gets wrong with the most confidence, per theme.

A false positive is a paragraph without the theme that the model labels with it; the most confident are
those with the highest scores. A false negative carries the theme but is missed; the most confident are
those with the lowest scores. They are where a codebook rule, a labeling slip or a blind spot of the
model shows first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TEXT_CHARS = 280  # enough of a paragraph to see what it is about


def _entry(meta: dict, score: float) -> dict:
    text = meta.get("text", "")
    return {
        "id": meta["id"],
        "doc_id": meta.get("doc_id"),
        "lang": meta.get("lang"),
        "labels": meta.get("labels", []),
        "score": round(float(score), 4),
        "text": text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…",
    }


def confident_errors(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray,
    meta: Sequence[dict],
    labels: Sequence[str],
    k: int = 5,
) -> dict:
    """Per theme, the ``k`` most confident false positives and false negatives.

    ``meta`` holds one dict per paragraph (``id``, ``doc_id``, ``lang``, ``labels``, ``text``); ties in
    score keep the paragraphs' order.
    """
    y_true, y_pred, y_score = np.asarray(y_true), np.asarray(y_pred), np.asarray(y_score)
    out = {}
    for j, lab in enumerate(labels):
        s = y_score[:, j]
        fp = np.flatnonzero((y_true[:, j] == 0) & (y_pred[:, j] == 1))
        fn = np.flatnonzero((y_true[:, j] == 1) & (y_pred[:, j] == 0))
        fp = fp[np.argsort(-s[fp], kind="stable")][:k]
        fn = fn[np.argsort(s[fn], kind="stable")][:k]
        out[lab] = {
            "false_positives": [_entry(meta[i], s[i]) for i in fp],
            "false_negatives": [_entry(meta[i], s[i]) for i in fn],
            "n_false_positives": int(((y_true[:, j] == 0) & (y_pred[:, j] == 1)).sum()),
            "n_false_negatives": int(((y_true[:, j] == 1) & (y_pred[:, j] == 0)).sum()),
        }
    return out
