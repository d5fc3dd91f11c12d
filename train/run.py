"""Train one model and write a run folder that explains itself (its files: ``models.folders``).

A run is built in a staging folder and moved into place only when complete, so an interrupted or
failed run never leaves a half-written folder, and an earlier run is replaced only when asked.
Checkpoints live in a work folder beside it (``runs/.NAME.work``) until the run is complete, so an
interrupted training continues with ``--resume``.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from policytheme.data.records import DataError, Example, load_schema, to_matrix
from policytheme.data.splits import (
    CROSSFIT_TUNES,
    Source,
    combine,
    crossfit_parts,
    data_paths,
    grouped_folds,
    lead_mask,
    run_sources,
    split_summary,
)
from policytheme.files import folder_bytes, write_json
from policytheme.models import ThemeModel, make_model
from policytheme.models.base import peak_memory
from policytheme.models.folders import TrainConfig

__all__ = ["TrainConfig", "TrainResult", "train", "work_dir_for"]

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


@dataclass
class TrainResult:
    model: ThemeModel
    parts: dict[str, list[Example]]  # "dev": the paragraphs that tuned (out-of-fold where ``folds``)
    record: dict
    sources: list[Source]
    tuning_scores: np.ndarray | None = None  # the scores that tuned, one row per parts["dev"] paragraph
    folds: int = 0  # cross-fitted folds that scored parts["dev"]; 0: the final model scored its dev split


def train(
    config: TrainConfig, run_dir: Path | None, work_dir: Path | None = None, progress: bool = True
) -> TrainResult:
    """Fit ``config.model`` and tune its thresholds, save everything to ``run_dir``.

    Cross-fitted (``tune_folds``, the default of every model but the transformer): the thresholds are tuned on
    out-of-fold scores of the real paragraphs (``out_of_fold``), then the model is fit on every train and dev
    paragraph. With 0 folds (or fewer than 2 documents): fit on the train split, tune on the dev split.
    ``run_dir=None`` trains without writing (the other processes of a distributed run).
    """
    schema = load_schema(config.codebook)
    labels = [lab["id"] for lab in schema]
    if "seed" in config.params:
        raise DataError(["--param seed: use --seed (it seeds the split and the model)"])
    model = make_model(config.model, labels, seed=config.seed, **config.params)
    sources = run_sources(config, labels)
    folds = tune_folds(config, model)
    if folds:
        tuning = config.tune_with if config.tune_with is not None else CROSSFIT_TUNES
        parts = select_languages(crossfit_parts(sources, tuning), config.train_langs, config.eval_langs)
        folds = min(folds, len({ex.doc_id for ex in parts["train"]}))
        if folds < 2 or not parts["dev"]:  # too few documents to cross-fit: the dev split tunes
            folds = 0
    if not folds:
        parts = select_languages(combine(sources), config.train_langs, config.eval_langs)
    train_rows, dev_rows = parts["train"], parts["dev"]
    if not train_rows:
        raise DataError([f"{data_paths(config.data)[0]}: no paragraphs in the train split"])
    dev = ([ex.text for ex in dev_rows], to_matrix(dev_rows, labels))

    started = time.perf_counter()
    scores = None
    if folds:
        fold_of = grouped_folds(train_rows, folds, config.seed)
        scores = out_of_fold(config, labels, train_rows, dev_rows, sources, fold_of, progress)
    guide = None if folds else dev  # cross-fitted, the tuning paragraphs train too: they cannot guide
    fit_rows(model, train_rows, sources, guide, work_dir=work_dir, resume=config.resume, progress=progress)
    fit_seconds = time.perf_counter() - started
    resources = peak_memory()
    if dev_rows:
        if scores is None:
            scores = model.predict_proba(dev[0])
        model.tune(*dev, scores=scores)
    model.provenance_ = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": config.model,
        "labels": schema,
        "data": [{"path": s.path, "sha256": s.sha256, "paragraphs": len(s.examples)} for s in sources],
        "libraries": library_versions(),
        "python": platform.python_version(),
    }
    record = {
        "name": Path(config.out).name,
        "model": config.model,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": describe_sources(sources),
        "splits": split_summary(parts),
        "fit_seconds": round(fit_seconds, 3),
        "tuning": {"folds": folds, "paragraphs": len(dev_rows)},
        "training": model.train_figures_,
        "peak_memory": resources,
        "git": git_revision(),
        "python": platform.python_version(),
        "libraries": library_versions(),
    }
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        model.save(run_dir / "model")
        record["model_bytes"] = folder_bytes(run_dir / "model")
        write_json(run_dir / "labels.json", {"version": 1, "labels": schema})
        write_json(run_dir / "config.json", {**asdict(config), "model_params": model.params})
        write_json(run_dir / "run.json", record)
        if model.history_:
            write_json(run_dir / "history.json", model.history_)
    return TrainResult(model, parts, record, sources, scores, folds)


def tune_folds(config: TrainConfig, model: ThemeModel) -> int:
    """How many cross-fitted folds score the tuning paragraphs: ``--tune-folds``, else the model kind's own
    number (``ThemeModel.tune_folds``: 0 for a transformer, whose dev split also picks its checkpoint)."""
    return model.tune_folds if config.tune_folds is None else config.tune_folds


def out_of_fold(
    config: TrainConfig,
    labels: list[str],
    rows: list[Example],
    tuning: list[Example],
    sources: list[Source],
    fold_of: np.ndarray,
    progress: bool,
) -> np.ndarray:
    """The scores of the ``tuning`` paragraphs (a part of ``rows``), each by a model fit on the folds of
    ``rows`` without its own (``fold_of``: per row, whole documents per fold, a translation with its source,
    ``grouped_folds``; -1: a row that always trains): scores from models that never saw the paragraph's
    document, as the final model's will be on a user's documents."""
    folds = int(fold_of.max()) + 1
    fold = dict(zip((ex.id for ex in rows), fold_of))
    out = np.zeros((len(tuning), len(labels)))
    where = np.array([fold[ex.id] for ex in tuning])
    for f in range(folds):
        held = where == f
        if not held.any():
            continue
        if progress:
            print(f"cross-fitting: fold {f + 1} of {folds}", file=sys.stderr, flush=True)
        model = make_model(config.model, labels, seed=config.seed, **config.params)
        fit_rows(model, [ex for ex, g in zip(rows, fold_of) if g != f], sources, None, progress=False)
        out[held] = model.predict_proba([ex.text for ex, h in zip(tuning, held) if h])
    return out


def fit_rows(model: ThemeModel, rows: list[Example], sources: list[Source], dev: tuple | None, **options) -> None:
    """Fit ``model`` on ``rows`` (drawn from ``sources``, the first leading), with ``dev`` = (texts, y) and
    the training ``options``: how ``train``, learning curves and cross-validation all fit."""
    texts, y = [ex.text for ex in rows], to_matrix(rows, model.labels)
    model.fit(texts, y, dev=dev, lead=lead_mask(rows, sources), **options)


def describe_sources(sources: list[Source]) -> dict:
    """What a run records of its data: the first file (path, sha256, sizes), the others under ``with``."""
    return {**sources[0].describe(), "with": [s.describe() for s in sources[1:]]}


def select_languages(
    parts: dict[str, list[Example]], train_langs: list[str] | None, eval_langs: list[str] | None
) -> dict[str, list[Example]]:
    """Keep train and dev paragraphs in ``train_langs`` and test paragraphs in ``eval_langs``.

    Dev follows the training languages: thresholds and checkpoints are chosen without a look at the
    languages the run is evaluated on, which is what a cross-lingual claim needs.
    """
    out = dict(parts)
    for names, langs in ((("train", "dev"), train_langs), (("test",), eval_langs)):
        if not langs:
            continue
        for name in names:
            out[name] = [ex for ex in parts[name] if ex.lang in langs]
        if not out[names[0]]:
            found = sorted({ex.lang for ex in parts[names[0]]})
            raise DataError([f"no {names[0]} paragraphs in {', '.join(langs)} (languages there: {', '.join(found)})"])
    return out


def select_test(rows: list[Example], eval_langs: list[str] | None) -> list[Example]:
    """The test paragraphs of ``eval_langs`` (all without it)."""
    return [ex for ex in rows if not eval_langs or ex.lang in eval_langs]


def work_dir_for(out: str | Path) -> Path:
    """Where a run keeps its checkpoints and caches until it is complete."""
    out = Path(out)
    return out.parent / f".{out.name}.work"


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
