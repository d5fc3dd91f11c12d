"""Labeled paragraphs: the project's data format, read from JSONL, CSV or Parquet, and validated.

One paragraph per row with ``id`` (unique), ``text``, ``labels`` (list of theme ids, possibly empty),
``lang`` (ISO 639-1) and ``doc_id`` (paragraphs of one document share it). CSV holds ``labels`` as a
``;``-separated string. Other columns (``split``, ``source``...) are kept in ``Example.extra``.

Every problem is reported as ``file:line: problem``; all of a file's problems are collected into one
:class:`DataError` so a user fixes them in one pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCHEMA_PATH = Path(__file__).with_name("labels.json")
CORPUS_PATH = Path(__file__).with_name("corpus.jsonl")  # written paragraphs, six languages
REAL_PATH = Path(__file__).with_name("real.jsonl")  # real paragraphs of Chinese government work reports
GENRES_PATH = Path(__file__).with_name("genres.jsonl")  # real paragraphs of laws, plans, speeches... (zh, en)
TRANSLATIONS_PATH = Path(__file__).with_name("translations.jsonl")  # real train/dev paragraphs, translated
WRITTEN_GENRES_PATH = Path(__file__).with_name("written-genres.jsonl")  # written in the new genres' registers
# What ``train`` reads when not told: the data that gives the best model on real paragraphs (the real corpus
# leads: its dev split tunes, its test split scores; the written one adds languages and price competition).
# What a run trains on by default: every shipped labeled file. The first file's test split is the run's own
# (``metrics.json``); each other file's test split is scored too. Translations have no test split.
DEFAULT_DATA = [str(REAL_PATH), str(CORPUS_PATH), str(GENRES_PATH), str(TRANSLATIONS_PATH)]
SPLITS = ("train", "dev", "test")
_LANG = re.compile(r"^[a-z]{2}$")
_MAX_REPORTED = 20


class DataError(ValueError):
    """Bad input data. ``problems`` holds one ``file:line: problem`` string per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:_MAX_REPORTED]
        more = len(problems) - len(shown)
        super().__init__("\n".join(shown + ([f"... and {more} more problem(s)"] if more else [])))


@dataclass
class Example:
    id: str
    text: str
    labels: list[str]
    lang: str
    doc_id: str
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The row as written; a row read without ``lang`` (``und``) is written without it, so it reads back."""
        row = {"id": self.id, "text": self.text, "labels": self.labels, "lang": self.lang, "doc_id": self.doc_id}
        if self.lang == "und":
            del row["lang"]
        return {**row, **self.extra}


_THEME_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def load_schema(path: str | Path | None = None) -> list[dict]:
    """The themes of a codebook file (default: the shipped one, ``data/labels.json``), in their order:
    dicts with ``id``, ``name``, ``description``. DataError naming the file and the problem otherwise."""
    path = Path(path or SCHEMA_PATH)
    try:
        themes = json.loads(path.read_bytes().decode("utf-8"))["labels"]
    except FileNotFoundError:
        raise DataError([f"{path}: no such codebook file"]) from None
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(
            [f"{path}: not a codebook ({{'labels': [{{'id', 'name', 'description'}}, ...]}}): {e}"]
        ) from None
    problems, seen = [], set()
    for i, lab in enumerate(themes if isinstance(themes, list) else [None]):
        if not isinstance(lab, dict) or not isinstance(lab.get("id"), str) or not _THEME_ID.match(lab["id"]):
            problems.append(f"{path}: theme {i + 1}: needs an 'id' of lower-case letters, digits and _")
        elif lab["id"] in seen:
            problems.append(f"{path}: theme {lab['id']!r} appears twice")
        else:
            seen.add(lab["id"])
            lab.setdefault("name", lab["id"])
            lab.setdefault("description", "")
    if not problems and not themes:
        problems.append(f"{path}: no themes")
    if problems:
        raise DataError(problems)
    return themes


def label_ids(path: str | Path | None = None) -> list[str]:
    return [lab["id"] for lab in load_schema(path)]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def to_matrix(examples: Iterable[Example], labels: list[str]) -> np.ndarray:
    """Binary indicator matrix (n_examples, n_labels) in the order of ``labels``."""
    index = {lab: j for j, lab in enumerate(labels)}
    rows = list(examples)
    y = np.zeros((len(rows), len(labels)), dtype=np.int8)
    for i, ex in enumerate(rows):
        for lab in ex.labels:
            y[i, index[lab]] = 1
    return y


def read_examples(path: str | Path, labels: list[str] | None = None) -> list[Example]:
    """Read and validate a labeled file (.jsonl, .csv or .parquet); raise DataError on any problem."""
    path = Path(path)
    labels = labels if labels is not None else label_ids()
    if not path.is_file():
        raise DataError([f"{path}: no such file"])
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(path)
    elif suffix == ".csv":
        rows = _table_rows(path, csv=True)
    elif suffix == ".parquet":
        rows = _table_rows(path, csv=False)
    else:
        raise DataError([f"{path}: unsupported format {suffix!r} (use .jsonl, .csv or .parquet)"])
    return _validate(path, rows, set(labels))


def write_examples(examples: Iterable[Example], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps(ex.to_dict(), ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> Iterator[tuple[str, int, object, str | None]]:
    """(``file:line``, line number, parsed value, problem) per non-blank line of a JSONL file; ``problem``
    says why a line cannot be read (invalid UTF-8, invalid JSON, nested too deeply; its value is then None),
    and the lines after it still come: the one JSONL reader of labeled files and documents."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                yield where, lineno, None, f"invalid UTF-8 at byte {e.start}"
                continue
            if not line.strip():
                continue
            try:
                yield where, lineno, json.loads(line), None
            except json.JSONDecodeError as e:
                yield where, lineno, None, f"invalid JSON: {e.msg} (column {e.colno})"
            except RecursionError:
                yield where, lineno, None, "JSON nested too deeply"


