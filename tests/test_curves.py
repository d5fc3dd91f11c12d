"""Learning curves and cross-validation: output shapes, grouping, and the commands end to end."""

import json

import pytest

from policytheme.cli import main
from policytheme.data.records import read_examples
from policytheme.data.splits import assign_splits
from policytheme.eval.metrics import point_scores
from policytheme.train.curves import cross_validate, learning_curve
from policytheme.train.run import TrainConfig


def test_learning_curve_shape(tiny_data, tmp_path):
    config = TrainConfig(model="tfidf-logreg", out=str(tmp_path / "curve"), data=str(tiny_data))
    r = learning_curve(config, point_scores, fractions=[1.0, 0.25, 0.5], seeds=[0, 1])
    assert r["kind"] == "learning_curve" and r["fractions"] == [0.25, 0.5, 1.0]
    assert len(r["points"]) == 6 and [s["fraction"] for s in r["summary"]] == [0.25, 0.5, 1.0]
    n_train = len(assign_splits(read_examples(tiny_data))["train"])
    for seed in (0, 1):
        sizes = [p["train_paragraphs"] for p in r["points"] if p["seed"] == seed]
        assert sizes[0] < sizes[1] < sizes[2] == n_train  # growing, the whole split at 1.0
    s = r["summary"][0]
    assert s["points"] == 2 and s["macro_f1"]["n"] == 2 and s["macro_f1"]["min"] <= s["macro_f1"]["mean"]
    assert set(s["per_language"]) == {"en", "zh"} and set(s["f1"]) == {
        "price_competition",
        "industrial_upgrading",
        "innovation",
    }
    assert r["summary"][2]["train_paragraphs"]["sd"] == 0.0


def test_learning_curve_records_points_that_cannot_be_trained(tiny_data, tmp_path):
    config = TrainConfig(model="tfidf-svm", out=str(tmp_path / "c"), data=str(tiny_data))
    r = learning_curve(config, point_scores, fractions=[0.05, 1.0], seeds=[0, 1, 2])
    failed = [p for p in r["points"] if "error" in p]
    assert failed and all(p["fraction"] == 0.05 and "at least 2 positive" in p["error"] for p in failed)
    assert r["summary"][0]["failed"] == len(failed) and r["summary"][0]["points"] == 3 - len(failed)
    assert r["summary"][1]["failed"] == 0


@pytest.mark.parametrize("include_test", [False, True])
def test_cross_validation_tests_every_paragraph_once(tiny_data, tmp_path, include_test):
    config = TrainConfig(model="tfidf-nb", out=str(tmp_path / "cv"), data=str(tiny_data))
    r = cross_validate(config, point_scores, folds=4, include_test=include_test)
    parts = assign_splits(read_examples(tiny_data))
    pool = sum(len(v) for k, v in parts.items() if include_test or k != "test")
    assert r["paragraphs"] == pool and len(r["fold_results"]) == 4
    assert sum(f["n"] for f in r["fold_results"]) == pool  # each paragraph tested exactly once
    for f in r["fold_results"]:
        assert f["train_paragraphs"] + f["dev_paragraphs"] + f["n"] == pool and f["dev_paragraphs"] > 0
    s = r["summary"]["macro_f1"]
    assert s["n"] == 4 and s["min"] <= s["mean"] <= s["max"] and s["sd"] >= 0


def test_learning_curve_and_cross_validation_commands(tiny_data, tmp_path, capsys):
    out = tmp_path / "curve-nb"
    argv = ["learning-curve", "--model", "tfidf-nb", "--data", str(tiny_data), "--out", str(out)]
    assert main([*argv, "--fractions", "0.5,1", "--seeds", "0,1"]) == 0
    curve = json.loads((out / "curve.json").read_text())
    assert len(curve["points"]) == 4 and json.loads((out / "config.json").read_text())["seeds"] == [0, 1]
    assert "0.5 of training" in capsys.readouterr().out
    cv_out = tmp_path / "cv-nb"
    assert (
        main(["cross-validate", "--model", "tfidf-nb", "--data", str(tiny_data), "--out", str(cv_out), "--folds", "3"])
        == 0
    )
    assert len(json.loads((cv_out / "cv.json").read_text())["fold_results"]) == 3
    assert "3-fold cross-validation" in capsys.readouterr().out
    # compare shows both
    assert main(["compare", str(out), str(cv_out)]) == 0
    text = capsys.readouterr().out
    assert "### Learning curves" in text and "### Cross-validation" in text and "| curve-nb | tfidf-nb | 0.5 |" in text


def test_curve_command_errors(tiny_data, tmp_path, capsys):
    argv = ["learning-curve", "--model", "tfidf-nb", "--data", str(tiny_data), "--out", str(tmp_path / "c")]
    assert main([*argv, "--fractions", "0,1"]) == 2
    assert "fractions must be in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    argv = ["cross-validate", "--model", "tfidf-nb", "--data", str(tiny_data), "--out", str(tmp_path / "v")]
    assert main([*argv, "--folds", "500"]) == 2
    assert "for 500 folds" in capsys.readouterr().err
