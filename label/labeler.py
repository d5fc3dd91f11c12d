"""Batch labeling: documents in, one labeled row per paragraph out, streamed.

Memory holds one batch of paragraphs at a time, whatever the size of the corpus. A document that cannot
be read (corrupt, undecodable) is skipped and listed in ``OUT.errors.jsonl``; the run goes on. The output is written
to a hidden temporary file beside the target and moved into place when complete, so an interrupted run
never leaves a torn file behind (and never clobbers an earlier complete output).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data.documents import iter_documents
from data.records import DataError
from models import ThemeModel, load_model

OUTPUT_SUFFIXES = (".jsonl", ".csv", ".parquet")


@dataclass
class LabelSummary:
    documents: int = 0
    paragraphs: int = 0
    seconds: float = 0.0
    out: str = ""
    themes: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)  # {"path", "error"} of each document that was skipped
    errors_file: str = ""

    def __str__(self) -> str:
        rate = self.paragraphs / self.seconds if self.seconds else 0.0
        themes = ", ".join(f"{k} {v}" for k, v in self.themes.items())
        skipped = f"; {len(self.errors)} input(s) skipped, see {self.errors_file}" if self.errors else ""
        return (
            f"labeled {self.paragraphs} paragraphs of {self.documents} documents in {self.seconds:.1f}s "
            f"({rate:,.0f} paragraphs/s); themes: {themes}; output: {self.out}{skipped}"
        )


def _batches(inputs: list[str], size: int, summary: LabelSummary) -> Iterator[list[tuple[str, int, str]]]:
    batch: list[tuple[str, int, str]] = []

    def skip(path: Path, reason: str) -> None:
        summary.errors.append({"path": str(path), "error": reason})

    for doc in iter_documents(inputs, on_error=skip):
        summary.documents += 1
        for i, text in enumerate(doc.paragraphs):
            batch.append((doc.doc_id, i, text))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


class _Writer:
    """Streams rows to .jsonl, .csv or .parquet, chosen by the output's extension."""

    def __init__(self, path: Path, kind: str, labels: list[str]):
        self.path, self.kind, self.labels = path, kind, labels
        self._pq = None
        if self.kind == ".parquet":
            self.f = None
        else:
            self.f = open(path, "w", encoding="utf-8", newline="")
            if self.kind == ".csv":
                self.csv = csv.writer(self.f)
                self.csv.writerow(["doc_id", "paragraph", "text", "labels"] + [f"score_{lab}" for lab in labels])

    def write(self, rows: list[tuple[str, int, str]], scores: np.ndarray, on: np.ndarray) -> None:
        labels = self.labels
        if self.kind == ".jsonl":
            self.f.writelines(
                json.dumps(
                    {
                        "doc_id": d,
                        "paragraph": i,
                        "text": t,
                        "labels": [lab for lab, x in zip(labels, o) if x],
                        "scores": {lab: round(float(s), 6) for lab, s in zip(labels, sc)},
                    },
                    ensure_ascii=False,
                )
                + "\n"
                for (d, i, t), sc, o in zip(rows, scores, on)
            )
        elif self.kind == ".csv":
            self.csv.writerows(
                [d, i, t, ";".join(lab for lab, x in zip(labels, o) if x)] + [f"{s:.6f}" for s in sc]
                for (d, i, t), sc, o in zip(rows, scores, on)
            )
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table(
                {
                    "doc_id": [r[0] for r in rows],
                    "paragraph": [r[1] for r in rows],
                    "text": [r[2] for r in rows],
                    "labels": [[lab for lab, x in zip(labels, o) if x] for o in on],
                    "scores": [{lab: float(s) for lab, s in zip(labels, sc)} for sc in scores],
                }
            )
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, table.schema)
            self._pq.write_table(table)

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
        if self._pq is not None:
            self._pq.close()


def label_corpus(
    model: str | Path | ThemeModel, inputs: list[str], out: str | Path, batch_size: int = 512, progress: bool = True
) -> LabelSummary:
    """Label every paragraph of ``inputs`` with ``model`` (a run folder or a loaded model) into ``out``."""
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise DataError([f"{out}: output must end in {', '.join(OUTPUT_SUFFIXES)}"])
    model = load_model(model) if not isinstance(model, ThemeModel) else model
    thresholds = np.asarray(model.thresholds_)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    summary = LabelSummary(out=str(out))
    counts: Counter = Counter()
    started = time.perf_counter()
    writer = _Writer(tmp, out.suffix.lower(), model.labels)
    bar = tqdm(unit="para", desc="labeling", disable=not progress, dynamic_ncols=True)
    try:
        for batch in _batches(inputs, batch_size, summary):
            scores = model.predict_proba([t for _, _, t in batch])
            on = scores >= thresholds
            writer.write(batch, scores, on)
            counts.update({lab: int(n) for lab, n in zip(model.labels, on.sum(axis=0))})
            summary.paragraphs += len(batch)
            bar.update(len(batch))
        writer.close()
        if summary.paragraphs == 0:
            reasons = [e["error"] for e in summary.errors[:3]]
            raise DataError([f"{' '.join(inputs)}: no paragraphs to label", *reasons])
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - started
    summary.themes = {lab: counts.get(lab, 0) for lab in model.labels}
    errors_file = out.with_name(out.name + ".errors.jsonl")
    if summary.errors:
        errors_file.write_text(
            "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in summary.errors), encoding="utf-8"
        )
        summary.errors_file = str(errors_file)
    else:
        errors_file.unlink(missing_ok=True)  # an old error list must not describe this run
    return summary
