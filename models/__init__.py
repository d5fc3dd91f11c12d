"""Models behind one contract (see models.base): baselines now, transformers beside them later."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from policytheme.models.base import ModelError, ThemeModel
from policytheme.models.folders import FolderError, ModelCard, model_dir
from policytheme.models.keywords import KeywordModel
from policytheme.models.tfidf import TfidfModel, baseline
from policytheme.models.transformer import DEFAULT_BACKBONE, TransformerModel

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


def load_model(directory: str | Path) -> ThemeModel:
    """Load any saved model from its folder (a run folder's ``model/`` or the run folder itself)."""
    directory = model_dir(directory)
    card = ModelCard.read(directory)
    if card.kind not in KINDS:
        raise ModelError(f"{directory}: unknown model kind {card.kind!r} (known: {', '.join(KINDS)})")
    return KINDS[card.kind].load(directory, card)


__all__ = [
    "DEFAULT_BACKBONE",
    "MODELS",
    "FolderError",
    "ModelError",
    "ThemeModel",
    "load_model",
    "make_model",
    "model_dir",
]
