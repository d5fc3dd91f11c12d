"""Models behind one contract (see models.base): baselines now, transformers beside them later."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from models.base import ModelError, ThemeModel, read_meta
from models.keywords import KeywordModel
from models.tfidf import TfidfModel, baseline
from models.transformer import DEFAULT_BACKBONE, TransformerModel

# name on the command line -> factory(labels, **params)
MODELS = {
    "tfidf-logreg": baseline("logreg", C=4.0),
    "tfidf-svm": baseline("svm", C=0.5),
    "tfidf-nb": baseline("nb", alpha=0.3),
    "transformer": TransformerModel,
    "keywords": KeywordModel,
}
# "kind" in model.json -> class that loads it
KINDS = {m.kind: m for m in (TfidfModel, TransformerModel, KeywordModel)}


def make_model(name: str, labels: Sequence[str], **params) -> ThemeModel:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    return MODELS[name](labels, **params)


def model_dir(path: str | Path) -> Path:
    """The saved model a path names: a run folder's ``model/`` or the model folder itself."""
    directory = Path(path)
    if not directory.exists():
        raise ModelError(f"{directory}: no such model or run folder")
    return directory / "model" if (directory / "model").is_dir() else directory


def load_model(directory: str | Path) -> ThemeModel:
    """Load any saved model from its folder (a run folder's ``model/`` or the run folder itself)."""
    directory = model_dir(directory)
    kind = read_meta(directory).get("kind")
    if kind not in KINDS:
        raise ModelError(f"{directory}: unknown model kind {kind!r}")
    return KINDS[kind].load(directory)


__all__ = ["DEFAULT_BACKBONE", "MODELS", "ModelError", "ThemeModel", "load_model", "make_model", "model_dir"]
