"""Train one model and write a run folder that explains itself.

    runs/NAME/
      model/            the model (model.json + weights), loadable by models.load_model
      labels.json       the label schema the model was trained on
      thresholds.json   the per-theme decision thresholds tuned on dev
      config.json       the resolved configuration (re-run it with the same command)
      run.json          data sha256, split sizes, library versions, git revision, timings
      metrics.json      written by eval on the test split (policytheme train does it)
      predictions.jsonl per test paragraph: gold labels, predicted labels, scores

A run is built in a staging folder and moved into place only when complete, so an interrupted or
failed run never leaves a half-written folder, and an earlier run is replaced only when asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from data.records import CORPUS_PATH, SCHEMA_PATH, Example, file_sha256, load_schema, read_examples, to_matrix
from data.splits import assign_splits, split_summary
from models import ThemeModel, make_model
from models.thresholds import tune_thresholds

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "skops",
    "pandas",
    "pyarrow",
    "torch",
    "transformers",
    "datasets",
    "policytheme",
)


class RunError(RuntimeError):
    """A run that cannot be written (for example: the folder holds another run)."""


@dataclass
class TrainConfig:
    model: str
    out: str
    data: str = str(CORPUS_PATH)
    seed: int = 0
    dev_fraction: float = 0.1
    test_fraction: float = 0.1
    params: dict = field(default_factory=dict)


@dataclass
class TrainResult:
    model: ThemeModel
    parts: dict[str, list[Example]]
    record: dict


def train(config: TrainConfig, run_dir: Path) -> TrainResult:
    """Fit ``config.model`` on the train split, tune thresholds on dev, save everything to ``run_dir``."""
    labels = [lab["id"] for lab in load_schema()]
    examples = read_examples(config.data, labels)
    parts = assign_splits(examples, dev=config.dev_fraction, test=config.test_fraction, seed=config.seed)
    train_rows, dev_rows = parts["train"], parts["dev"]
    model = make_model(config.model, labels, seed=config.seed, **config.params)

    started = time.perf_counter()
    model.fit([ex.text for ex in train_rows], to_matrix(train_rows, labels))
    fit_seconds = time.perf_counter() - started
    if dev_rows:
        dev_scores = model.predict_proba([ex.text for ex in dev_rows])
        model.thresholds_ = tune_thresholds(to_matrix(dev_rows, labels), dev_scores)

    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "model")
    shutil.copyfile(SCHEMA_PATH, run_dir / "labels.json")
    thresholds = {lab: float(t) for lab, t in zip(labels, np.asarray(model.thresholds_))}
    _write_json(run_dir / "thresholds.json", thresholds)
    _write_json(run_dir / "config.json", {**asdict(config), "model_params": model.params})
    record = {
        "name": Path(config.out).name,
        "model": config.model,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": {"path": str(config.data), "sha256": file_sha256(config.data), "paragraphs": len(examples)},
        "splits": split_summary(parts),
        "fit_seconds": round(fit_seconds, 3),
        "model_bytes": _folder_bytes(run_dir / "model"),
        "git": git_revision(),
        "python": platform.python_version(),
        "libraries": library_versions(),
    }
    _write_json(run_dir / "run.json", record)
    return TrainResult(model, parts, record)


@contextlib.contextmanager
def staged_run(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging folder next to ``out``; move it to ``out`` only if the block succeeds."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise RunError(f"{out}: folder exists and is not empty; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def git_revision() -> dict | None:
    """The project's git commit and whether the work tree had changes, or None outside a repository."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str | None]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
