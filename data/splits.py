"""Deterministic train/dev/test splits, grouped by document, stratified over language and label combination.

No document is in two splits (paragraphs of one report share vocabulary, so a split by paragraph would
flatter every model). Files that carry a ``split`` column on every row (the shipped corpus) keep it.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from policytheme.data.records import (
    DEFAULT_DATA,
    GENRES_PATH,
    SPLITS,
    DataError,
    Example,
    file_sha256,
    read_examples,
)


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


@dataclass
class Source:
    """One labeled file of a training set, read and split."""

    path: str
    sha256: str
    examples: list[Example]
    parts: dict[str, list[Example]]
    tunes: bool = False  # a file after the first whose dev split tunes (``--tune-with``) instead of training

    def describe(self) -> dict:
        """What a run records of it: path, content hash, paragraphs and split sizes."""
        out = {"path": self.path, "sha256": self.sha256, "paragraphs": len(self.examples), **_sizes(self.parts)}
        return {**out, "tunes": True} if self.tunes else out


def read_sources(
    paths: list[str],
    labels: list[str],
    dev: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    tune_with: list[str] | None = None,
) -> list[Source]:
    """Read and split each labeled file (by its ``split`` column, else grouped by document); the files
    named in ``tune_with`` (after the first) tune with their dev split instead of training on it.

    Ids must be unique over all files, and no text may be in a test split and in any other split.
    """
    tuning = {str(Path(p).resolve()) for p in tune_with or []}
    unknown = tuning - {str(Path(p).resolve()) for p in paths[1:]}
    if unknown:
        raise DataError([f"--tune-with {p}: not one of the --data files after the first" for p in sorted(unknown)])
    sources: list[Source] = []
    where: dict[str, str] = {}
    problems = []
    for path in paths:
        examples = read_examples(path, labels)
        for ex in examples:
            other = where.setdefault(ex.id, str(path))
            if other != str(path):
                problems.append(f"{path}: id {ex.id!r} is also in {other}; ids must be unique over all --data files")
        parts = assign_splits(examples, dev, test, seed)
        sources.append(Source(str(path), file_sha256(path), examples, parts, str(Path(path).resolve()) in tuning))
    if problems:
        raise DataError(problems)
    if len(sources) > 1:
        merged = combine(sources)
        check_no_leak({**merged, "test": [ex for s in sources for ex in s.parts["test"]]})
    return sources


def data_paths(data: str | list[str] | None) -> list[str]:
    """The labeled files of a run's ``data`` (one path in runs written before several were allowed; none:
    the default data)."""
    paths = [shipped(str(p)) for p in ([data] if isinstance(data, (str, Path)) else data or [])]
    return paths or list(DEFAULT_DATA)


def shipped(path: str) -> str:
    """``data/NAME`` that is not there relative to the working directory but is one of the shipped data files
    names that file (so the README's ``--data data/real.jsonl`` works outside the repository too)."""
    p = Path(path)
    if p.exists() or len(p.parts) != 2 or p.parts[0] != "data":
        return path
    candidate = Path(DEFAULT_DATA[0]).parent / p.name
    return str(candidate) if candidate.is_file() and candidate.suffix == ".jsonl" else path


def run_sources(config, labels: list[str]) -> list[Source]:
    """A run's data files, read and split as its configuration says (``data``, ``dev_fraction``,
    ``test_fraction``, ``seed``, ``tune_with``): the one recipe that training, learning curves,
    cross-validation and evaluation (a run's test split, ``--unseen``) all read."""
    paths, tune_with = data_paths(config.data), getattr(config, "tune_with", None) or []
    return read_sources(
        paths, labels, dev=config.dev_fraction, test=config.test_fraction, seed=config.seed, tune_with=tune_with
    )


def combine(sources: list[Source]) -> dict[str, list[Example]]:
    """The splits a model is trained, tuned and tested on, from several files.

    The first file leads: its dev split tunes the thresholds (per script where there are enough positives:
    ``ThemeModel.tune``) and picks a transformer's checkpoint, and its test split is the run's test split.
    The other files add their train and dev paragraphs to training, except that a file that ``tunes``
    (``--tune-with``) adds its dev split to the tuning instead, so that other languages and genres tune
    their own thresholds. The other files' test splits stay out, to be reported on their own.
    """
    first = sources[0]
    tested = {ex.doc_id for ex in first.parts["test"]}
    dev = first.parts["dev"] + [ex for s in sources[1:] if s.tunes for ex in s.parts["dev"] if ex.doc_id not in tested]
    return {"train": first.parts["train"] + added_training(sources), "dev": dev, "test": first.parts["test"]}


# Without --tune-with, a cross-fitted run tunes on the lead file and these (where they are among its data): the
# other collection of real documents, labeled like the lead (docs/quality.md, R4)
CROSSFIT_TUNES = [str(GENRES_PATH)]


def crossfit_parts(sources: list[Source], tuning: list[str]) -> dict[str, list[Example]]:
    """The splits of a cross-fitted run (``train.run``): ``train`` holds every train and dev paragraph of every
    file (none of a document that any file tests on); ``dev`` is the part of them whose out-of-fold scores
    tune the thresholds: the human-labeled paragraphs (not translations) of the first file and of the files
    in ``tuning``; ``test`` is the first file's test split."""
    tested = {ex.doc_id for s in sources for ex in s.parts["test"]}
    tunes = {str(Path(p).resolve()) for p in tuning}
    rows, dev = [], []
    for i, s in enumerate(sources):
        own = i == 0 or str(Path(s.path).resolve()) in tunes
        for ex in s.parts["train"] + s.parts["dev"]:
            if ex.doc_id in tested:
                continue
            rows.append(ex)
            if own and "translation_of" not in ex.extra:
                dev.append(ex)
    return {"train": rows, "dev": dev, "test": sources[0].parts["test"]}


def added_training(sources: list[Source], held_out: set[str] | None = None) -> list[Example]:
    """The paragraphs the files after the first add to every fit's training: their train splits, and the dev
    splits of those that do not tune.

    Rows of a document ``held_out`` stay out (default: the first file's dev and test documents): a
    translation is its source's document, and must not train where its source tunes or tests.
    """
    if held_out is None:
        held_out = {ex.doc_id for name in ("dev", "test") for ex in sources[0].parts[name]}
    return [
        ex
        for s in sources[1:]
        for name in (("train",) if s.tunes else ("train", "dev"))
        for ex in s.parts[name]
        if ex.doc_id not in held_out
    ]


def lead_mask(rows: list[Example], sources: list[Source]) -> np.ndarray:
    """For each of ``rows``, whether it comes from the first (leading) file: what a model may weigh up."""
    first = {ex.id for ex in sources[0].examples}
    return np.array([ex.id in first for ex in rows], dtype=bool)


def _sizes(parts: dict[str, list[Example]]) -> dict[str, int]:
    return {name: len(parts.get(name, [])) for name in SPLITS}


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


CV_DEV_FOLDS = 10  # within cross-validation, one tenth of the training documents tunes the thresholds


def cv_folds(pool: list[Example], k: int, seed: int = 0) -> list[tuple[list[Example], list[Example], list[Example]]]:
    """Cross-validation's (train, dev, test) per fold: each fold of whole documents is the test once; of
    the others' documents a tenth is the dev part that tunes thresholds, as the dev split does in ``train``."""
    fold_of = grouped_folds(pool, k, seed)
    out = []
    for i in range(k):
        test = [ex for ex, f in zip(pool, fold_of) if f == i]
        rest = [ex for ex, f in zip(pool, fold_of) if f != i]
        inner = grouped_folds(rest, min(CV_DEV_FOLDS, len({ex.doc_id for ex in rest})), seed)
        train = [ex for ex, f in zip(rest, inner) if f != 0]
        dev = [ex for ex, f in zip(rest, inner) if f == 0]
        out.append((train, dev, test))
    return out


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
