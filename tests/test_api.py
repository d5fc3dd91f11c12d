"""The Python API: strings, a Series, a DataFrame with extra columns, empty input, bad rows, files, fitting."""

import json

import pandas as pd
import pytest

import policytheme
from tests.conftest import make_rows, write_jsonl


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    data = write_jsonl(root / "tiny.jsonl", make_rows())
    return policytheme.fit("tfidf-logreg", out=root / "run", data=[data])


def test_fit_returns_the_run_loaded_with_its_own_thresholds(model):
    assert model.labels == ["price_competition", "industrial_upgrading", "innovation"]
    assert set(model.thresholds) == set(model.labels)
    assert (model.path / "metrics.json").is_file() and (model.path / "MODEL_CARD.md").is_file()
    assert "policytheme.Model" in repr(model)


def test_label_strings_decides_by_the_models_thresholds(model):
    texts = ["price war and dumping hurt profits", "more R&D and new core technology", "the weather"]
    df = model.label(texts)
    assert list(df.columns) == ["text", "labels", *model.labels] and df["text"].tolist() == texts
    for _, row in df.iterrows():
        assert row["labels"] == [lab for lab in model.labels if row[lab] >= model.thresholds[lab]]
    same = policytheme.load(model.path).label(texts)  # loading the folder again decides the same
    assert same["labels"].tolist() == df["labels"].tolist()


def test_series_keeps_its_index_and_frame_keeps_its_columns(model):
    s = pd.Series(["price war", "new technology"], index=["a", "b"])
    assert model.label(s).index.tolist() == ["a", "b"]
    frame = pd.DataFrame({"doc": ["x", "y"], "text": ["price war", "new technology"], "year": [2024, 2025]})
    out = model.label(frame, evidence=True)
    assert out[["doc", "year"]].equals(frame[["doc", "year"]]) and "evidence" in out
    assert all(set(ev) == set(labs) for ev, labs in zip(out["evidence"], out["labels"]))


def test_empty_input_gives_an_empty_frame_with_every_column(model):
    df = model.label([])
    assert len(df) == 0 and list(df.columns) == ["text", "labels", *model.labels]


@pytest.mark.parametrize(
    "bad, message",
    [
        (["fine", None], "row 1: expected a string, got"),
        (["fine", 3], "row 1: expected a string, got int"),
        (pd.DataFrame({"body": ["x"]}), "no 'text' column"),
        ("one text", "wrap a single text in a list"),
    ],
)
def test_bad_input_is_one_clear_error(model, bad, message):
    with pytest.raises(ValueError, match=message):
        model.label(bad)


def test_label_files_decides_as_label_does_in_memory(model, docs_dir, tmp_path):
    out = tmp_path / "labels.jsonl"
    summary = policytheme.label_files(docs_dir, out, model=model.path)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert summary.paragraphs == len(rows) > 0
    in_memory = model.label([r["text"] for r in rows])
    assert [sorted(r["labels"]) for r in rows] == [sorted(x) for x in in_memory["labels"]]
