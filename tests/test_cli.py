"""End to end through the console entry point, on tiny data: every subcommand and its failures."""

import json

import pandas as pd
import pytest

from policytheme.cli import main
from tests.conftest import make_rows, write_jsonl

BASELINES = ["tfidf-logreg", "tfidf-svm", "tfidf-nb"]
RUN_FILES = {"model", "labels.json", "config.json", "run.json", "metrics.json", "predictions.jsonl"}


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each baseline trained once on the tiny corpus; the folder holds data and runs."""
    root = tmp_path_factory.mktemp("e2e")
    data = write_jsonl(root / "tiny.jsonl", make_rows())
    for name in BASELINES:
        assert run("train", "--model", name, "--data", data, "--out", root / name, "--n-boot", 50) == 0
    return root, data


@pytest.mark.parametrize("name", BASELINES)
def test_train_writes_a_self_explaining_run(trained, name):
    root, data = trained
    folder = root / name
    assert RUN_FILES <= {p.name for p in folder.iterdir()}
    record = json.loads((folder / "run.json").read_text())
    assert record["model"] == name and len(record["data"]["sha256"]) == 64
    assert record["libraries"]["scikit-learn"] and "git" in record
    config = json.loads((folder / "config.json").read_text())
    assert config["data"] == [str(data)] and config["model"] == name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"macro_f1", "micro_f1", "per_label", "per_language", "ci"} <= set(metrics)
    assert metrics["data"]["split"] == "test" and set(metrics["per_language"]) == {"en", "zh"}
    assert metrics["macro_f1"] > 0.5  # the tiny corpus is easy; a broken model scores near 0
    thresholds = json.loads((folder / "model" / "model.json").read_text())["thresholds"]  # their one stored copy
    assert set(thresholds) == {"price_competition", "industrial_upgrading", "innovation"}
    assert not (folder / "thresholds.json").exists()
    preds = [json.loads(x) for x in (folder / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == metrics["data"]["paragraphs"] and set(preds[0]) >= {"id", "labels", "predicted", "scores"}
    assert not list(root.glob(".*staging*"))


def test_evaluate_counts_and_can_leave_out_what_the_run_was_trained_on(trained, tmp_path, capsys):
    """On its own data file a run saw the train and dev paragraphs; --unseen scores exactly the test split."""
    root, data = trained
    folder = root / "tfidf-logreg"
    assert run("evaluate", folder, "--data", data, "--out", tmp_path / "all.json", "--n-boot", 20) == 0
    everything = json.loads((tmp_path / "all.json").read_text())["data"]
    test_ids = {json.loads(x)["id"] for x in (folder / "predictions.jsonl").read_text().splitlines()}
    assert everything["paragraphs"] == len(make_rows()) and everything["unseen"] is False
    assert everything["seen_in_training"] == len(make_rows()) - len(test_ids)
    assert "(--unseen leaves them out)" in capsys.readouterr().out
    unseen, preds = tmp_path / "metrics-tiny-unseen.json", tmp_path / "predictions-tiny-unseen.jsonl"
    assert run("evaluate", folder, "--data", data, "--unseen", "--out", unseen, "--n-boot", 20) == 0
    assert "left out: the run was trained or tuned on them" in capsys.readouterr().out
    assert json.loads(unseen.read_text())["data"]["paragraphs"] == len(test_ids)
    ids = {json.loads(x)["id"] for x in preds.read_text().splitlines()}
    assert ids == test_ids
    seen_only = write_jsonl(tmp_path / "seen.jsonl", [r for r in make_rows() if r["id"] not in test_ids])
    assert run("evaluate", folder, "--data", seen_only, "--unseen") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "every paragraph is in the run's training data" in err[0]


def test_evaluate_on_other_data_and_own_test_split(trained, tmp_path, capsys):
    root, data = trained
    other = write_jsonl(tmp_path / "other.jsonl", make_rows(n_docs=4))
    assert (
        run(
            "evaluate",
            root / "tfidf-logreg",
            "--data",
            other,
            "--out",
            tmp_path / "m.json",
            "--predictions",
            tmp_path / "p.jsonl",
            "--n-boot",
            20,
        )
        == 0
    )
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["data"]["paragraphs"] == 20 and m["data"]["split"] is None and m["run"] == "tfidf-logreg"
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 20
    before = json.loads((root / "tfidf-nb" / "metrics.json").read_text())
    assert run("evaluate", root / "tfidf-nb", "--n-boot", 50) == 0
    after = json.loads((root / "tfidf-nb" / "metrics.json").read_text())
    assert after["macro_f1"] == before["macro_f1"] and after["data"]["sha256"] == before["data"]["sha256"]
    assert "macro-F1" in capsys.readouterr().out


def test_compare_builds_one_table_from_metrics(trained, tmp_path, capsys):
    root, _ = trained
    out = tmp_path / "cmp.md"
    assert run("compare", *(root / n for n in BASELINES), "--out", out) == 0
    table = out.read_text()
    assert table == capsys.readouterr().out
    rows = [ln for ln in table.splitlines() if ln.startswith("| tfidf")]
    assert len(rows) == 3 and "macro-F1 zh" in table and "F1 innovation" in table
    scores = [float(r.split("|")[4].split()[0]) for r in rows]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_label_a_folder(trained, docs_dir, tmp_path, suffix, capsys):
    root, _ = trained
    out = tmp_path / f"labels{suffix}"
    assert run("label", "--model", root / "tfidf-logreg", docs_dir, "--out", out, "--quiet") == 0
    if suffix == ".jsonl":
        rows = [json.loads(x) for x in out.read_text().splitlines()]
    elif suffix == ".csv":
        rows = pd.read_csv(out, keep_default_na=False).to_dict(orient="records")
    else:
        rows = pd.read_parquet(out).to_dict(orient="records")
    assert [(r["paragraph"], r["text"]) for r in rows] == [
        (0, "一、工作回顾"),
        (1, "企业陷入价格战，利润下滑。"),
        (2, "加大研发投入。"),
        (0, "Upgrade manufacturing."),
        (1, "Cut prices in a price war."),
    ]
    assert rows[0]["doc_id"].endswith("report.txt")
    assert "labeled 5 paragraphs of 2 documents" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*partial*"))


def _err(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_training_data_exits_2_with_file_and_line(tmp_path, capsys):
    rows = make_rows(n_docs=4)
    rows[2]["labels"] = ["prices"]
    data = write_jsonl(tmp_path / "bad.jsonl", rows)
    assert run("train", "--model", "tfidf-logreg", "--data", data, "--out", tmp_path / "r") == 2
    assert f"{data}:3: unknown label 'prices'" in _err(capsys)
    assert not (tmp_path / "r").exists()


def test_existing_run_is_kept_unless_overwrite(trained, tmp_path, capsys):
    root, data = trained
    target = tmp_path / "run"
    target.mkdir()
    (target / "keep.txt").write_text("earlier work")
    assert run("train", "--model", "tfidf-nb", "--data", data, "--out", target) == 2
    assert "--overwrite" in _err(capsys) and (target / "keep.txt").read_text() == "earlier work"
    assert run("train", "--model", "tfidf-nb", "--data", data, "--out", target, "--overwrite", "--n-boot", 10) == 0
    assert (target / "metrics.json").exists() and not (target / "keep.txt").exists()


def test_label_failures_exit_2_and_leave_no_output(trained, tmp_path, docs_dir, capsys):
    root, _ = trained
    out = tmp_path / "x.jsonl"
    assert run("label", "--model", tmp_path / "no-run", docs_dir, "--out", out) == 2
    assert "no such model or run folder" in _err(capsys)
    assert run("label", "--model", root / "tfidf-nb", tmp_path / "none*.txt", "--out", out) == 2
    assert "no such file" in _err(capsys)
    assert run("label", "--model", root / "tfidf-nb", docs_dir, "--out", tmp_path / "x.xlsx") == 2
    assert "output must end in" in _err(capsys)
    out.write_text("an earlier output\n")
    assert run("label", "--model", root / "tfidf-nb", docs_dir, "--out", out, "--quiet") == 2
    assert "already exists and was not written by `policytheme label`" in _err(capsys)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("\n\n")
    assert run("label", "--model", root / "tfidf-nb", tmp_path / "empty", "--out", out, "--quiet", "--overwrite") == 2
    assert "no paragraphs to label" in _err(capsys)
    assert out.read_text() == "an earlier output\n" and not list(tmp_path.glob(".*partial*"))
    assert not (tmp_path / "x.jsonl.parts").exists()


def test_corrupt_document_is_skipped_and_recorded(trained, tmp_path, docs_dir, capsys):
    root, _ = trained
    (docs_dir / "a-broken.txt").write_bytes(b"\xff\xfe broken")
    (docs_dir / "b-broken.jsonl").write_text('{"text": "ok paragraph"}\nnot json\n{"text": "after"}\n')
    out = tmp_path / "x.jsonl"
    assert run("label", "--model", root / "tfidf-nb", docs_dir, "--out", out, "--quiet") == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 7 and rows[0]["text"] == "ok paragraph"  # the rows around the bad line are kept
    assert rows[1]["text"] == "after"
    errors = [json.loads(x) for x in (tmp_path / "x.jsonl.errors.jsonl").read_text().splitlines()]
    assert [e["path"].rsplit("/", 1)[1] for e in errors] == ["a-broken.txt", "b-broken.jsonl:2"]
    assert "cannot decode as utf-16" in errors[0]["error"] and ":2: invalid JSON" in errors[1]["error"]  # BOM \xff\xfe
    assert "2 input(s) skipped" in capsys.readouterr().out


def test_compare_and_evaluate_errors(tmp_path, capsys):
    assert run("compare", tmp_path / "missing") == 2
    assert "no such run folder" in _err(capsys)
    (tmp_path / "m.json").write_text("{")
    assert run("compare", tmp_path / "m.json") == 2
    assert "m.json:1: invalid JSON" in _err(capsys)
    assert run("evaluate", tmp_path) == 2
    assert "not a policytheme run folder" in _err(capsys)


def test_train_and_cross_validation_weigh_the_first_data_file(tmp_path, monkeypatch):
    from policytheme.models.tfidf import TfidfModel

    first = write_jsonl(tmp_path / "a.jsonl", make_rows(n_docs=10))
    second = write_jsonl(tmp_path / "b.jsonl", make_rows(n_docs=10, tag="b"))
    seen = []
    fit = TfidfModel.fit

    def spy(self, texts, y, dev=None, lead=None, **options):
        seen.append((list(texts), lead))
        return fit(self, texts, y, dev=dev, lead=lead, **options)

    monkeypatch.setattr(TfidfModel, "fit", spy)
    common = ("--model", "tfidf-logreg", "--data", first, second, "--param", "lead_weight=4", "--param", "whole=true")
    assert run("train", *common, "--out", tmp_path / "r") == 0
    assert run("cross-validate", *common, "--folds", 2, "--out", tmp_path / "cv") == 0
    assert len(seen) == 5 + 1 + 2  # train: a model per cross-fitted fold, then the final one; two folds
    for texts, lead in seen:  # the paragraphs of b.jsonl, and only they, are not the lead file's
        assert lead.tolist() == [not t.endswith("(b)") for t in texts] and lead.any() and not lead.all()
    params = json.loads((tmp_path / "r" / "config.json").read_text())["model_params"]
    assert params["lead_weight"] == 4.0 and params["whole"] is True
