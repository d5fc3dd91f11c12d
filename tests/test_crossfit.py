"""Cross-fitted tuning (train.run.out_of_fold, data.splits.crossfit_parts): every tuning paragraph is scored
by a model that never trained on its document, and the kept model trains on every train and dev paragraph."""

from __future__ import annotations

import json

import numpy as np

from policytheme.cli import main
from policytheme.data.records import read_examples
from policytheme.data.splits import crossfit_parts, read_sources
from policytheme.models.tfidf import TfidfModel
from tests.conftest import make_rows, write_jsonl

LABELS = ["price_competition", "industrial_upgrading", "innovation"]


def run(*argv):
    return main([str(a) for a in argv])


def test_crossfit_parts_train_on_all_but_tests_and_tune_on_real_paragraphs(tmp_path):
    lead = write_jsonl(tmp_path / "a.jsonl", make_rows(n_docs=12))
    other = write_jsonl(tmp_path / "b.jsonl", make_rows(n_docs=12, tag="b"))
    rows = make_rows(n_docs=12, tag="t")
    for r in rows:  # a file of translations: each names its source
        r["translation_of"] = "x"
    translated = write_jsonl(tmp_path / "t.jsonl", rows)
    sources = read_sources([str(lead), str(other), str(translated)], LABELS)
    tested = {ex.doc_id for s in sources for ex in s.parts["test"]}

    parts = crossfit_parts(sources, tuning=[str(other)])
    assert {ex.id for ex in parts["train"]} == {
        ex.id for s in sources for name in ("train", "dev") for ex in s.parts[name] if ex.doc_id not in tested
    }
    assert not tested & {ex.doc_id for ex in parts["train"]}
    tuned = {ex.id for ex in parts["dev"]}
    assert tuned == {ex.id for s in sources[:2] for ex in s.parts["train"] + s.parts["dev"]}  # no translation
    assert parts["test"] == sources[0].parts["test"]
    # without the second file named, only the lead file's paragraphs tune
    assert {ex.id for ex in crossfit_parts(sources, tuning=[])["dev"]} == {
        ex.id for ex in sources[0].parts["train"] + sources[0].parts["dev"]
    }


def test_each_tuning_paragraph_is_scored_by_a_model_that_never_saw_its_document(tmp_path, monkeypatch):
    data = write_jsonl(tmp_path / "a.jsonl", make_rows(n_docs=12))
    doc_of = {ex.text: ex.doc_id for ex in read_examples(data, LABELS)}
    calls = []
    fit, proba = TfidfModel.fit, TfidfModel.predict_proba

    def spy_fit(self, texts, y, **options):
        calls.append(("fit", {doc_of[t] for t in texts}))
        return fit(self, texts, y, **options)

    def spy_proba(self, texts):
        calls.append(("score", [doc_of.get(t) for t in texts]))
        return proba(self, texts)

    monkeypatch.setattr(TfidfModel, "fit", spy_fit)
    monkeypatch.setattr(TfidfModel, "predict_proba", spy_proba)
    out = tmp_path / "r"
    assert run("train", "--model", "tfidf-logreg", "--data", data, "--out", out, "--n-boot", 20, "--tune-folds", 3) == 0

    fits = [i for i, (kind, _) in enumerate(calls) if kind == "fit"]
    assert len(fits) == 3 + 1
    scored = []
    for i in fits[:3]:  # each fold's model scores the next call: its held-out documents only
        kind, docs = calls[i + 1]
        assert kind == "score" and docs and not set(docs) & calls[i][1]
        scored += docs
    record = json.loads((out / "run.json").read_text())
    assert record["tuning"] == {"folds": 3, "paragraphs": len(scored)}
    sources = read_sources([str(data)], LABELS)
    pool = sources[0].parts["train"] + sources[0].parts["dev"]
    assert sorted(scored) == sorted(ex.doc_id for ex in pool)  # every tuning paragraph once
    assert calls[fits[3]][1] == {ex.doc_id for ex in pool}  # the kept model: every train and dev document
    rates = json.loads((out / "quantification.json").read_text())
    assert rates["paragraphs"] == len(pool)


def test_tune_folds_0_tunes_on_the_dev_split(tmp_path):
    data = write_jsonl(tmp_path / "a.jsonl", make_rows(n_docs=12))
    out = tmp_path / "r"
    assert run("train", "--model", "tfidf-logreg", "--data", data, "--out", out, "--n-boot", 20, "--tune-folds", 0) == 0
    record = json.loads((out / "run.json").read_text())
    dev = read_sources([str(data)], LABELS)[0].parts["dev"]
    assert record["tuning"] == {"folds": 0, "paragraphs": len(dev)}
    assert json.loads((out / "config.json").read_text())["tune_folds"] == 0
    assert run("train", "--model", "tfidf-logreg", "--data", data, "--out", tmp_path / "x", "--tune-folds", 1) == 2


def test_tune_uses_given_scores():
    model = TfidfModel(LABELS)
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    scores = np.array([[0.9, 0.2, 0.8], [0.1, 0.7, 0.3], [0.6, 0.8, 0.2], [0.3, 0.1, 0.9]])
    model.tune(["a", "b", "c", "d"], y, scores=scores)  # unfitted: it must not score the texts itself
    assert (model.decide(scores) == y).all()
