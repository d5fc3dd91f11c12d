"""A first command with no model to train: the default model (built once, offline, with its card), installed
models by name, and a two-theme codebook of the user's own through train, evaluate, compare, label and
annotate."""

import json
from pathlib import Path

import pytest

from policytheme.cli import main
from policytheme.data.records import DEFAULT_DATA, DataError, load_schema
from policytheme.label.annotate import Session


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("POLICYTHEME_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "models"


def _docs(d: Path) -> Path:
    d.mkdir()
    (d / "r.txt").write_text(
        "综合整治“内卷式”竞争，坚决遏制低价无序竞争。\n\n加大研发投入，突破关键核心技术。\n", encoding="utf-8"
    )
    return d


def test_label_without_a_model_builds_the_default_once_and_lists_it(home, tmp_path, capsys):
    docs = _docs(tmp_path / "docs")
    assert main(["label", str(docs), "--out", str(tmp_path / "a.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "building the default model once" in err
    (built,) = [p for p in home.iterdir() if not p.name.startswith(".")]
    assert built.name.startswith("default-") and (built / "model" / "MODEL_CARD.md").is_file()
    card = (built / "MODEL_CARD.md").read_text()
    assert "### real, test split" in card and "### corpus, test split" in card
    assert "| price_competition |" in card and "## Limits" in card and "## Intended use" in card
    provenance = json.loads((built / "model" / "model.json").read_text())["provenance"]
    assert (
        provenance["libraries"]["scikit-learn"]
        and len(provenance["data"]) == len(DEFAULT_DATA)
        and provenance["labels"]
    )
    rows = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert rows[0]["labels"] == ["price_competition"] and "innovation" in rows[1]["labels"]
    assert main(["label", str(docs), "--out", str(tmp_path / "b.jsonl"), "--quiet"]) == 0
    assert "building" not in capsys.readouterr().err  # cached
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert built.name in listing and "tfidf-logreg" in listing and "on real test" in listing


def test_install_a_run_under_a_name(home, tmp_path, tiny_data, capsys):
    assert (
        main(["train", "--model", "tfidf-nb", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--n-boot", "10"])
        == 0
    )
    assert main(["models", "--install", str(tmp_path / "r"), "--name", "mine"]) == 0
    assert (home / "mine" / "MODEL_CARD.md").is_file()
    docs = _docs(tmp_path / "docs")
    assert main(["label", "--model", "mine", str(docs), "--out", str(tmp_path / "o.jsonl"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["label", "--model", "nobody", str(docs), "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "installed: mine" in capsys.readouterr().err


def test_a_two_theme_codebook_end_to_end(home, tmp_path, capsys):
    codebook = tmp_path / "themes.json"
    codebook.write_text(
        json.dumps(
            {
                "labels": [
                    {"id": "green", "name": "Green", "description": "emissions, clean energy"},
                    {"id": "digital", "name": "Digital", "description": "data, platforms, AI"},
                ]
            }
        )
    )
    phrases = {"green": ["降低碳排放。", "Clean energy grew."], "digital": ["建设数据平台。", "AI platforms spread."]}
    rows = []
    for d in range(12):
        for p in range(5):
            theme = ["green", "digital", None][(d + p) % 3]
            text = (phrases[theme][d % 2] if theme else ["修建道路。", "Roads were built."][d % 2]) + f" ({d}.{p})"
            rows.append({"id": f"d{d}-{p}", "doc_id": f"d{d}", "text": text, "labels": [theme] if theme else []})
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run = tmp_path / "run"
    argv = ["train", "--model", "tfidf-logreg", "--codebook", str(codebook), "--data", str(data), "--out", str(run)]
    assert main([*argv, "--n-boot", "10"]) == 0
    assert [t["id"] for t in json.loads((run / "labels.json").read_text())["labels"]] == ["green", "digital"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["per_label"]) == {"green", "digital"} and metrics["macro_f1"] > 0.5
    assert main(["evaluate", str(run), "--data", str(data), "--n-boot", "10"]) == 0
    assert main(["compare", str(run), "--out", str(tmp_path / "c.md")]) == 0
    assert "F1 green" in (tmp_path / "c.md").read_text()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "x.txt").write_text("降低碳排放。\n\n建设数据平台。\n", encoding="utf-8")
    assert main(["label", "--model", str(run), str(docs), "--out", str(tmp_path / "l.jsonl"), "--quiet"]) == 0
    labeled = [json.loads(x)["labels"] for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert labeled == [["green"], ["digital"]]
    session = Session([str(docs)], tmp_path / "a.jsonl", None, load_schema(codebook), retrain_every=0)
    item = session.next()
    assert item["suggestion"] == [] and set(item["scores"]) == {"green", "digital"}
    session.answer(item["id"], ["green"])
    with pytest.raises(DataError):
        session.answer(session.next()["id"], ["price_competition"])  # not a theme of this codebook
    capsys.readouterr()
    assert main(["train", "--model", "tfidf-nb", "--data", str(data), "--out", str(tmp_path / "r2")]) == 2
    assert "unknown label 'green'" in capsys.readouterr().err  # without --codebook: the shipped themes


def test_a_bad_codebook_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "cb.json"
    bad.write_text('{"labels": [{"id": "Bad Theme"}]}')
    assert main(["train", "--model", "tfidf-nb", "--codebook", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "needs an 'id' of lower-case letters" in capsys.readouterr().err
