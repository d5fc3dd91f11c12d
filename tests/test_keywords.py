"""The keyword method on the model contract: scores from cues, thresholds, save/load, train and compare."""

import json

import numpy as np
import pytest

from policytheme.cli import main
from policytheme.models import ModelError, load_model, make_model
from tests.conftest import make_rows, write_jsonl

LABELS = ["price_competition", "industrial_upgrading", "innovation"]


def test_scores_count_distinct_cues_per_theme():
    model = make_model("keywords", LABELS)
    p = model.predict_proba(
        [
            "综合整治内卷式竞争，坚决遏制低价无序竞争。",  # price: 内卷, 无序竞争, 低价无序竞争 (distinct cues)
            "Firms moved up the value chain; R&D spending and patents rose.",
            "居民消费价格涨幅控制在3%左右。",  # the CPI is not price competition
            "",
        ]
    )
    assert p.shape == (4, 3)
    assert p[0, 0] >= 2 / 3 and p[0, 1] == 0 and p[0, 2] == 0
    assert p[1, 0] == 0 and p[1, 1] == 0.5 and p[1, 2] == pytest.approx(2 / 3)
    assert (p[2] == 0).all() and (p[3] == 0).all()
    assert model.predict(["A price war broke out."]).tolist() == [[1, 0, 0]]  # one cue at the default 0.5


def test_latin_cues_match_at_word_starts_only():
    model = make_model("keywords", LABELS)
    assert model.matches("Patents and laboratories") == [[], [], ["patent", "laborator"]]
    assert model.matches("compatent") == [[], [], []]  # "patent" inside another word is no cue


def test_save_load_travels_with_its_lexicon(tmp_path):
    lexicon = tmp_path / "lex.json"
    lexicon.write_text(json.dumps({"cues": {lab: {"en": [lab.split("_")[0]]} for lab in LABELS}}))
    model = make_model("keywords", LABELS, lexicon=str(lexicon))
    model.thresholds_ = np.array([0.25, 0.5, 0.7])
    model.save(tmp_path / "m")
    lexicon.unlink()  # the model folder carries its own cues
    again = load_model(tmp_path / "m")
    assert again.predict_proba(["price and innovation"]).tolist() == [[0.5, 0.0, 0.5]]
    assert again.thresholds_.tolist() == [0.25, 0.5, 0.7]


def test_bad_lexicon_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"cues": {"price_competition": {"en": [3]}}}')
    with pytest.raises(ModelError, match="bad.json: not a keyword lexicon"):
        make_model("keywords", LABELS, lexicon=str(bad)).fit([], np.zeros((0, 3)))
    with pytest.raises(ModelError, match="no cues for industrial_upgrading, innovation"):
        make_model("keywords", LABELS, lexicon=str(_lexicon(tmp_path, ["price_competition"]))).fit([], np.zeros((0, 3)))


def _lexicon(tmp_path, themes):
    path = tmp_path / "some.json"
    path.write_text(json.dumps({"cues": {lab: {"en": ["x"]} for lab in themes}}))
    return path


def test_train_and_compare_show_keywords_as_the_floor(tmp_path, capsys):
    data = write_jsonl(tmp_path / "tiny.jsonl", make_rows())
    for name in ("keywords", "tfidf-logreg"):
        assert (
            main(["train", "--model", name, "--data", str(data), "--out", str(tmp_path / name), "--n-boot", "50"]) == 0
        )
    text = capsys.readouterr().out
    assert "trained keywords" in text
    out = tmp_path / "cmp.md"
    assert main(["compare", str(tmp_path / "tfidf-logreg"), str(tmp_path / "keywords"), "--out", str(out)]) == 0
    md = out.read_text()
    assert "Δ vs keywords" in md and "Against the keyword method (keywords" in md
    row = next(line for line in md.splitlines() if line.startswith("| tfidf-logreg"))
    assert row.count("|") > 10
