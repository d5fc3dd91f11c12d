"""Labeled output committed in parts, so that a run killed at any moment resumes where it stopped.

While a run is going, ``OUT.parts/`` holds numbered part files and ``manifest.json``. A part is written to
a temporary name, flushed to disk and renamed into place; then the manifest, which lists the committed
parts, the cursor (where the stream goes on) and the running counts, is replaced the same way. The
manifest is the truth: a part file it does not list (the run died between the two renames) is rewritten.
When the stream is done, the parts are joined into ``OUT`` (via a temporary file and a rename), the
manifest is kept beside it as ``OUT.manifest.json`` (what made this file), and the parts are removed.

One run at a time writes an output: :class:`OutputLock` holds ``.OUT.lock`` (an advisory lock the system
drops when the process ends, however it ends) for the whole run, and a second run is refused with the pid
of the first.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from glob import escape as glob_escape
from pathlib import Path

import numpy as np

from policytheme.data.records import DataError
from policytheme.files import FolderError, exclusive, write_file
from policytheme.label.stream import Paragraph

FORMATS = (".jsonl", ".csv", ".parquet")


class OutputError(DataError):
    """An output that must not be written over (another model's, another corpus's, not ours)."""


class OutputLock:
    """``with OutputLock(out):`` the only run writing ``out`` (``policytheme.files.exclusive``: ``.OUT.lock``
    beside it, released by the system when its process ends); OutputError naming the other run otherwise."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out.with_name(f".{self.out.name}.lock")
        self._held = None
        self.fd: int | None = None  # the lock's descriptor, which forked scoring processes close

    def __enter__(self) -> OutputLock:
        held = exclusive(self.out)
        try:
            self.fd = held.__enter__()
        except FolderError as e:
            raise OutputError([str(e)]) from None
        self._held = held
        return self

    def __exit__(self, *exc) -> None:
        if self._held is not None:
            self._held.__exit__(None, None, None)
            self._held, self.fd = None, None


