"""A complete run folder in one call: train, score every test split, write the model card.

Shared by ``policytheme train`` and the default model's build, so both make the same folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from policytheme.data.records import label_ids, to_matrix
from policytheme.eval.card import model_card
from policytheme.eval.evaluate import default_predictions, evaluate_model, write_evaluation
from policytheme.eval.leaderboard import KEYWORDS
from policytheme.eval.quantify import QUANTIFICATION, Rates
from policytheme.files import staged, write_file, write_json
from policytheme.models.scripts import scripts_of
from policytheme.train.run import TrainConfig, TrainResult, select_test, train, work_dir_for


def train_and_score(
    config: TrainConfig, n_boot: int = 1000, overwrite: bool = False, progress: bool = True, barrier=None
) -> tuple[TrainResult, list[tuple[str, dict]]]:
    """Train ``config`` into its run folder and score the test split of each data file (the first one's as
    ``metrics.json``, the others' as ``metrics-<stem>-test.json``). Returns the result and, per scored test
    split, (file name, metrics). ``barrier`` is called before the work folder goes (distributed runs)."""
    work = work_dir_for(config.out)
    if not config.resume and (work / "checkpoints").exists():
        shutil.rmtree(work / "checkpoints")
    try:
        result, scored = _train_and_score(config, work, n_boot, overwrite, progress)
    except BaseException:
        if not (work / "checkpoints").exists():  # nothing to resume from: no work folder left behind
            shutil.rmtree(work, ignore_errors=True)
        raise
    if barrier:
        barrier()
    shutil.rmtree(work, ignore_errors=True)
    return result, scored


def _train_and_score(config: TrainConfig, work: Path, n_boot: int, overwrite: bool, progress: bool):
    with staged(config.out, overwrite=overwrite or config.resume, inputs=[*config.data, config.codebook]) as staging:
        result = train(config, staging, work, progress=progress)
        cost = {"fit_seconds": result.record["fit_seconds"], "model_bytes": result.record["model_bytes"]}
        scored = []
        keywords = keyword_baseline(result)
        for i, source in enumerate(result.sources):
            test = result.parts["test"] if i == 0 else select_test(source.parts["test"], config.eval_langs)
            if not test:
                continue
            info = {"path": source.path, "sha256": source.sha256, "split": "test", "langs": config.eval_langs}
            name = "metrics.json" if i == 0 else f"metrics-{Path(source.path).stem}-test.json"
            for part, slice_info, suffix in [(test, {}, "")] + test_slices(test):
                m, rows = evaluate_model(result.model, part, {**info, **slice_info}, n_boot=n_boot, seed=config.seed)
                m = {"run": result.record["name"], "model": config.model, **m, **cost}
                if keywords is not None:
                    m["keywords"] = keyword_figures(keywords, part, n_boot, config.seed)
                path = staging / (name.replace(".json", f"-{suffix}.json") if suffix else name)
                write_evaluation(m, rows, path, default_predictions(path))
                if not suffix:
                    scored.append((Path(source.path).name, m))
        rates = dev_rates(result)
        if rates is not None:  # what `summarize` corrects counted theme shares with
            write_json(staging / QUANTIFICATION, rates.to_json())
            write_json(staging / "model" / QUANTIFICATION, rates.to_json())
        card = model_card(staging, title=Path(config.out).name)
        write_file(staging / "MODEL_CARD.md", card)
        write_file(staging / "model" / "MODEL_CARD.md", card)  # a model folder travels alone, with its card
    return result, scored


def dev_rates(result: TrainResult) -> Rates | None:
    """The model's decisions and scores on the paragraphs that tuned it (its dev split, or their out-of-fold
    scores in a cross-fitted run) beside the gold labels (None without any): the true- and false-positive
    rates that correct counted shares."""
    dev = result.parts["dev"]
    if not dev:
        return None
    labels = result.model.labels
    texts = [ex.text for ex in dev]
    scores = result.tuning_scores if result.tuning_scores is not None else result.model.predict_proba(texts)
    docs = sorted({ex.doc_id for ex in dev})
    index = {d: i for i, d in enumerate(docs)}
    return Rates(
        labels,
        to_matrix(dev, labels).astype(bool),
        result.model.decide(scores, texts).astype(bool),
        scores,
        docs,
        np.array([index[ex.doc_id] for ex in dev]),
        scripts_of(texts),
        "crossfit" if result.folds else "dev",
    )


def test_slices(test: list) -> list[tuple[list, dict, str]]:
    """The boards of their own inside one test split: each language and each genre group, where the split
    holds more than one, for the real collections (whose rows name their genre). (paragraphs, what the slice
    is, file-name suffix) each."""
    out = []
    if not any(ex.extra.get("genre") for ex in test):
        return out
    for key, field in (("lang", lambda ex: ex.lang), ("genre", lambda ex: ex.extra.get("genre"))):
        values = sorted({field(ex) for ex in test} - {None})
        if len(values) > 1:
            out += [([ex for ex in test if field(ex) == v], {"slice": f"{key} {v}"}, v) for v in values]
    seen, unique = {len(test)}, []
    for part in out:  # a genre held by one language only is that language's slice already
        if len(part[0]) not in seen or not any({e.id for e in part[0]} == {e.id for e in o[0]} for o in unique):
            unique.append(part)
            seen.add(len(part[0]))
    return unique


def keyword_baseline(result: TrainResult):
    """The keyword method with its thresholds tuned on the paragraphs that tuned the run (what a model card
    sets beside the run's figures); None for a run of the keyword method itself or without any."""
    from policytheme.models import make_model

    dev = result.parts["dev"]
    if result.record["model"] == KEYWORDS or not dev or result.model.labels != label_ids():
        return None
    model = make_model(KEYWORDS, result.model.labels)
    model.fit([], None)
    return model.tune([ex.text for ex in dev], to_matrix(dev, model.labels))


def keyword_figures(model, part: list, n_boot: int, seed: int) -> dict:
    """The keyword method's macro-F1 (with its interval) and per-theme F1 on the same paragraphs."""
    m, _ = evaluate_model(model, part, {}, n_boot=n_boot, seed=seed)
    return {"macro_f1": m["macro_f1"], "ci": m.get("ci"), "per_label": {k: v["f1"] for k, v in m["per_label"].items()}}
