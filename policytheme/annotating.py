"""The conventions of an annotate session, in one place: which model suggests, where retrained models go,
and the retraining itself (which trains, so it lives at the top, not in ``label``).

    session = open_session(["reports/"], Path("my-labels.jsonl"), model=None, codebook=None, retrain_every=25)

- The models retrained during a session go to ``.OUT.models/model-NNNNN`` beside the labels file, newest
  last; a restarted session goes on with the newest unless ``model`` names one.
- The shipped themes start from the default model (or ``model``); your own themes (``codebook``) start with
  none, and the first paragraphs come from the documents seen least, never bare headings.
- Retraining: one answer in five (by a hash of its id, the same ones every time) is held out; the rest train,
  with the shipped data when the themes are the shipped ones; the gain is macro-F1 on the held-out answers
  before and after.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from policytheme.data.records import load_schema
from policytheme.files import staged
from policytheme.label.annotate import Session
from policytheme.train.run import TrainConfig, train


def models_dir(out: Path) -> Path:
    """Where the models retrained for the labels file ``out`` go."""
    return out.with_name(f".{out.name}.models")


def open_session(
    inputs: list[str], out: Path, model: str | None, codebook: str | None, retrain_every: int = 25
) -> Session:
    """A session on ``inputs`` writing ``out``: its model chosen and its retraining wired by the conventions
    above."""
    from policytheme.installed import resolve

    schema = load_schema(codebook)
    work = models_dir(out)
    retrained = sorted(work.glob("model-*")) if work.is_dir() else []
    if retrained and not model:  # a restarted session goes on with its newest model
        chosen = retrained[-1]
    else:  # the named model, else the default for the shipped themes; none yet for your own
        chosen = resolve(model) if model or not codebook else None

    def retrain(labels: Path):
        return retrain_on_labels(labels, codebook, work, session.model_path)

    session = Session(inputs, out, chosen, schema, retrain=retrain, retrain_every=retrain_every)
    return session


def retrain_on_labels(labels: Path, codebook: str | None, work: Path, current: Path | None = None) -> tuple[Path, dict]:
    """A model retrained on a user's labels (``annotate``), and its gain on their held-out labels.

    One answer in five (by a hash of its id, so the same ones every time) is held out; the rest train,
    together with the shipped data when the themes are the shipped ones (its real dev split tunes the
    thresholds; on a user's own themes their answers tune, out of fold). Reports macro-F1 on the held-out
    answers of the model in use before and of the new one.
    """
    import hashlib

    import numpy as np

    from policytheme.data.records import DEFAULT_DATA, DataError, label_ids, read_examples, to_matrix, write_examples
    from policytheme.eval.metrics import macro_f1
    from policytheme.models import load_model

    themes = label_ids(codebook)
    rows = read_examples(labels, themes)
    held = [r for r in rows if int(hashlib.sha256(r.id.encode()).hexdigest(), 16) % 5 == 0]
    rest = [r for r in rows if r not in held]
    if len(rest) < 10:
        raise DataError(
            [
                f"{labels}: {len(rows)} answers, {len(rest)} of them to train on (one in five is held out to "
                f"measure the gain); retraining needs at least 10 to train on"
            ]
        )
    for r in rest:
        r.extra["split"] = "train"  # every answer that is not held out trains
    work.mkdir(parents=True, exist_ok=True)
    train_file = work / "labels-train.jsonl"
    write_examples(rest, train_file)
    data = [*DEFAULT_DATA, str(train_file)] if codebook is None else [str(train_file)]
    out = work / f"model-{len(rows):05d}"
    # with the shipped data its real dev split tunes (five cross-fitted fits of it would keep the annotator
    # waiting minutes); on their own themes, the answers tune out of fold (train.run)
    folds = 0 if codebook is None else None
    config = TrainConfig(model="tfidf-logreg", out=str(out), data=data, codebook=codebook, tune_folds=folds)
    with staged(out, overwrite=True) as staging:
        train(config, staging, work / ".work", progress=False)
    shutil.rmtree(work / ".work", ignore_errors=True)

    def score(model_dir: Path | None) -> float | None:
        if model_dir is None or not held:
            return None
        m = load_model(model_dir)
        if set(m.labels) != set(themes):
            return None
        pred = m.predict([r.text for r in held])[:, [m.labels.index(t) for t in themes]]
        return float(macro_f1(to_matrix(held, themes), np.asarray(pred)))

    report = {"labels": len(rest), "held_out": len(held), "before": score(current), "after": score(out)}
    return out, {**report, "model": str(out)}
