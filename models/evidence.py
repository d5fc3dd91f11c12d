"""Evidence for a label: the phrases of a paragraph that raised a theme's score most.

Each model says which pieces of the text weigh for a theme (a linear model: its n-grams' weight x value;
the keyword method: its cues; a transformer: input x gradient per token); :func:`phrases` turns weighted
pieces into the few longest-supported phrases of the text, by merging the places where they occur.
"""

from __future__ import annotations

from collections.abc import Iterable


def phrases(text: str, weighted: Iterable[tuple[str, float]], k: int = 3, pad: int = 0) -> list[str]:
    """The ``k`` phrases of ``text`` with the most weight, from (piece, weight) pairs of positive weight.

    Every occurrence of a piece marks its characters; overlapping or touching marks merge into one phrase
    whose weight is the sum of its pieces'. ``pad`` widens each phrase by that many characters.
    """
    spans: list[list[float]] = []  # [start, end, weight]
    low = text.lower()
    for piece, weight in weighted:
        piece = piece.strip().lower()
        if not piece or weight <= 0:
            continue
        start = low.find(piece)
        while start != -1:
            spans.append([start, start + len(piece), weight])
            start = low.find(piece, start + 1)
    return from_spans(text, spans, k, pad)


def from_spans(text: str, spans: list[list[float]], k: int = 3, pad: int = 0) -> list[str]:
    """The ``k`` heaviest phrases from [start, end, weight] character spans of ``text`` (merged where they
    overlap or touch)."""
    spans = sorted([list(x) for x in spans if x[2] > 0])
    if not spans:
        return []
    merged = [spans[0]]
    for a, b, w in spans[1:]:
        if a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            merged[-1][2] += w
        else:
            merged.append([a, b, w])
    best = sorted(merged, key=lambda s: -s[2])[:k]
    return [text[max(0, int(a) - pad) : int(b) + pad].strip() for a, b, _ in sorted(best)]
