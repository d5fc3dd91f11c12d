"""The contract every model keeps, so that train, eval and label never ask which kind they hold.

    model = make_model("tfidf-logreg", labels=["price_competition", ...])
    model.fit(texts, y, dev=(dev_texts, dev_y))  # y: (n, n_labels) 0/1 matrix; returns the model
    model.tune(dev_texts, dev_y)        # per-theme (and per-script) F1-optimal thresholds on dev data
                                        # (train: on out-of-fold scores, ``tune_folds``)
    p = model.predict_proba(texts)      # (n, n_labels) probabilities, label order = model.labels
    model.score(model.prepare(texts))   # the same, in two halves a labeler can overlap
    model.decide(p, texts)              # 0/1 by the thresholds of each text's script; predict(texts) = both
    model.save(dir); load_model(dir)    # no pickle, no code from the files

Every saved model has ``model.json`` (``models.folders.ModelCard``: kind, labels, thresholds, params,
provenance) beside its weights: the one stored copy of its thresholds. The model owns its decisions:
``tune`` sets the thresholds and ``decide`` applies them (like scikit-learn's ``TunedThresholdClassifierCV``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from policytheme.files import FolderError
from policytheme.models.folders import ModelCard
from policytheme.models.scripts import scripts_of
from policytheme.models.thresholds import tune_thresholds

# A script's own threshold for a theme needs this many positives of the theme in that script's dev paragraphs.
SCRIPT_MIN_POSITIVES = 10


class ModelError(FolderError):
    """A model that cannot be built, loaded or used; the message says what to do."""


class ThemeModel:
    """Base class: label bookkeeping, thresholds, ``predict`` and the metadata file."""

    kind: str = ""
    defaults: dict = {}  # every parameter a model takes, with its default
    choices: dict = {}  # parameters with a fixed set of values: name -> allowed values
    bounds: dict = {}  # name -> (test, what it must be), e.g. {"C": (lambda v: v > 0, "> 0")}
    score_in_processes = False  # labeling may fork processes that each score whole chunks (CPU-only models)
    tune_folds = 5  # train tunes on out-of-fold scores of this many folds (train.run); 0: on the dev split

    # Fitted state every model has (a model kind adds its own weights, declared in its class):
    thresholds_: np.ndarray  # per theme, the score at which it is decided (tune; 0.5 until tuned)
    script_thresholds_: dict[str, np.ndarray]  # per script (models.scripts) tuned on its own dev paragraphs
    history_: list[dict]  # per-epoch dev figures, for models that train in epochs (else empty)
    train_figures_: dict | None  # what training measured (steps, samples/s...), for models that report it
    provenance_: dict  # what made it (set by train): written to model.json

    def __init__(self, labels: Sequence[str], **params):
        self.labels = list(labels)
        self.params = {**self.defaults, **check_params(self.kind, self.defaults, self.choices, params, self.bounds)}
        self.thresholds_ = np.full(len(self.labels), 0.5)
        self.script_thresholds_ = {}
        self.history_ = []
        self.train_figures_ = None
        self.provenance_ = {}

    # --- the part each model implements -------------------------------------------------------
    def fit(self, texts: Sequence[str], y: np.ndarray, dev: tuple | None = None, **options) -> ThemeModel:
        """Learn from ``texts`` and their 0/1 label matrix ``y``. ``dev`` = (texts, y) may guide early
        stopping; ``options`` are training-time settings (``work_dir``, ``resume``, ``progress``, and ``lead``:
        per text, whether it comes from the first --data file, which a model may weigh up)."""
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

    def explain(self, texts: Sequence[str], k: int = 3) -> list[dict[str, list[str]]]:
        """Per text and theme, up to ``k`` phrases of the text that raised the theme's score most
        (``models.evidence``); empty lists for a model that cannot say."""
        return [{lab: [] for lab in self.labels} for _ in texts]

    def top_terms(self, k: int = 15) -> dict[str, list[tuple[str, float]]] | None:
        """Per theme, the ``k`` input features that weigh most for it, with their weights; None for models
        without one weight per feature (a transformer)."""
        return None

    # --- shared --------------------------------------------------------------------------------
    def tune(
        self, texts: Sequence[str], y: np.ndarray, default: float = 0.5, scores: np.ndarray | None = None
    ) -> ThemeModel:
        """Set each theme's threshold to the F1-optimal cut of its scores on ``texts`` (dev data) and their
        0/1 labels ``y``; a theme without a positive there keeps ``default``. Where the dev texts are in more
        than one script, each script also gets its own cut of each theme that has ``SCRIPT_MIN_POSITIVES``
        positives in it (others keep the overall one). ``scores``: the texts' scores when they come from
        elsewhere (out-of-fold scores of cross-fitted models: ``train.run``); else this model scores them.
        Returns the model."""
        y = np.asarray(y).reshape(len(texts), len(self.labels))
        if scores is None:
            scores = self.predict_proba(texts) if len(texts) else np.zeros((0, len(self.labels)))
        scores = np.asarray(scores).reshape(y.shape)
        self.thresholds_ = tune_thresholds(y, scores, default)
        self.script_thresholds_ = {}
        scripts = scripts_of(texts)
        if len(set(scripts)) > 1:
            for script in sorted(set(scripts)):
                rows = scripts == script
                own = tune_thresholds(y[rows], scores[rows], default)
                enough = y[rows].sum(axis=0) >= SCRIPT_MIN_POSITIVES
                if enough.any():
                    self.script_thresholds_[script] = np.where(enough, own, self.thresholds_)
        return self

    def thresholds_for(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_labels): the thresholds that decide each of ``texts`` (its script's, else the overall ones)."""
        overall = np.broadcast_to(self.thresholds_, (len(texts), len(self.labels)))
        if not self.script_thresholds_:
            return overall
        scripts = scripts_of(texts)
        out = np.array(overall)
        for script, limits in self.script_thresholds_.items():
            out[scripts == script] = limits
        return out

    def decide(self, scores: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """0/1 per theme from scores: on where a score reaches its theme's threshold for the text's script
        (``texts`` given), else the overall thresholds."""
        scores = np.asarray(scores)
        limits = self.thresholds_ if texts is None else self.thresholds_for(texts)
        return (scores >= limits).astype(np.int8)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.decide(self.predict_proba(texts), texts)

    def chunk_size(self) -> int:
        """Paragraphs a labeler scores at a time (large enough to keep the hardware busy)."""
        return 4_096

    def card(self) -> ModelCard:
        thresholds = {lab: float(t) for lab, t in zip(self.labels, self.thresholds_)}
        by_script = {s: {lab: float(t) for lab, t in zip(self.labels, ts)} for s, ts in self.script_thresholds_.items()}
        return ModelCard(self.kind, self.labels, self.params, thresholds, self.provenance_, by_script)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_weights(directory)
        self.card().write(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path, card: ModelCard | None = None) -> ThemeModel:
        directory = Path(directory)
        card = card or ModelCard.read(directory)
        model = cls(card.labels, **card.params)
        model.thresholds_ = np.array([card.thresholds[lab] for lab in model.labels], dtype=float)
        model.script_thresholds_ = {
            s: np.array([ts[lab] for lab in model.labels], dtype=float) for s, ts in card.script_thresholds.items()
        }
        model.provenance_ = card.provenance
        check_provenance(directory, card)
        try:
            model._load_weights(directory)
        except ModelError as e:  # say which library made the files when it is not the one here
            raise ModelError(f"{e}{library_note(card)}") from None
        except Exception as e:  # noqa: BLE001 - truncated or mis-structured weights fail in many ways
            raise ModelError(
                f"{directory}: damaged model files ({type(e).__name__}: {str(e)[:100]}){library_note(card)}; "
                "train or install the model again"
            ) from None
        return model


def check_provenance(directory: Path, card: ModelCard) -> None:
    """A model folder's record of what made it agrees with the model: the label schema it was trained on
    names the same themes, in the same order."""
    schema = card.provenance.get("labels")
    if schema and [t.get("id") for t in schema] != card.labels:
        raise ModelError(
            f"{directory}/model.json: its label schema ({', '.join(t.get('id', '?') for t in schema)}) and its "
            f"labels ({', '.join(card.labels)}) disagree; the folder was edited or mixed with another model's"
        )


def library_note(card: ModelCard) -> str:
    """'; saved with scikit-learn 1.9.1, this is 1.4.0' where the versions differ, else ''."""
    from importlib import metadata

    saved = card.provenance.get("libraries", {})
    diffs = []
    for name in ("scikit-learn", "transformers", "skops"):
        try:
            here = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if saved.get(name) and saved[name] != here:
            diffs.append(f"{name} {saved[name]}, this is {here}")
    return f" (saved with {'; '.join(diffs)})" if diffs else ""


def check_params(kind: str, defaults: dict, choices: dict, params: dict, bounds: dict | None = None) -> dict:
    """``params`` if each is known, of its default's type, finite, among its choices and within its bounds;
    ModelError otherwise."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ModelError(f"unknown {kind} parameter(s): {', '.join(unknown)} (known: {', '.join(defaults)})")
    for name, value in params.items():
        default = defaults[name]
        if name in choices and value not in choices[name]:
            raise ModelError(f"{kind} parameter {name}={value!r}: choose one of {', '.join(map(str, choices[name]))}")
        if default is None or value is None:
            continue
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif numeric:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and (isinstance(value, int) or not isinstance(default, int))
        else:
            ok = isinstance(value, type(default))
        if not ok:
            wanted = "an integer" if isinstance(default, int) and numeric else type(default).__name__
            wanted = (
                "a number" if isinstance(default, float) else "true or false" if isinstance(default, bool) else wanted
            )
            raise ModelError(f"{kind} parameter {name}={value!r}: must be {wanted} (default {default!r})")
        if numeric and not math.isfinite(value):
            raise ModelError(f"{kind} parameter {name}={value!r}: must be a finite number (default {default!r})")
        if isinstance(default, list) and not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ModelError(f"{kind} parameter {name}={value!r}: must be a list of integers (default {default!r})")
        test, what = (bounds or {}).get(name, (None, ""))
        if test is not None and not test(value):
            raise ModelError(f"{kind} parameter {name}={value!r}: must be {what} (default {default!r})")
    return params


def peak_memory() -> dict:
    """Peak resident memory of this process, and peak GPU memory when a GPU was used (for run records)."""
    import resource
    import sys

    out = {"rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        out["gpu_bytes"] = int(torch.cuda.max_memory_allocated())
    return out
