"""The contract every model keeps, so that train, eval and label never ask which kind they hold.

    model = make_model("tfidf-logreg", labels=["price_competition", ...])
    model.fit(texts, y, dev=(dev_texts, dev_y))  # y: (n, n_labels) 0/1 matrix; returns the model
    model.thresholds_ = tune_thresholds(y_dev, model.predict_proba(dev_texts))
    p = model.predict_proba(texts)      # (n, n_labels) probabilities, label order = model.labels
    model.score(model.prepare(texts))   # the same, in two halves a labeler can overlap
    model.predict(texts)                # 0/1 by the per-theme thresholds
    model.save(dir); load_model(dir)    # no pickle, no code from the files

Every saved model has ``model.json`` (kind, labels, thresholds, params) beside its weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

META_FILE = "model.json"


class ModelError(RuntimeError):
    """A model that cannot be built, loaded or used; the message says what to do."""


class ThemeModel:
    """Base class: label bookkeeping, thresholds, ``predict`` and the metadata file."""

    kind: str = ""
    defaults: dict = {}  # every parameter a model takes, with its default

    def __init__(self, labels: Sequence[str], **params):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ModelError(
                f"unknown {self.kind} parameter(s): {', '.join(sorted(unknown))} (known: {', '.join(self.defaults)})"
            )
        self.labels = list(labels)
        self.params = {**self.defaults, **params}
        self.thresholds_ = np.full(len(self.labels), 0.5)
        self.history_: list[dict] = []  # per-epoch dev figures, for models that train in epochs

    # --- the part each model implements -------------------------------------------------------
    def fit(self, texts: Sequence[str], y: np.ndarray, dev: tuple | None = None, **options) -> ThemeModel:
        """Learn from ``texts`` and their 0/1 label matrix ``y``. ``dev`` = (texts, y) may guide early
        stopping; ``options`` are training-time settings (``work_dir``, ``resume``, ``progress``)."""
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def prepare(self, texts: Sequence[str]):
        """The CPU-side half of ``predict_proba`` (features, tokens), which a labeler may run for the next
        batch while ``score`` runs on this one: ``predict_proba(texts) == score(prepare(texts))``."""
        return list(texts)

    def score(self, prepared) -> np.ndarray:
        """The other half: probabilities from what ``prepare`` returned."""
        return self.predict_proba(prepared)

    def _save_weights(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_weights(self, directory: Path) -> None:
        raise NotImplementedError

    def top_terms(self, k: int = 15) -> dict[str, list[tuple[str, float]]] | None:
        """Per theme, the ``k`` input features that weigh most for it, with their weights; None for models
        without one weight per feature (a transformer)."""
        return None

    # --- shared --------------------------------------------------------------------------------
    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return (self.predict_proba(texts) >= self.thresholds_).astype(np.int8)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_weights(directory)
        meta = {
            "kind": self.kind,
            "labels": self.labels,
            "params": self.params,
            "thresholds": {lab: float(t) for lab, t in zip(self.labels, self.thresholds_)},
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ThemeModel:
        directory = Path(directory)
        meta = read_meta(directory)
        model = cls(meta["labels"], **meta.get("params", {}))
        model.thresholds_ = np.array([meta["thresholds"][lab] for lab in model.labels], dtype=float)
        model._load_weights(directory)
        return model


def peak_memory() -> dict:
    """Peak resident memory of this process, and peak GPU memory when a GPU was used (for run records)."""
    import resource
    import sys

    out = {"rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        out["gpu_bytes"] = int(torch.cuda.max_memory_allocated())
    return out


def read_meta(directory: Path) -> dict:
    path = directory / META_FILE
    if not path.is_file():
        raise ModelError(f"{directory}: not a saved policytheme model (no {META_FILE})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
