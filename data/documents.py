"""Unlabeled documents for labeling and pretraining: find them, read them, split them into paragraphs.

Inputs are files, directories (searched recursively) or glob patterns. ``.txt``/``.md`` files are one
document each; ``.jsonl``/``.csv``/``.parquet`` files hold one document per row in a ``text`` column
(``id``, when present, becomes the ``doc_id``). Everything streams: one document in memory at a time.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from data.records import DataError

TEXT_SUFFIXES = {".txt", ".md"}
TABLE_SUFFIXES = {".jsonl", ".csv", ".parquet"}
SUFFIXES = TEXT_SUFFIXES | TABLE_SUFFIXES

_BLANK_LINE = re.compile(r"\n[ \t\u3000]*\n")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass
class Document:
    doc_id: str
    paragraphs: list[str]
    source: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)  # TEMPORARY until the formats branch lands

    def __post_init__(self):
        if not self.spans:
            self.spans = [(0, len(p)) for p in self.paragraphs]


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of a text: blocks between blank lines; a text without blank lines splits at line breaks.

    Lines inside one block are joined: with no space between CJK characters, with one space otherwise.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    blocks = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    out = []
    for block in blocks:
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if lines:
            out.append(_join_lines(lines))
    return out


def _join_lines(lines: list[str]) -> str:
    joined = lines[0]
    for ln in lines[1:]:
        sep = "" if _CJK.match(joined[-1]) or _CJK.match(ln[0]) else " "
        joined += sep + ln
    return joined


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


def iter_documents(inputs: list[str], on_error: Callable[[Path, str], None] | None = None) -> Iterator[Document]:
    """Every document of the inputs, streamed, split into paragraphs.

    Without ``on_error`` an unreadable file raises DataError. With it, the file is skipped and
    ``on_error(path, reason)`` is called (documents it yielded before the problem are kept).
    """
    for path in expand_inputs(inputs):
        try:
            yield from read_documents(path)
        except Exception as e:  # noqa: BLE001 - any parser's failure on one file is that file's problem
            if on_error is None:
                raise
            reason = str(e) if isinstance(e, DataError) else f"{path}: {type(e).__name__}: {e}".splitlines()[0]
            on_error(path, reason)


def read_documents(path: Path) -> Iterator[Document]:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            raise DataError([f"{path}: invalid UTF-8 at byte {e.start}"]) from None
        yield Document(str(path), split_paragraphs(text), str(path))
        return
    for where, row_no, rec in _table_records(path):
        text = rec.get("text")
        if not isinstance(text, str):
            raise DataError([f"{where}: missing or non-string 'text'"])
        doc_id = str(rec["id"]) if rec.get("id") not in (None, "") else f"{path}#{row_no}"
        yield Document(doc_id, split_paragraphs(text), str(path))


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
