"""--tracking mlflow: a run, its later evaluations and a cross-validation logged into a temporary MLflow store."""

import json
import os
import sys

import pytest

from policytheme.cli import main
from policytheme.eval.tracking import flat_params, store_uri
from tests.conftest import make_rows, write_jsonl

if not os.environ.get("POLICYTHEME_REQUIRE_OPTIONAL"):  # .ci/run sets it: there a missing MLflow fails
    pytest.importorskip("mlflow", reason="the tracking extra is not installed (make setup installs it)")


def run(*argv):
    return main([str(a) for a in argv])


def test_train_evaluate_and_cross_validate_log_to_a_local_store(tiny_data, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlstore"
    folder = tmp_path / "logreg"
    track = ["--tracking", "mlflow", "--tracking-store", store]
    assert run("train", "--model", "tfidf-logreg", "--data", tiny_data, "--out", folder, "--n-boot", 20, *track) == 0
    assert "logged to MLflow" in capsys.readouterr().out
    uri = f"sqlite:///{store.resolve() / 'mlflow.db'}"
    tracked = json.loads((folder / "tracking.json").read_text())
    assert tracked["uri"] == uri and tracked["experiment"] == "policytheme"

    client = MlflowClient(uri)
    logged = client.get_run(tracked["run_id"])
    metrics = json.loads((folder / "metrics.json").read_text())
    assert logged.info.run_name == "logreg"
    assert logged.data.params["model"] == "tfidf-logreg" and logged.data.params["model_params.C"] == "4.0"
    assert logged.data.params["data_sha256"] == metrics["data"]["sha256"]
    assert logged.data.metrics["test.macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert logged.data.metrics["test.f1.innovation"] == pytest.approx(metrics["per_label"]["innovation"]["f1"])
    assert logged.data.metrics["fit_seconds"] >= 0
    files = {a.path for a in client.list_artifacts(tracked["run_id"])}
    assert {"report.html", "metrics.json", "config.json", "run.json", "predictions.jsonl"} <= files
    report = client.download_artifacts(tracked["run_id"], "report.html", str(tmp_path))
    assert "data:image/png;base64," in open(report, encoding="utf-8").read()

    # a later evaluation adds to the same MLflow run
    other = write_jsonl(tmp_path / "other.jsonl", make_rows(n_docs=4))
    assert run("evaluate", folder, "--data", other, "--n-boot", 20, *track) == 0
    again = client.get_run(tracked["run_id"])
    assert "other.macro_f1" in again.data.metrics and "test.macro_f1" in again.data.metrics
    assert "metrics-other.json" in {a.path for a in client.list_artifacts(tracked["run_id"])}

    # a cross-validation is a run of its own, with fold figures as steps
    cv = tmp_path / "cv"
    assert run("cross-validate", "--model", "tfidf-nb", "--data", tiny_data, "--out", cv, "--folds", 3, *track) == 0
    cv_id = json.loads((cv / "tracking.json").read_text())["run_id"]
    assert cv_id != tracked["run_id"]
    folds = client.get_metric_history(cv_id, "cv.macro_f1.fold")
    assert sorted(m.step for m in folds) == [0, 1, 2]
    assert client.get_run(cv_id).data.params["folds"] == "3"


def test_tracking_is_off_by_default(tiny_data, tmp_path):
    assert run("train", "--model", "tfidf-nb", "--data", tiny_data, "--out", tmp_path / "r", "--n-boot", 10) == 0
    assert not (tmp_path / "r" / "tracking.json").exists()


def test_missing_mlflow_is_one_clear_line(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    out = tmp_path / "r"
    argv = ["train", "--model", "tfidf-nb", "--data", tiny_data, "--out", out, "--n-boot", 10, "--tracking", "mlflow"]
    assert run(*argv, "--tracking-store", tmp_path / "s") == 2
    err = capsys.readouterr().err
    assert "pip install 'policytheme[tracking]'" in err and "Traceback" not in err
    assert (out / "metrics.json").exists()  # the run itself is complete; only the logging failed


def test_store_and_params_helpers(tmp_path):
    uri, artifacts = store_uri(tmp_path / "s")
    assert uri == f"sqlite:///{(tmp_path / 's').resolve() / 'mlflow.db'}" and artifacts.endswith("/s/artifacts")
    assert store_uri("http://localhost:5000") == ("http://localhost:5000", None)
    assert flat_params({"a": 1, "b": {"c": [1, 2], "d": None}}) == {"a": "1", "b.c": "[1, 2]"}
