"""The paragraphs of a corpus as one ordered stream that can be restarted at any paragraph.

A position in the stream is a ``Cursor``: the index of an input file and how many paragraphs of that file
came before. Resuming at a cursor skips whole files without reading them, and re-reads only the file the
cursor is in. A file that cannot be read becomes a ``Skipped`` item in the stream, at the place where it
failed, so every engine records errors in the same order; a bad row of a table is a ``Skipped`` item too,
and the rows after it follow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from policytheme.data.documents import RowError, read_documents
from policytheme.data.records import DataError

Cursor = tuple[int, int]  # (file index, paragraphs of that file before this point)


@dataclass
class Paragraph:
    file: int
    position: int  # paragraphs of this file before this one
    doc_id: str
    paragraph: int  # index within its document
    source: str
    start: int
    end: int
    text: str

    def after(self) -> Cursor:
        return (self.file, self.position + 1)


@dataclass
class Skipped:
    file: int
    path: str  # the file, or file:line for a row of a table
    error: str
    ends_file: bool = True  # False: one bad row; the file's other rows follow


def input_identity(files: list[Path]) -> list[dict]:
    """What a resumed run checks has not changed: each input's path, size and modification time."""
    out = []
    for p in files:
        st = os.stat(p)
        out.append({"path": str(p), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def read_file(index: int, path: Path, skip: int = 0) -> Iterator[Paragraph | Skipped]:
    """The paragraphs of one input file after the first ``skip``; a failure ends the file with ``Skipped``."""
    position = 0
    try:
        for doc in read_documents(path):
            if isinstance(doc, RowError):
                yield Skipped(index, doc.where, f"{doc.where}: {doc.reason}", ends_file=False)
                continue
            for i, (text, (start, end)) in enumerate(zip(doc.paragraphs, doc.spans)):
                if position >= skip:
                    yield Paragraph(index, position, doc.doc_id, i, doc.source or str(path), start, end, text)
                position += 1
    except Exception as e:  # noqa: BLE001 - any parser's failure on one file is that file's problem
        reason = str(e).splitlines()[0] if isinstance(e, DataError) else f"{path}: {type(e).__name__}: {e}"
        yield Skipped(index, str(path), reason.splitlines()[0] if reason else f"{path}: unreadable")


def read_stream(files: list[Path], start: Cursor = (0, 0)) -> Iterator[Paragraph | Skipped]:
    """Every paragraph of ``files`` from ``start`` on, in order, with the files that failed."""
    first, skip = start
    for index in range(first, len(files)):
        yield from read_file(index, files[index], skip if index == first else 0)
