"""Which paragraph to label next: the model's least certain, kept diverse.

Uncertainty of a paragraph is its most uncertain theme's: 1 where a score sits on the theme's threshold,
falling to 0 at 0 or 1 (measured from the threshold, so a theme with a low threshold is not always
"uncertain"). Among the most uncertain candidates the next one is the one least like the paragraphs
already labeled or shown (cosine of character n-gram vectors), so a run of near-duplicates (the same
sentence in thirty provincial reports) is not labeled thirty times.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

POOL = 50  # candidates considered for diversity, the most uncertain first
DIVERSITY = 0.5  # weight of similarity to what was already seen, against uncertainty


def uncertainty(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(n,) in [0, 1]: 1 when some theme's score is at its threshold."""
    t = np.clip(np.asarray(thresholds, dtype=float), 1e-6, 1 - 1e-6)
    s = np.asarray(scores, dtype=float)
    room = np.where(s < t, t, 1 - t)
    return (1 - np.abs(s - t) / room).clip(0, 1).max(axis=1)


def vectors(texts: list[str]) -> sp.csr_matrix:
    """L2-normalised character 1-3-gram vectors (no vocabulary to fit: any text, any language)."""
    return HashingVectorizer(analyzer="char_wb", ngram_range=(1, 3), n_features=2**18, alternate_sign=False).transform(
        texts
    )


def pick(
    scores: np.ndarray,
    thresholds: np.ndarray,
    vecs: sp.csr_matrix,
    candidates: np.ndarray,
    seen: list[int],
    k: int = 1,
) -> list[int]:
    """The next ``k`` paragraphs (indices into the rows) among ``candidates``: uncertain and unlike ``seen``
    (and unlike each other)."""
    if len(candidates) == 0:
        return []
    u = uncertainty(scores[candidates], thresholds)
    order = candidates[np.argsort(-u, kind="stable")[: max(POOL, k)]]
    u_of = dict(zip(candidates.tolist(), u.tolist()))
    chosen: list[int] = []
    memory = list(seen[-500:])
    for _ in range(min(k, len(order))):
        left = [i for i in order if i not in chosen]
        if memory:
            sim = (vecs[left] @ vecs[memory].T).max(axis=1).toarray().ravel()
        else:
            sim = np.zeros(len(left))
        value = np.array([u_of[i] for i in left]) - DIVERSITY * sim
        best = left[int(np.argmax(value))]
        chosen.append(best)
        memory.append(best)
    return chosen
