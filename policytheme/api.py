"""The Python API: the command's models and decisions, for notebooks and scripts.

    import policytheme

    model = policytheme.load()                      # the default model (built once from the shipped data)
    df = model.label(["加大研发投入。", "Firms cut prices below cost."])   # text, labels, a score per theme
    model.label(frame)                               # a DataFrame with a `text` column: other columns kept
    policytheme.label_files(["reports/"], "labels.parquet")   # files and folders, exactly as `policytheme label`
    run = policytheme.fit("tfidf-logreg", out="runs/mine")   # train and score, exactly as `policytheme train`

Labels are decided by the model's own thresholds (``model.thresholds``), as the command decides them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from policytheme.data.records import DataError
from policytheme.data.segment import strip_invisible


class Model:
    """A loaded model: its themes, its thresholds, and ``label`` for texts in memory."""

    def __init__(self, path: str | Path):
        from policytheme.models import load_model

        self.path = Path(path)
        self._model = load_model(self.path)

    @property
    def labels(self) -> list[str]:
        """The theme ids, in the order of the score columns."""
        return list(self._model.labels)

    @property
    def thresholds(self) -> dict[str, float]:
        """The score at which each theme is decided."""
        return {lab: float(t) for lab, t in zip(self._model.labels, self._model.thresholds_)}

    def __repr__(self) -> str:
        return f"policytheme.Model({str(self.path)!r}, labels={self.labels})"

    def label(self, texts: Iterable[str] | pd.Series | pd.DataFrame, evidence: bool = False) -> pd.DataFrame:
        """One row per text: ``text``, ``labels`` (theme ids decided by the thresholds), one score column per
        theme, and ``evidence`` (per decided theme, the phrases that raised its score most) when asked.

        ``texts`` is a list of strings, a pandas Series (its index is kept), or a DataFrame with a ``text``
        column (its index and other columns are kept). A row that is not a string raises ``ValueError``.
        """
        frame = _as_frame(texts)
        values = frame["text"].tolist()
        scores = (
            self._model.predict_proba([strip_invisible(v) for v in values])
            if values
            else np.zeros((0, len(self.labels)))
        )
        decided = self._model.decide(scores, values) if values else np.zeros((0, len(self.labels)), dtype=np.int8)
        out = frame.copy()
        out["labels"] = [[lab for lab, on in zip(self.labels, row) if on] for row in decided]
        for j, lab in enumerate(self.labels):
            out[lab] = scores[:, j].astype(float)
        if evidence:
            found = self._model.explain(values) if values else []
            out["evidence"] = [{lab: ev.get(lab, []) for lab in labs} for ev, labs in zip(found, out["labels"])]
        return out


def _as_frame(texts) -> pd.DataFrame:
    if isinstance(texts, pd.DataFrame):
        if "text" not in texts.columns:
            raise ValueError(f"the DataFrame has no 'text' column (columns: {', '.join(map(str, texts.columns))})")
        frame = texts
    elif isinstance(texts, pd.Series):
        frame = texts.rename("text").to_frame()
    elif isinstance(texts, str):
        raise ValueError("label takes a list of texts; wrap a single text in a list")
    else:
        frame = pd.DataFrame({"text": list(texts)})
    bad = next(((i, v) for i, v in zip(frame.index, frame["text"]) if not isinstance(v, str)), None)
    if bad is not None:
        raise ValueError(f"row {bad[0]}: expected a string, got {type(bad[1]).__name__} ({bad[1]!r})")
    return frame


def load(name_or_path: str | Path | None = None, progress: bool = True) -> Model:
    """A model: the default one (None), an installed one by name, or a run or model folder."""
    from policytheme.installed import resolve

    return Model(resolve(str(name_or_path) if name_or_path is not None else None, progress=progress))


def label_files(
    inputs: list[str | Path] | str | Path,
    out: str | Path,
    model: str | Path | None = None,
    overwrite: bool = False,
    evidence: bool = False,
    progress: bool = False,
):
    """Label every paragraph of files, folders or globs into ``out`` (.jsonl, .csv or .parquet), with the
    command's guarantees: resumable, atomic, refused on bad input. Returns the summary the command prints."""
    from policytheme.installed import resolve
    from policytheme.label.labeler import label_corpus

    inputs = [inputs] if isinstance(inputs, (str, Path)) else inputs
    folder = resolve(str(model) if model is not None else None, progress=progress)
    return label_corpus(
        folder, [str(p) for p in inputs], out, overwrite=overwrite, progress=progress, evidence=evidence
    )


def fit(
    model: str = "tfidf-logreg",
    out: str | Path = "runs/run",
    data: list[str | Path] | None = None,
    overwrite: bool = False,
    seed: int = 0,
    **params,
) -> Model:
    """Train ``model`` on ``data`` (default: the shipped data) into the run folder ``out``, score its test
    splits, and return it loaded; its figures are in ``out/metrics*.json`` and ``out/MODEL_CARD.md``."""
    from policytheme.data.splits import data_paths
    from policytheme.runs import train_and_score
    from policytheme.train.run import TrainConfig

    if data is not None and not data:
        raise DataError(["data: no labeled files given"])
    config = TrainConfig(model=model, out=str(out), data=data_paths(data), seed=seed, params=params)
    train_and_score(config, overwrite=overwrite, progress=False)
    return Model(out)
