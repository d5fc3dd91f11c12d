"""Error analysis: the most confident errors per theme, and the n-grams the linear baselines weigh most."""

import numpy as np
import pytest

from policytheme.data.records import label_ids, read_examples, to_matrix
from policytheme.eval.errors import confident_errors
from policytheme.models import make_model
from policytheme.models.base import ThemeModel

META = [{"id": f"p{i}", "doc_id": "d", "lang": "zh", "labels": [], "text": f"paragraph {i}"} for i in range(7)]


def test_confident_errors_are_ranked_by_score():
    y = np.array([[0], [0], [0], [1], [1], [1], [0]])
    s = np.array([[0.6], [0.9], [0.2], [0.1], [0.4], [0.8], [0.7]])
    pred = (s >= 0.5).astype(int)
    e = confident_errors(y, pred, s, META, ["a"], k=2)["a"]
    # false positives: p0 (0.6), p1 (0.9), p6 (0.7) -> highest first, two kept
    assert [x["id"] for x in e["false_positives"]] == ["p1", "p6"]
    # false negatives: p3 (0.1), p4 (0.4) -> lowest first
    assert [x["id"] for x in e["false_negatives"]] == ["p3", "p4"]
    assert (e["n_false_positives"], e["n_false_negatives"]) == (3, 2)
    assert e["false_positives"][0]["score"] == 0.9 and e["false_positives"][0]["text"] == "paragraph 1"


def test_long_paragraphs_are_shortened_in_the_table():
    meta = [{**META[0], "text": "长" * 1000}]
    e = confident_errors(np.array([[0]]), np.array([[1]]), np.array([[0.9]]), meta, ["a"])["a"]
    assert len(e["false_positives"][0]["text"]) <= 280 and e["false_positives"][0]["text"].endswith("…")


@pytest.mark.parametrize("name", ["tfidf-logreg", "tfidf-svm", "tfidf-nb"])
def test_top_ngrams_of_the_linear_baselines_point_at_their_theme(tiny_data, name):
    labels = label_ids()
    rows = read_examples(tiny_data, labels)
    # without the cue counts (which, on data this small, explain everything by themselves)
    model = make_model(name, labels, cues=0.0, word_ngrams=[1, 2]).fit([r.text for r in rows], to_matrix(rows, labels))
    top = model.top_terms(k=10)
    assert set(top) == set(labels) and all(0 < len(v) <= 10 for v in top.values())
    weights = [w for _, w in top["innovation"]]
    assert weights == sorted(weights, reverse=True) and weights[-1] > 0
    # the fixture's innovation phrases: 研发, 实验室, R&D, patents, research, technology
    words = ("研发", "实验", "核心技术", "patent", "research", "technology", "r&d")
    hits = [t for t, _ in top["innovation"] if any(w in t.lower() for w in words)]
    assert len(hits) >= 5, top["innovation"]
    assert all(t.split("__")[0] in ("word", "char") for t, _ in top["innovation"])
    with_cues = make_model(name, labels).fit([r.text for r in rows], to_matrix(rows, labels)).top_terms(k=3)
    assert with_cues["innovation"][0][0] == "cues__innovation"


def test_models_without_feature_weights_have_no_top_terms():
    assert ThemeModel(["a"]).top_terms() is None
