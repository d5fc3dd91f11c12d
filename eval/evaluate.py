"""Score a model on labeled paragraphs and write ``metrics.json`` and ``predictions.jsonl``.

Besides the figures, the metrics file keeps what a report needs to draw and explain them without running
the model again: PR-curve points and reliability bins per theme, the most confident errors, the n-grams
that weigh most (linear baselines), the cost of the run, and a fingerprint of the scored paragraphs so a
comparison can refuse runs scored on different data.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from policytheme.data.records import DataError, Example, file_sha256, read_examples, to_matrix
from policytheme.data.splits import Source, assign_splits, run_sources
from policytheme.eval.calibration import theme_curves
from policytheme.eval.errors import confident_errors
from policytheme.eval.metrics import evaluate_arrays
from policytheme.files import write_file, write_json
from policytheme.models import ThemeModel, load_model
from policytheme.models.folders import RunFolder


def evaluate_model(
    model: ThemeModel, examples: list[Example], data: dict, n_boot: int = 1000, seed: int = 0
) -> tuple[dict, list[dict]]:
    """Metrics (overall, per theme, per language, with a bootstrap CI) and one prediction row per paragraph.

    ``data`` describes what was scored (path, sha256, split) and is stored in the metrics, so a
    comparison can tell whether two runs were scored on the same paragraphs.
    """
    texts = [ex.text for ex in examples]
    started = time.perf_counter()
    scores = model.predict_proba(texts)
    seconds = time.perf_counter() - started
    pred = model.decide(scores, texts)
    y = to_matrix(examples, model.labels)
    metrics = evaluate_arrays(y, pred, scores, [ex.lang for ex in examples], model.labels, n_boot=n_boot, seed=seed)
    rows = [
        {
            "id": ex.id,
            "doc_id": ex.doc_id,
            "lang": ex.lang,
            "labels": ex.labels,
            "predicted": [lab for lab, on in zip(model.labels, p) if on],
            "scores": {lab: round(float(s), 6) for lab, s in zip(model.labels, sc)},
            "text": ex.text,
        }
        for ex, p, sc in zip(examples, pred, scores)
    ]
    metrics = {
        "data": {**data, "paragraphs": len(examples), "paragraphs_sha256": paragraphs_sha256(examples)},
        "labels": model.labels,
        "thresholds": {lab: float(t) for lab, t in zip(model.labels, model.thresholds_)},
        "predict_seconds": round(seconds, 4),
        "paragraphs_per_second": round(len(examples) / seconds, 1) if seconds > 0 else None,
        **metrics,
        "curves": theme_curves(y, scores, model.labels),
        "errors": confident_errors(y, pred, scores, rows, model.labels),
        "top_ngrams": model.top_terms(),
    }
    return metrics, rows


def paragraphs_sha256(examples: list[Example]) -> str:
    """Fingerprint of which paragraphs were scored, with which gold labels (order does not matter)."""
    lines = sorted(f"{ex.id}\t{';'.join(sorted(ex.labels))}" for ex in examples)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def run_test_split(run: RunFolder) -> tuple[list[Example], dict]:
    """The test paragraphs of a run (its first data file's), rebuilt from its config; refused if the data
    changed since."""
    config = run.config()
    sources = trained_sources(run, hint="; pass --data FILE")
    langs = config.eval_langs  # a cross-lingual run is scored on its evaluation languages only
    test = [ex for ex in sources[0].parts["test"] if not langs or ex.lang in langs]
    if not test:
        raise DataError([f"{config.data[0]}: no paragraphs in the test split of {run.path}; pass --data FILE"])
    return test, {"path": config.data[0], "sha256": sources[0].sha256, "split": "test", "langs": langs}


def trained_sources(run: RunFolder, hint: str = "") -> list[Source]:
    """A run's data files, split as when it was trained; refused (DataError, ending in ``hint``) if one is gone
    or changed."""
    config, record = run.config(), run.record()
    trained = [record["data"], *record["data"].get("with", [])]
    for path, then in zip(config.data, trained):
        if not Path(path).is_file():
            raise DataError([f"{path}: training data of {run.path} not found{hint}"])
        if file_sha256(path) != then.get("sha256"):
            raise DataError([f"{path}: changed since {run.path} was trained (sha256 differs){hint}"])
    return run_sources(config, run.labels())


def seen_in_training(run: RunFolder) -> set[str]:
    """The texts a run was fitted and tuned on (the train and dev splits of every data file), whitespace
    collapsed; DataError when its data files are gone or changed, so that it cannot be told."""
    return {
        " ".join(ex.text.split()) for s in trained_sources(run) for name in ("train", "dev") for ex in s.parts[name]
    }


def split_of(
    path: str | Path, split: str, labels: list[str], seeds_from: RunFolder | None
) -> tuple[list[Example], dict]:
    """One split of a labeled file: by its ``split`` column, else split as the run split its own data."""
    config = seeds_from.config() if seeds_from else None
    examples = read_examples(path, labels)
    if config:
        parts = assign_splits(examples, dev=config.dev_fraction, test=config.test_fraction, seed=config.seed)
    else:
        parts = assign_splits(examples)
    if not parts[split]:
        raise DataError([f"{path}: no paragraphs in its {split} split"])
    return parts[split], {"path": str(path), "sha256": file_sha256(path), "split": split}


def evaluate_run(
    run: str | Path,
    data: str | Path | None = None,
    out: str | Path | None = None,
    predictions: str | Path | None = None,
    n_boot: int = 1000,
    split: str | None = None,
    unseen: bool = False,
) -> dict:
    """Evaluate a run folder on ``data`` (default: its own test split) and write the results.

    ``split`` scores one split of ``data`` (its ``split`` column, or the run's own way of splitting).
    The metrics count the paragraphs of ``data`` whose text the run was trained or tuned on
    (``data.seen_in_training``); ``unseen`` leaves them out.
    Default outputs: ``RUN/metrics.json`` and ``RUN/predictions.jsonl`` for the run's test split,
    ``RUN/metrics-<data stem>[-<split>].json`` and ``RUN/predictions-<data stem>[-<split>].jsonl`` otherwise.
    """
    path = Path(run)
    folder = RunFolder.open(path) if data is None or not (path / "model.json").is_file() else None
    model = load_model(path)
    if data is None:
        examples, info = run_test_split(folder)
        default_out = path / "metrics.json"
    elif split:
        examples, info = split_of(data, split, model.labels, folder)
        default_out = path / f"metrics-{Path(data).stem}-{split}.json"
    else:
        examples = read_examples(data, model.labels)
        info = {"path": str(data), "sha256": file_sha256(data), "split": None}
        default_out = path / f"metrics-{Path(data).stem}.json"
    if data is not None:
        examples, info = _leave_out_seen(examples, info, folder, unseen)
        if unseen:
            default_out = default_out.with_name(f"{default_out.stem}-unseen.json")
    out = Path(out) if out else default_out
    if out.is_dir():
        raise DataError([f"{out}: is a folder; --out names the metrics file"])
    metrics, rows = evaluate_model(model, examples, info, n_boot=n_boot)
    record = folder.record() if folder else {}
    cost = {k: record[k] for k in ("fit_seconds", "model_bytes") if k in record}
    metrics = {"run": path.name, "model": record.get("model", model.kind), **metrics, **cost}
    write_evaluation(metrics, rows, out, Path(predictions) if predictions else default_predictions(out))
    return metrics


def _leave_out_seen(
    examples: list[Example], info: dict, folder: RunFolder | None, unseen: bool
) -> tuple[list[Example], dict]:
    """``examples`` (without those the run saw, with ``unseen``) and ``info`` with how many it saw."""
    try:
        if folder is None:
            raise DataError(["a model folder keeps no record of its training data: pass its run folder"])
        seen = seen_in_training(folder)
    except DataError as e:
        if unseen:
            raise DataError([f"--unseen: cannot tell which paragraphs the run saw: {e.problems[0]}"]) from None
        return examples, {**info, "seen_in_training": None}
    was_seen = [" ".join(ex.text.split()) in seen for ex in examples]
    n_seen = sum(was_seen)
    if unseen:
        examples = [ex for ex, s in zip(examples, was_seen) if not s]
        if not examples:
            raise DataError([f"{info['path']}: every paragraph is in the run's training data (--unseen leaves none)"])
    return examples, {**info, "seen_in_training": n_seen, "unseen": unseen}


def default_predictions(metrics_path: Path) -> Path:
    """``metrics.json`` -> ``predictions.jsonl``, ``metrics-x.json`` -> ``predictions-x.jsonl``, else beside it."""
    name, suffix = metrics_path.name, metrics_path.suffix
    if name.startswith("metrics"):
        rest = name[len("metrics") : len(name) - len(suffix)]
        return metrics_path.with_name(f"predictions{rest}.jsonl")
    return metrics_path.with_name(metrics_path.stem + ".predictions.jsonl")


def write_evaluation(metrics: dict, rows: list[dict] | None, out: Path, predictions: Path | None) -> None:
    """Write metrics (and predictions, if a path is given), each atomically.

    The metrics record where their predictions are (relative to the metrics file), for paired tests.
    """
    if predictions is not None and rows is not None:
        metrics["predictions"] = os.path.relpath(predictions, out.parent)
        write_file(predictions, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    write_json(out, metrics)
