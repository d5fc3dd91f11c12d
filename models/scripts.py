"""The script a text is written in, which decides which of a model's thresholds apply to it.

Scores of one model are not equally calibrated across scripts: English paragraphs are long and a maximum
over many clauses runs higher, so a threshold tuned on Chinese over-predicts on English. A model tunes one
set of thresholds per script where its dev data has enough positives (``ThemeModel.tune``), and a text is
decided by its script's. Scripts, not languages: a paragraph's script is read off its letters, with no
language detector and no ``lang`` column needed at labeling time.
"""

from __future__ import annotations

HAN, LATIN, OTHER = "han", "latin", "other"


def script_of(text: str) -> str:
    """``han`` where most letters are CJK ideographs or kana, ``latin`` where most are Latin, else ``other``."""
    han = latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff":
            han += 1
        elif ch <= "\u024f":
            latin += 1
        else:
            other += 1
    if not han + latin + other:
        return OTHER
    best = max((han, HAN), (latin, LATIN), (other, OTHER))
    return best[1] if best[0] * 2 > han + latin + other else OTHER
