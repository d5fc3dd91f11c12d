"""The ``ray`` engine: the same labeling through Ray Data, for corpora that outgrow one machine.

Input files are read by Ray tasks (one per file, so the files must be reachable from every node: a
shared file system), paragraphs are scored by model replicas running as Ray actors (one per GPU, or
one per CPU slot), and the driver receives the scored paragraphs in input order and commits them to
the same part store as the local engine, so the output, the resume and the error list are the same.

Where it runs is Ray's usual choice: the cluster named by ``RAY_ADDRESS`` (e.g. ``ray://head:10001``
or ``auto`` for one started with ``ray start``), a Ray instance already started in this process, or
else a new local one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from policytheme.label.stream import Cursor, Paragraph, Skipped, read_file
from policytheme.models import ModelError


def _ray():
    try:
        import ray
    except ImportError:
        raise ModelError(
            "--engine ray needs Ray Data: pip install 'policytheme[ray]' (or pip install 'ray[data]')"
        ) from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        local = {} if address else {"include_dashboard": False}  # a new local instance: no web dashboard
        ray.init(address=address, log_to_driver=False, **local)
    return ray


def _read(item: dict) -> list[dict]:
    """Every paragraph of one file (after ``skip``) as rows; a failure becomes a row with ``error`` set."""
    rows = []
    for x in read_file(int(item["file"]), Path(item["path"]), int(item["skip"])):
        if isinstance(x, Skipped):
            rows.append({"file": x.file, "position": -1, "doc_id": "", "paragraph": -1, "source": x.path,
                         "start": -1, "end": -1, "text": "", "error": x.error})  # fmt: skip
        else:
            rows.append({**vars(x), "error": ""})
    return rows


def _plain(value):
    """A numpy scalar as the Python value it holds."""
    return value.item() if isinstance(value, np.generic) else value


class Replica:
    """One copy of the model on one GPU or CPU slot; scores a batch of rows."""

    def __init__(self, folder: str):
        from policytheme.models import load_model

        self.model = load_model(folder)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ok = batch["error"] == ""
        scores = np.zeros((len(ok), len(self.model.labels)), dtype=np.float32)
        if ok.any():
            scores[ok] = self.model.predict_proba([str(t) for t in batch["text"][ok]])
        batch["scores"] = scores
        return batch


def ray_engine(folder: Path, files: list[Path], start: Cursor, size: int, workers: int = 0) -> Iterator[tuple]:
    """(rows, scores, errors, cursor) per batch of ``size`` rows, in input order, scored on the cluster."""
    ray = _ray()
    from ray.data import ActorPoolStrategy, DataContext

    context = DataContext.get_current()
    context.execution_options.preserve_order = True  # the output keeps the input order
    context.enable_progress_bars = False  # the labeler shows its own
    context.print_on_execution_start = False
    gpus, cpus = int(ray.cluster_resources().get("GPU", 0)), ray.cluster_resources().get("CPU", 1)
    # Replicas take the GPUs, or the CPU slots but half of one, which the reading tasks keep: a pool that
    # held every slot would leave no room to read, and the pipeline would wait forever.
    replicas = workers or gpus or max(1, int(cpus - 0.5))
    replica_cpus = 0 if gpus else min(1.0, (cpus - 0.5) / replicas)
    first, skip = start
    items = [{"file": i, "path": str(files[i]), "skip": skip if i == first else 0} for i in range(first, len(files))]
    blocks = max(1, min(len(items), 8 * replicas))  # enough read tasks to keep the replicas fed
    ds = ray.data.from_items(items, override_num_blocks=blocks).flat_map(_read, num_cpus=0.5)
    ds = ds.map_batches(
        Replica,
        fn_constructor_args=(str(folder),),
        batch_size=size,
        batch_format="numpy",
        compute=ActorPoolStrategy(size=replicas),
        num_gpus=1 if gpus else 0,
        num_cpus=replica_cpus,
    )
    for batch in ds.iter_batches(batch_size=size, batch_format="numpy", prefetch_batches=2):
        rows, keep, errors = [], [], []
        for i in range(len(batch["file"])):
            file = int(batch["file"][i])
            if batch["error"][i]:
                errors.append({"file": file, "path": str(batch["source"][i]), "error": str(batch["error"][i])})
                cursor = (file + 1, 0)
                continue
            row = Paragraph(*(_plain(batch[k][i]) for k in Paragraph.__dataclass_fields__))
            rows.append(row)
            keep.append(i)
            cursor = row.after()
        yield rows, batch["scores"][keep], errors, cursor