def _jsonl_rows(path: Path) -> Iterator[tuple[str, object]]:
    for where, _, rec, problem in read_jsonl(path):
        if problem is None and not isinstance(rec, dict):  # a string here would read as a reason
            problem = f"expected a JSON object, got {type(rec).__name__}"
        yield where, problem or rec


def _table_rows(path: Path, csv: bool) -> Iterator[tuple[str, object]]:
    import pandas as pd

    try:
        if csv:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        else:
            df = pd.read_parquet(path)
    except UnicodeDecodeError as e:
        yield f"{path}", f"invalid UTF-8 at byte {e.start}"
        return
    except Exception as e:  # noqa: BLE001 - any parser failure is a data problem
        yield f"{path}", f"cannot read {'CSV' if csv else 'Parquet'}: {str(e).splitlines()[0]}"
        return
    for i, rec in enumerate(df.to_dict(orient="records")):
        where = f"{path}:{i + 2}" if csv else f"{path}:row {i + 1}"
        if csv and "labels" in rec:
            rec["labels"] = [s.strip() for s in rec["labels"].split(";") if s.strip()]
        elif not csv and "labels" in rec and hasattr(rec["labels"], "tolist"):
            rec["labels"] = rec["labels"].tolist()
        yield where, rec


def _validate(path: Path, rows: Iterable[tuple[str, object]], known: set[str]) -> list[Example]:
    problems: list[str] = []
    examples: list[Example] = []
    first_seen: dict[str, str] = {}
    for where, rec in rows:
        if isinstance(rec, str):
            problems.append(f"{where}: {rec}")
            continue
        if not isinstance(rec, dict):
            problems.append(f"{where}: expected a JSON object, got {type(rec).__name__}")
            continue
        bad = _row_problems(rec, known)
        if bad:
            problems.extend(f"{where}: {p}" for p in bad)
            continue
        ex_id = str(rec["id"])
        if ex_id in first_seen:
            problems.append(f"{where}: duplicate id {ex_id!r} (first at {first_seen[ex_id]})")
            continue
        first_seen[ex_id] = where
        extra = {k: v for k, v in rec.items() if k not in ("id", "text", "labels", "lang", "doc_id")}
        examples.append(
            Example(
                ex_id,
                rec["text"],
                list(rec["labels"]),
                rec.get("lang") or "und",
                str(rec.get("doc_id") or ex_id),
                extra,
            )
        )
    if problems:
        raise DataError(problems)
    if not examples:
        raise DataError([f"{path}: no paragraphs"])
    return examples


def _row_problems(rec: dict, known: set[str]) -> list[str]:
    out = []
    if "id" not in rec or rec["id"] in (None, ""):
        out.append("missing 'id'")
    elif not isinstance(rec["id"], (str, int)) or isinstance(rec["id"], bool):
        out.append(f"'id' must be a string, got {type(rec['id']).__name__}")
    text = rec.get("text")
    if text is None:
        out.append("missing 'text'")
    elif not isinstance(text, str):
        out.append(f"'text' must be a string, got {type(text).__name__}")
    elif not text.strip():
        out.append("empty 'text'")
    labs = rec.get("labels")
    if labs is None:
        out.append("missing 'labels' (use [] for a paragraph with no theme)")
    elif not isinstance(labs, list) or not all(isinstance(x, str) for x in labs):
        out.append("'labels' must be a list of theme ids")
    else:
        unknown = [x for x in labs if x not in known]
        if unknown:
            out.append(f"unknown label {unknown[0]!r} (known: {', '.join(sorted(known))})")
        elif len(set(labs)) != len(labs):
            out.append("a label is repeated in 'labels'")
    lang = rec.get("lang")
    if lang is not None and (not isinstance(lang, str) or not _LANG.match(lang)):
        out.append(f"'lang' must be an ISO 639-1 code such as 'zh' or 'en', got {lang!r}")
    doc = rec.get("doc_id")
    if doc is not None and not isinstance(doc, (str, int)):
        out.append(f"'doc_id' must be a string, got {type(doc).__name__}")
    split = rec.get("split")
    if split is not None and split not in SPLITS:
        out.append(f"'split' must be one of {', '.join(SPLITS)}, got {split!r}")
    return out
