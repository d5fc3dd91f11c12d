"""Unlabeled documents for labeling and pretraining: find them, read them, split them into paragraphs.

Inputs are files, directories (searched recursively) or glob patterns. ``.txt``/``.md``/``.html``/``.htm``/
``.docx``/``.pdf`` files are one document each (read by ``data.formats``); ``.jsonl``/``.csv``/``.parquet``
files hold one document per row in a ``text`` column (``id``, when present, becomes the ``doc_id``).
Paragraphs are found by ``data.segment``. Everything streams: one document in memory at a time.

Bad input never stops the rest: a folder that cannot be read is reported by :func:`find_inputs`, a file
that cannot be read raises DataError for that file, and a bad row of a table is yielded as a
:class:`RowError` while the rows after it are read. Symbolic links to folders are not followed (a link
back to a parent would loop), and a file reached twice is read once.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from policytheme.data.formats import FORMAT_SUFFIXES, MAX_TEXT_CHARS, extract
from policytheme.data.records import DataError, read_jsonl
from policytheme.data.segment import segment, split_paragraphs

__all__ = [
    "SUFFIXES",
    "TABLE_SUFFIXES",
    "Document",
    "RowError",
    "expand_inputs",
    "find_inputs",
    "iter_documents",
    "read_documents",
    "split_paragraphs",
]

TABLE_SUFFIXES = {".jsonl", ".csv", ".parquet"}
TABLE_BATCH_BYTES = 16 * 2**20  # a Parquet file is read this many (uncompressed) bytes of rows at a time
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


@dataclass
class RowError:
    """A row of a table that cannot be labeled; the rows after it still are."""

    where: str  # path:line (or path:row N)
    reason: str


def find_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files named by paths, directories and globs, each once, in a stable order; and the (path, reason) of
    every folder that could not be read on the way.

    Directories are searched recursively and globs may use ``**``; neither follows a symbolic link to a
    folder (a link back up would loop for ever), and a file reached by two routes counts once.
    """
    found: list[Path] = []
    unreadable: list[tuple[str, str]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found.extend(_walk(p, None, unreadable))
        elif p.is_file():
            if p.suffix.lower() not in SUFFIXES:
                raise DataError([f"{p}: unsupported input type {p.suffix!r} (use {', '.join(sorted(SUFFIXES))})"])
            found.append(p)
        elif glob.has_magic(item):
            base, pattern = _split_glob(item)
            files = [f for f in _walk(base, pattern, unreadable)] if base.is_dir() else []
            if not files and not unreadable:
                raise DataError([f"{item}: no such file, directory or matching documents"])
            found.extend(files)
        elif p.exists() or p.is_symlink():
            unreadable.append((str(p), _access_reason(p)))
        else:
            raise DataError([f"{item}: no such file, directory or matching documents"])
    seen: set[Path] = set()
    unique = []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, unreadable


def expand_inputs(inputs: list[str]) -> list[Path]:
    """The files of :func:`find_inputs`; DataError when there are none (naming what could not be read)."""
    files, unreadable = find_inputs(inputs)
    if not files:
        problems = [f"{path}: {reason}" for path, reason in unreadable]
        raise DataError(problems or [f"{' '.join(inputs)}: no documents found ({', '.join(sorted(SUFFIXES))})"])
    return files


def _split_glob(pattern: str) -> tuple[Path, str]:
    """``reports/**/2025/*.txt`` -> (``reports``, ``**/2025/*.txt``): the folder before the first wildcard."""
    parts = Path(pattern).parts
    i = next(k for k, part in enumerate(parts) if glob.has_magic(part))
    return Path(*parts[:i]) if i else Path("."), "/".join(parts[i:])


def _glob_regex(pattern: str) -> re.Pattern:
    """A glob over '/'-separated relative paths: ``**`` any folders (or none), ``*``/``?`` within a name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            j = pattern.index("]", i + 2)
            body = pattern[i + 1 : j]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _walk(top: Path, pattern: str | None, unreadable: list[tuple[str, str]]) -> list[Path]:
    """Document files under ``top`` (matching ``pattern`` relative to it, if given), sorted, without
    following links to folders; folders that cannot be listed go to ``unreadable``."""
    regex = _glob_regex(pattern) if pattern else None
    depth = None if pattern is None or "**" in pattern else pattern.count("/")
    out = []

    def failed(e: OSError) -> None:
        unreadable.append((e.filename or str(top), _reason(e)))

    for root, dirs, files in os.walk(top, onerror=failed, followlinks=False):
        rel_root = Path(root).relative_to(top)
        level = 0 if str(rel_root) == "." else len(rel_root.parts)
        if depth is not None and level >= depth:
            dirs[:] = []
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = (rel_root / name).as_posix()
            if path.suffix.lower() not in SUFFIXES or (regex and not regex.match(rel)):
                continue
            if path.is_file():
                out.append(path)
    return sorted(out)


def _access_reason(p: Path) -> str:
    try:
        os.stat(p)
    except OSError as e:
        return _reason(e)
    return "cannot be read"


def _reason(e: OSError) -> str:
    return f"cannot read ({e.strerror or type(e).__name__})"


def iter_documents(
    inputs: list[str], on_error: Callable[[Path, str], None] | None = None, encoding: str | None = None
) -> Iterator[Document]:
    """Every document of the inputs, streamed, split into paragraphs.

    Without ``on_error`` an unreadable file or table row raises DataError. With it, the file (or row) is
    skipped and ``on_error(path, reason)`` is called with a one-line reason, and reading goes on.
    ``encoding`` overrides detection for text and HTML files.
    """
    files, unreadable = find_inputs(inputs)
    for path, reason in unreadable:
        if on_error is None:
            raise DataError([f"{path}: {reason}"])
        on_error(Path(path), f"{path}: {reason}")
    for path in files:
        try:
            for item in read_documents(path, encoding):
                if isinstance(item, RowError):
                    if on_error is None:
                        raise DataError([f"{item.where}: {item.reason}"])
                    on_error(path, f"{item.where}: {item.reason}")
                else:
                    yield item
        except Exception as e:  # noqa: BLE001 - any parser's failure on one file is that file's problem
            if on_error is None:
                raise
            on_error(path, _one_line(e, path))


def _one_line(e: Exception, path: Path) -> str:
    reason = str(e) if isinstance(e, DataError) else f"{path}: {type(e).__name__}: {e}"
    return (reason.splitlines() or [f"{path}: unreadable"])[0]


def read_documents(path: Path, encoding: str | None = None) -> Iterator[Document | RowError]:
    """The documents of one file: one for a document format, one per row for a table (a bad row is a
    :class:`RowError` and the next rows follow). DataError when the file itself cannot be read."""
    if path.suffix.lower() in FORMAT_SUFFIXES:
        text, wrapped = extract(path, encoding)
        yield Document.from_text(str(path), str(path), text, wrapped)
        return
    for where, row_no, rec in _table_records(path):
        if isinstance(rec, str):
            yield RowError(where, rec)
            continue
        text = rec.get("text")
        if not isinstance(text, str):
            yield RowError(where, f"missing or non-string 'text' ({type(text).__name__})")
            continue
        if len(text) > MAX_TEXT_CHARS:
            yield RowError(where, f"'text' has {len(text):,} characters (limit {MAX_TEXT_CHARS:,})")
            continue
        doc_id = str(rec["id"]) if rec.get("id") not in (None, "") else f"{path}#{row_no}"
        yield Document.from_text(doc_id, str(path), text)


def _table_records(path: Path) -> Iterator[tuple[str, int, dict | str]]:
    """(where, row number, record) per row; a row that is not a JSON object comes as a reason string."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for where, lineno, rec, problem in read_jsonl(path):
            yield where, lineno, problem or (rec if isinstance(rec, dict) else "expected a JSON object")
        return
    if suffix == ".csv":
        yield from _csv_records(path)
        return
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - any parser failure is this file's problem
        raise DataError([f"{path}: cannot read Parquet ({str(e).splitlines()[0]})"]) from None
    _require_text(path, pf.schema_arrow.names)
    row = 0
    meta = pf.metadata
    raw_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    per_row = raw_bytes / max(1, meta.num_rows)  # dictionary-encoded repeats make this an underestimate...
    if meta.num_rows:  # ...so the first row's text is measured too
        first = next(pf.iter_batches(batch_size=1, columns=["text"])).column(0)
        per_row = max(per_row, first.nbytes)
    batch_rows = max(1, min(2048, int(TABLE_BATCH_BYTES // max(per_row, 1))))  # long rows: a few at a time
    for batch in pf.iter_batches(
        batch_size=batch_rows, columns=[c for c in ("id", "text") if c in pf.schema_arrow.names]
    ):
        for rec in batch.to_pylist():
            row += 1
            yield f"{path}:row {row}", row, rec


def _csv_records(path: Path) -> Iterator[tuple[str, int, dict | str]]:
    """CSV rows one at a time: a row with invalid UTF-8, more fields than the header or a field over the
    size limit is a reason string, and the rows after it follow (a short row is padded with empty fields)."""
    import csv

    csv.field_size_limit(max(csv.field_size_limit(), MAX_TEXT_CHARS + 1))
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f)
        header = None
        row = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                if header is None:
                    raise DataError([f"{path}: cannot read CSV ({e})"]) from None
                row += 1
                yield f"{path}:{reader.line_num}", row, f"cannot read this row ({e})"
                continue
            if header is None:
                header = fields
                _require_text(path, header)
                if any(_BAD_BYTES.search(c) for c in header):
                    raise DataError([f"{path}:1: invalid UTF-8 in the header"])
                continue
            if not fields:
                continue
            row += 1
            where = f"{path}:{reader.line_num}"
            if any(_BAD_BYTES.search(c) for c in fields):
                yield where, row, "invalid UTF-8"
            elif len(fields) > len(header):
                yield where, row, f"{len(fields)} fields, the header has {len(header)}"
            else:
                yield where, row, dict(zip(header, fields + [""] * (len(header) - len(fields))))
    if header is None:
        raise DataError([f"{path}: cannot read CSV (the file is empty)"])


_BAD_BYTES = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (decoded with surrogateescape)


def _require_text(path: Path, columns) -> None:
    if "text" not in list(columns):
        raise DataError([f"{path}: no 'text' column (columns: {', '.join(map(str, columns))})"])
