"""The script a text is written in, which decides which of a model's thresholds apply to it.

Scores of one model are not equally calibrated across scripts: English paragraphs are long and a maximum
over many clauses runs higher, so a threshold tuned on Chinese over-predicts on English. A model tunes one
set of thresholds per script where its dev data has enough positives (``ThemeModel.tune``), and a text is
decided by its script's. Scripts, not languages: a paragraph's script is read off its letters, with no
language detector and no ``lang`` column needed at labeling time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

HAN, LATIN, OTHER = "han", "latin", "other"
SCRIPTS = np.array([OTHER, HAN, LATIN])  # the answer's index: 0 other, 1 han, 2 latin
NOT_LETTER, HAN_LETTER, LATIN_LETTER, OTHER_LETTER = 0, 1, 2, 3


def _letter_kind(ch: str) -> int:
    if not ch.isalpha():
        return NOT_LETTER
    if "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff":
        return HAN_LETTER
    return LATIN_LETTER if ch <= "\u024f" else OTHER_LETTER


@cache
def _basic_plane() -> np.ndarray:
    """What each character of the basic plane counts as (built on first use, not at every command's start)."""
    return np.array([_letter_kind(chr(c)) for c in range(0x10000)], dtype=np.uint8)


def scripts_of(texts: Sequence[str]) -> np.ndarray:
    """Per text, ``han`` where most of its letters are CJK ideographs or kana, ``latin`` where most are Latin,
    else ``other`` (no letters, or no majority). All texts at once: the characters are classified through one
    table lookup (a paragraph at a time in Python costs seconds on a corpus)."""
    if not len(texts):
        return np.array([], dtype=SCRIPTS.dtype)
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    kind = _basic_plane()[np.minimum(codes, 0xFFFF)]
    for i in np.flatnonzero(codes > 0xFFFF):  # beyond the table: rare (CJK extensions count as other letters)
        kind[i] = _letter_kind(chr(codes[i]))
    ends = np.cumsum([len(t) for t in texts])
    starts = ends - np.array([len(t) for t in texts])

    def count(k: int) -> np.ndarray:
        c = np.concatenate([[0], np.cumsum(kind == k)])
        return c[ends] - c[starts]

    han, latin, other = count(HAN_LETTER), count(LATIN_LETTER), count(OTHER_LETTER)
    letters = han + latin + other
    stacked = np.stack([other, han, latin], axis=1)  # columns in the order of SCRIPTS
    best = np.argmax(stacked, axis=1)  # a tie is never a majority, so which of equals wins does not matter
    majority = stacked[np.arange(len(texts)), best] * 2 > letters
    return np.where(majority, SCRIPTS[best], OTHER)


def script_of(text: str) -> str:
    """The script of one text (:func:`scripts_of`)."""
    return str(scripts_of([text])[0])
