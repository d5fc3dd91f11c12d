"""Deterministic train/dev/test splits, grouped by document, stratified over language and label combination.

No document is in two splits (paragraphs of one report share vocabulary, so a split by paragraph would
flatter every model). Files that carry a ``split`` column on every row (the shipped corpus) keep it.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from data.records import SPLITS, DataError, Example


def assign_splits(
    examples: list[Example], dev: float = 0.1, test: float = 0.1, seed: int = 0
) -> dict[str, list[Example]]:
    """Split by the stored ``split`` column when every row has one, else by :func:`grouped_split`."""
    if all("split" in ex.extra for ex in examples):
        parts = {s: [ex for ex in examples if ex.extra["split"] == s] for s in SPLITS}
        _check_groups(parts)
    else:
        parts = grouped_split(examples, dev=dev, test=test, seed=seed)
    check_no_leak(parts)
    return parts


def grouped_split(
    examples: list[Example], dev: float = 0.1, test: float = 0.1, seed: int = 0
) -> dict[str, list[Example]]:
    """Put whole documents into train/dev/test, keeping languages and label combinations in proportion.

    Uses ``StratifiedGroupKFold`` with ``k = round(1 / min(dev, test))`` folds: the first folds go to
    test, the next to dev, the rest to train. The same input and seed always give the same split.
    """
    if not (0 < dev < 1 and 0 < test < 1 and dev + test < 1):
        raise ValueError("dev and test fractions must be in (0, 1) and sum to less than 1")
    groups = np.array([ex.doc_id for ex in examples])
    if len(set(groups)) < 3:
        raise DataError([f"need at least 3 documents (doc_id) to split, got {len(set(groups))}"])
    k = max(3, min(round(1 / min(dev, test)), len(set(groups))))
    n_test = max(1, round(test * k))
    n_dev = max(1, round(dev * k))
    fold_of = grouped_folds(examples, k, seed)
    parts: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for ex, f in zip(examples, fold_of):
        name = "test" if f < n_test else "dev" if f < n_test + n_dev else "train"
        parts[name].append(ex)
    return parts


def grouped_folds(examples: list[Example], k: int, seed: int = 0) -> np.ndarray:
    """The fold (0..k-1) of each paragraph: whole documents per fold, languages and label combinations in
    proportion (``StratifiedGroupKFold``). The same input and seed always give the same folds."""
    groups = np.array([ex.doc_id for ex in examples])
    if len(set(groups)) < k:
        raise DataError([f"need at least {k} documents (doc_id) for {k} folds, got {len(set(groups))}"])
    # strata: language x label combination, so every fold can report per-language figures; on data too
    # small for that, label combination alone, then none
    for stratum in (
        lambda ex: f"{ex.lang}|{'+'.join(sorted(ex.labels))}",
        lambda ex: "+".join(sorted(ex.labels)),
        lambda ex: "",
    ):
        strata = np.array([stratum(ex) for ex in examples])
        if max(np.unique(strata, return_counts=True)[1]) >= k:
            break
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    fold_of = np.empty(len(examples), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rare strata have fewer members than folds
        for f, (_, idx) in enumerate(sgkf.split(np.zeros(len(examples)), strata, groups)):
            fold_of[idx] = f
    return fold_of


def _check_groups(parts: dict[str, list[Example]]) -> None:
    where: dict[str, str] = {}
    problems = []
    for name, rows in parts.items():
        for ex in rows:
            other = where.setdefault(ex.doc_id, name)
            if other != name:
                problems.append(f"document {ex.doc_id!r} is in both {other} and {name} (paragraph {ex.id})")
    if problems:
        raise DataError(problems)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def check_no_leak(parts: dict[str, list[Example]]) -> None:
    """Raise DataError when the exact same text (up to whitespace) is in two splits."""
    seen: dict[str, tuple[str, str]] = {}
    problems = []
    for name in SPLITS:
        for ex in parts.get(name, []):
            key = _norm(ex.text)
            prev = seen.get(key)
            if prev and prev[0] != name:
                problems.append(f"paragraph {ex.id!r} ({name}) has the same text as {prev[1]!r} ({prev[0]})")
            seen.setdefault(key, (name, ex.id))
    if problems:
        raise DataError(problems)


def split_summary(parts: dict[str, list[Example]]) -> dict[str, dict]:
    """Counts per split: paragraphs, documents and paragraphs per theme."""
    out = {}
    for name, rows in parts.items():
        themes: dict[str, int] = defaultdict(int)
        for ex in rows:
            for lab in ex.labels:
                themes[lab] += 1
        out[name] = {
            "paragraphs": len(rows),
            "documents": len({ex.doc_id for ex in rows}),
            "themes": dict(sorted(themes.items())),
        }
    return out
