"""Clause-aware scoring: a theme applies when one clause discusses it, so score clauses and keep the maximum.

Real reports pack ten goals into one paragraph; scored whole, a theme named in one clause is diluted by the
other nine. Split at sentence ends and semicolons (Chinese and Latin punctuation), score each piece, and a
paragraph's score per theme is its best piece's. The whole paragraph may be one of the pieces (``whole``),
for a theme that no single clause names but the paragraph as a whole does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# after 。；！？ (and their ASCII forms followed by a space): where a clause ends in Chinese and English text
_END = re.compile(r"(?<=[。；！？])|(?<=[;!?.])\s+")


def split_clauses(text: str) -> list[str]:
    """The clauses of ``text`` (the text itself when it has one)."""
    parts = [p.strip() for p in _END.split(text)]
    return [p for p in parts if p] or [text]


def explode(texts: Sequence[str], whole: bool = False) -> tuple[list[str], np.ndarray]:
    """All clauses of ``texts`` in order, and for each the index of its text. With ``whole``, a text of
    several clauses is also a piece of its own, after its clauses: a theme spread over clauses still counts."""
    pieces, owner = [], []
    for i, text in enumerate(texts):
        clauses = split_clauses(text)
        for piece in clauses + [text] if whole and len(clauses) > 1 else clauses:
            pieces.append(piece)
            owner.append(i)
    return pieces, np.asarray(owner, dtype=np.int64)


def best_piece(scores: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per text (``owner`` in order, as ``explode`` gives it), the row of its highest-scoring piece; the
    first of a tie."""
    order = np.lexsort((-scores, owner))  # by text, best piece first (lexsort is stable)
    return order[np.r_[True, owner[order][1:] != owner[order][:-1]]]


def max_pool(scores: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """(n, k) scores: per text, the maximum over its clauses' rows of ``scores``."""
    out = np.zeros((n, scores.shape[1]), dtype=np.float32)
    np.maximum.at(out, owner, scores)
    return out