def _schema(labels: list[str], evidence: bool = False):
    import pyarrow as pa

    fields = [
        ("doc_id", pa.string()),
        ("paragraph", pa.int64()),
        ("source", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("text", pa.string()),
        ("labels", pa.list_(pa.string())),
        ("scores", pa.struct([(lab, pa.float32()) for lab in labels])),
    ]
    if evidence:
        fields.append(("evidence", pa.struct([(lab, pa.list_(pa.string())) for lab in labels])))
    return pa.schema(fields)


def encode_part(
    fmt: str,
    labels: list[str],
    rows: list[Paragraph],
    scores: np.ndarray,
    on: np.ndarray,
    evidence: list[dict] | None = None,
) -> bytes:
    """One part's bytes: JSON lines, CSV rows (the header goes only into the joined file) or a Parquet file.

    ``evidence``: per row, the phrases behind each theme it is labeled with (``label --evidence``)."""
    chosen = [[lab for lab, x in zip(labels, o) if x] for o in on]
    ev = [{lab: e.get(lab, []) for lab in c} for c, e in zip(chosen, evidence)] if evidence is not None else None
    if fmt == ".jsonl":
        out = []
        for i, (r, c, sc) in enumerate(zip(rows, chosen, scores)):
            row = {
                "doc_id": r.doc_id,
                "paragraph": r.paragraph,
                "source": r.source,
                "start": r.start,
                "end": r.end,
                "text": r.text,
                "labels": c,
                "scores": {lab: round(float(s), 6) for lab, s in zip(labels, sc)},
            }
            if ev is not None:
                row["evidence"] = ev[i]
            out.append(json.dumps(row, ensure_ascii=False) + "\n")
        return "".join(out).encode("utf-8")
    if fmt == ".csv":
        buf = io.StringIO()
        csv.writer(buf).writerows(
            [_cell(r.doc_id), r.paragraph, _cell(r.source), r.start, r.end, _cell(r.text), ";".join(c)]
            + [f"{s:.6f}" for s in sc]
            + ([_cell(_evidence_cell(ev[i]))] if ev is not None else [])
            for i, (r, c, sc) in enumerate(zip(rows, chosen, scores))
        )
        return buf.getvalue().encode("utf-8")
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {
        "doc_id": [r.doc_id for r in rows],
        "paragraph": [r.paragraph for r in rows],
        "source": [r.source for r in rows],
        "start": [r.start for r in rows],
        "end": [r.end for r in rows],
        "text": [r.text for r in rows],
        "labels": chosen,
        "scores": [dict(zip(labels, map(float, sc))) for sc in scores],
    }
    if ev is not None:
        columns["evidence"] = [{lab: e.get(lab, []) for lab in labels} for e in ev]
    table = pa.table(columns, schema=_schema(labels, ev is not None))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: one that starts like a formula (``=HYPERLINK(...)``, ``+``,
    ``-``, ``@``, a tab or carriage return) gets a leading apostrophe, as OWASP advises for CSV files."""
    return "'" + text if isinstance(text, str) and text.startswith(FORMULA_START) else text


def _evidence_cell(ev: dict[str, list[str]]) -> str:
    """``innovation: 研发投入 | 核心技术; industrial_upgrading: 高端化``"""
    return "; ".join(f"{lab}: {' | '.join(found)}" for lab, found in ev.items())


def csv_header(labels: list[str], evidence: bool = False) -> str:
    columns = ["doc_id", "paragraph", "source", "start", "end", "text", "labels"]
    return ",".join(columns + [f"score_{lab}" for lab in labels] + (["evidence"] if evidence else []))


class PartStore:
    """The parts folder and manifest of one output file."""

    def __init__(self, out: Path, labels: list[str], identity: dict):
        self.out, self.fmt, self.labels = out, out.suffix.lower(), labels
        self.dir = out.with_name(out.name + ".parts")
        self.path = self.dir / "manifest.json"
        self.sidecar = out.with_name(out.name + ".manifest.json")
        self.errors_file = out.with_name(out.name + ".errors.jsonl")
        self.partial = out.with_name(f".{out.name}.partial")  # the joined output until it is renamed into place
        self.identity = identity  # model and inputs: what a resumed or finished run must match
        self.evidence = bool(identity.get("evidence"))  # rows carry an evidence column
        self.manifest: dict = {}
        self.broken = False  # a commit failed: nothing more may be committed

    # --- state -------------------------------------------------------------------------------------
    def begin(self, overwrite: bool = False) -> str:
        """'fresh', 'resume' (parts of an interrupted run of the same job) or 'done' (the output is there).

        Call it holding the output's lock: what an interrupted run left (a half-joined output, temporary files of
        the output and its manifest and error list) is removed."""
        self.partial.unlink(missing_ok=True)
        for tmp in self.out.parent.glob(f".{glob_escape(self.out.name)}*.tmp"):  # killed between write and rename
            tmp.unlink(missing_ok=True)
        if overwrite:  # the old output stays until the new one replaces it
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.path.is_file():
            self.manifest = self._read(self.path)
            self._check_same_job(self.manifest, "an interrupted run in " + str(self.dir))
            return "resume"
        if self.out.exists() and not overwrite:
            if not self.sidecar.is_file():
                raise OutputError(
                    [
                        f"{self.out}: already exists and was not written by `policytheme label`; "
                        "choose another --out or pass --overwrite"
                    ]
                )
            self.manifest = self._read(self.sidecar)
            self._check_same_job(self.manifest, "it")
            shutil.rmtree(self.dir, ignore_errors=True)  # what a run stopped while cleaning up left behind
            return "done"
        shutil.rmtree(self.dir, ignore_errors=True)  # parts without a manifest: nothing was committed
        self.dir.mkdir(parents=True)
        self.manifest = {
            **self.identity,
            "output": str(self.out),
            "parts": [],  # rows per committed part, in order
            "cursor": [0, 0],
            "paragraphs": 0,
            "documents": 0,
            "themes": dict.fromkeys(self.labels, 0),
            "errors": [],
            "seconds": 0.0,
            "complete": False,
        }
        self._save()
        return "fresh"

    def _read(self, path: Path) -> dict:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise OutputError([f"{path}: unreadable manifest ({e}); pass --overwrite to start over"]) from None

    def _check_same_job(self, manifest: dict, what: str) -> None:
        mine, theirs = self.identity["model"], manifest.get("model", {})
        if theirs.get("sha256") != mine["sha256"]:
            which = (
                f"an earlier version of the model in {mine['path']} (its files changed since)"
                if theirs.get("path") == mine["path"]
                else f"another model ({theirs.get('path', '?')})"
            )
            raise OutputError(
                [f"{self.out}: {what} was labeled by {which}; choose another --out, or pass --overwrite to replace it"]
            )
        if bool(manifest.get("evidence")) != self.evidence:
            was = "with" if manifest.get("evidence") else "without"
            raise OutputError([f"{self.out}: {what} was labeled {was} --evidence; pass --overwrite to label again"])
        if manifest.get("inputs") != self.identity["inputs"]:
            then, now = len(manifest.get("inputs", [])), len(self.identity["inputs"])
            raise OutputError(
                [
                    f"{self.out}: {what} was labeled from other inputs ({then} files then, {now} now, or files "
                    "changed since); pass the same inputs, or --overwrite to start over"
                ]
            )

    @property
    def cursor(self) -> tuple[int, int]:
        return tuple(self.manifest["cursor"])

    # --- writing -----------------------------------------------------------------------------------
    def part_path(self, number: int) -> Path:
        return self.dir / f"part-{number:06d}{self.fmt}"

    def commit(
        self,
        rows: list[Paragraph],
        scores: np.ndarray,
        on: np.ndarray,
        cursor: tuple,
        errors: list,
        seconds: float,
        evidence: list[dict] | None = None,
    ) -> None:
        """Make ``rows`` (and the errors met before ``cursor``) durable; then the stream may go past them.

        All or nothing: after a failure nothing more is committed (the run must stop and be resumed)."""
        if self.broken:
            raise RuntimeError(f"{self.dir}: an earlier commit failed")
        try:
            m = json.loads(json.dumps(self.manifest))  # changed only once the part is on disk
            if rows:
                write_file(
                    self.part_path(len(m["parts"])), encode_part(self.fmt, self.labels, rows, scores, on, evidence)
                )
                m["parts"].append(len(rows))
            m["cursor"] = list(cursor)
            m["paragraphs"] += len(rows)
            m["documents"] += sum(r.paragraph == 0 for r in rows)
            for lab, n in zip(self.labels, on.sum(axis=0) if len(rows) else np.zeros(len(self.labels))):
                m["themes"][lab] += int(n)
            known = {(e["file"], e["path"]) for e in m["errors"]}
            m["errors"].extend(e for e in errors if (e["file"], e["path"]) not in known)  # met again on resume
            m["seconds"] += seconds
            self._save(m)
            self.manifest = m
        except BaseException:
            self.broken = True
            raise

    def add_errors(self, errors: list[dict]) -> None:
        """Record problems met outside the stream (folders that could not be searched)."""
        empty = np.zeros((0, len(self.labels)))
        self.commit([], empty, empty.astype(bool), self.cursor, errors, 0.0)

    def _save(self, manifest: dict | None = None) -> None:
        manifest = self.manifest if manifest is None else manifest
        write_file(self.path, json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))

    def finish(self) -> None:
        """Join the parts into the output, keep the manifest beside it, write the error list, clean up."""
        self.manifest["complete"] = True
        self._save()
        tmp = self.partial
        try:
            self._join(tmp)
            os.replace(tmp, self.out)
        finally:
            tmp.unlink(missing_ok=True)
        errors = self.manifest["errors"]
        if errors:
            lines = [json.dumps({"path": e["path"], "error": e["error"]}, ensure_ascii=False) + "\n" for e in errors]
            write_file(self.errors_file, "".join(lines).encode("utf-8"))
        else:
            self.errors_file.unlink(missing_ok=True)  # an old error list must not describe this output
        write_file(self.sidecar, self.path.read_bytes())
        self.path.unlink()  # first: a parts folder without its manifest holds nothing to resume
        shutil.rmtree(self.dir)

    def discard(self) -> None:
        """Forget an unfinished run (nothing worth keeping was labeled)."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def _join(self, tmp: Path) -> None:
        parts = [self.part_path(i) for i in range(len(self.manifest["parts"]))]
        if self.fmt == ".parquet":
            import pyarrow.parquet as pq

            with pq.ParquetWriter(tmp, _schema(self.labels, self.evidence)) as writer:
                for p in parts:  # one part in memory at a time
                    writer.write_table(pq.read_table(p))
            return
        with open(tmp, "wb") as f:
            if self.fmt == ".csv":
                f.write((csv_header(self.labels, self.evidence) + "\r\n").encode("utf-8"))
            for p in parts:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, f)
            f.flush()
            os.fsync(f.fileno())
