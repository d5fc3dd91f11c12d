"""Unlabeled documents for labeling and pretraining: find them, read them, split them into paragraphs.

Inputs are files, directories (searched recursively) or glob patterns. ``.txt``/``.md``/``.html``/``.htm``/
``.docx``/``.pdf`` files are one document each (read by ``data.formats``); ``.jsonl``/``.csv``/``.parquet``
files hold one document per row in a ``text`` column (``id``, when present, becomes the ``doc_id``).
Paragraphs are found by ``data.segment``. Everything streams: one document in memory at a time.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from data.formats import FORMAT_SUFFIXES, extract
from data.records import DataError
from data.segment import segment, split_paragraphs

__all__ = [
    "SUFFIXES",
    "TABLE_SUFFIXES",
    "Document",
    "expand_inputs",
    "iter_documents",
    "read_documents",
    "split_paragraphs",
]

TABLE_SUFFIXES = {".jsonl", ".csv", ".parquet"}
SUFFIXES = FORMAT_SUFFIXES | TABLE_SUFFIXES


@dataclass
class Document:
    """One document's paragraphs, where it came from, and where each paragraph lies in its text.

    ``text`` is the text the paragraphs were found in: for ``.txt``/``.md`` the file as decoded (byte-order
    mark removed, line breaks untouched); for HTML, DOCX and PDF the plain text their reader extracted (see
    ``data.formats``); for a table row its ``text`` field. ``text[start:end]`` for ``spans[i]`` runs from the
    first to the last character of ``paragraphs[i]`` before its lines were joined.
    """

    doc_id: str
    paragraphs: list[str]
    source: str = ""  # the file it was read from
    spans: list[tuple[int, int]] = field(default_factory=list)  # (start, end) in text, one per paragraph
    text: str = field(default="", repr=False)

    @classmethod
    def from_text(cls, doc_id: str, source: str, text: str, wrapped: bool | None = None) -> Document:
        """Segment ``text`` into a Document (``wrapped``: see ``data.segment.segment``)."""
        found = segment(text, wrapped)
        return cls(doc_id, [p for p, _, _ in found], source, [(a, b) for _, a, b in found], text)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files named by paths, directories and globs, each once, in a stable order."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in SUFFIXES))
        elif p.is_file():
            if p.suffix.lower() not in SUFFIXES:
                raise DataError([f"{p}: unsupported input type {p.suffix!r} (use {', '.join(sorted(SUFFIXES))})"])
            found.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in SUFFIXES]
            if not files:
                raise DataError([f"{item}: no such file, directory or matching documents"])
            found.extend(files)
    unique = list(dict.fromkeys(found))
    if not unique:
        raise DataError([f"{' '.join(inputs)}: no documents found ({', '.join(sorted(SUFFIXES))})"])
    return unique


def iter_documents(
    inputs: list[str], on_error: Callable[[Path, str], None] | None = None, encoding: str | None = None
) -> Iterator[Document]:
    """Every document of the inputs, streamed, split into paragraphs.

    Without ``on_error`` an unreadable file raises DataError. With it, the file is skipped and
    ``on_error(path, reason)`` is called with a one-line reason (documents it yielded before the problem
    are kept) and the following files are read. ``encoding`` overrides detection for text and HTML files.
    """
    for path in expand_inputs(inputs):
        try:
            yield from read_documents(path, encoding)
        except Exception as e:  # noqa: BLE001 - any parser's failure on one file is that file's problem
            if on_error is None:
                raise
            reason = str(e) if isinstance(e, DataError) else f"{path}: {type(e).__name__}: {e}"
            on_error(path, reason.splitlines()[0])


def read_documents(path: Path, encoding: str | None = None) -> Iterator[Document]:
    """The documents of one file: one for a document format, one per row for a table."""
    if path.suffix.lower() in FORMAT_SUFFIXES:
        text, wrapped = extract(path, encoding)
        yield Document.from_text(str(path), str(path), text, wrapped)
        return
    for where, row_no, rec in _table_records(path):
        text = rec.get("text")
        if not isinstance(text, str):
            raise DataError([f"{where}: missing or non-string 'text'"])
        doc_id = str(rec["id"]) if rec.get("id") not in (None, "") else f"{path}#{row_no}"
        yield Document.from_text(doc_id, str(path), text)


def _table_records(path: Path) -> Iterator[tuple[str, int, dict]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8-sig") as f:
            try:
                for lineno, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            rec = json.loads(line)
                        except json.JSONDecodeError as e:
                            raise DataError([f"{path}:{lineno}: invalid JSON: {e.msg}"]) from None
                        if not isinstance(rec, dict):
                            raise DataError([f"{path}:{lineno}: expected a JSON object"])
                        yield f"{path}:{lineno}", lineno, rec
            except UnicodeDecodeError as e:
                raise DataError([f"{path}: invalid UTF-8 at byte {e.start}"]) from None
        return
    if suffix == ".csv":
        import pandas as pd

        reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=2048)
        row = 0
        for chunk in reader:
            _require_text(path, chunk.columns)
            for rec in chunk.to_dict(orient="records"):
                row += 1
                yield f"{path}:{row + 1}", row, rec
        return
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    _require_text(path, pf.schema_arrow.names)
    row = 0
    for batch in pf.iter_batches(batch_size=2048):
        for rec in batch.to_pylist():
            row += 1
            yield f"{path}:row {row}", row, rec


def _require_text(path: Path, columns) -> None:
    if "text" not in list(columns):
        raise DataError([f"{path}: no 'text' column (columns: {', '.join(map(str, columns))})"])
