"""Models behind one contract (see models.base): baselines now, transformers beside them later."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from policytheme.files import FolderError
from policytheme.models.base import ModelError, ThemeModel
from policytheme.models.folders import ModelCard, model_dir
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
    model = KINDS[card.kind].load(directory, card)
    if card.kind == TransformerModel.kind:  # its weights fail at load when damaged; a forward pass costs
        return model
    try:  # weights of the wrong structure load but fail on first use: find out now, not mid-corpus
        ok = np.asarray(model.predict_proba(["价格战 price war"])).shape == (1, len(model.labels))
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"{directory}: damaged model files ({type(e).__name__}); train or install it again") from None
    if not ok:
        raise ModelError(f"{directory}: the model's scores do not match its {len(model.labels)} themes; train it again")
    return model


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
