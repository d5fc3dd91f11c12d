import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from models import ModelError, load_model, make_model
from tests.conftest import make_rows

LABELS = ["price_competition", "industrial_upgrading", "innovation"]


def _fit(name, **params):
    rows = make_rows()
    y = np.array([[lab in r["labels"] for lab in LABELS] for r in rows], dtype=int)
    return make_model(name, LABELS, **params).fit([r["text"] for r in rows], y), [r["text"] for r in rows]


@pytest.mark.parametrize("name", ["tfidf-logreg", "tfidf-svm", "tfidf-nb"])
def test_contract_save_load_round_trip(name, tmp_path):
    model, texts = _fit(name)
    model.thresholds_ = np.array([0.3, 0.5, 0.7])
    p = model.predict_proba(texts)
    assert p.shape == (len(texts), 3) and ((p >= 0) & (p <= 1)).all()
    model.save(tmp_path)
    again = load_model(tmp_path)
    assert np.allclose(again.predict_proba(texts), p, atol=1e-6)
    assert again.thresholds_.tolist() == [0.3, 0.5, 0.7]
    assert (again.predict(texts) == (p >= [0.3, 0.5, 0.7])).all()


def test_theme_absent_from_training_is_handled():
    rows = make_rows()
    y = np.array([[lab in r["labels"] for lab in LABELS] for r in rows], dtype=int)
    y[:, 2] = 0
    model = make_model("tfidf-logreg", LABELS).fit([r["text"] for r in rows], y)
    assert (model.predict_proba(["研发"])[:, 2] == 0).all()


def test_loading_refuses_unexpected_types(tmp_path):
    model, _ = _fit("tfidf-nb")
    model.save(tmp_path)
    # a file from elsewhere that carries a callable must not load
    sio.dump(
        {"vectorizer": FunctionTransformer(func=np.sum), "terms": [], "estimators": [], "constant": []},
        tmp_path / "model.skops",
    )
    with pytest.raises(ModelError, match="refusing to load"):
        load_model(tmp_path)


def test_unknown_model_name():
    with pytest.raises(ModelError, match="unknown model"):
        make_model("bert-huge", LABELS)


TRICKY = [
    "价格战 愈演愈烈，企业利润率持续走低。",
    "Price WARS squeeze   margins\tand\u3000利润 — thin!",
    "a I 我 x",  # words shorter than the n-gram sizes
    "",
    "   ",
    "emoji 🚀 and unseen 𠀀 characters ÆØÅ",
    "重复重复重复重复 重复",
]


@pytest.mark.parametrize("ngrams", [(1, 4), (2, 3), (3, 3)])
def test_fast_char_ngrams_equal_scikit_learn(ngrams):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from models.ngrams import CharNgramTfidf

    train = [r["text"] for r in make_rows()] + TRICKY[:3]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True, dtype=np.float32).fit(train)
    assert CharNgramTfidf.supports(vec)
    texts = TRICKY + train
    expected, got = vec.transform(texts), CharNgramTfidf(vec).transform(texts)
    assert got.shape == expected.shape and got.nnz == expected.nnz
    assert abs(got - expected).max() < 1e-6
    assert not CharNgramTfidf.supports(TfidfVectorizer(analyzer="char", ngram_range=ngrams).fit(train))


def test_prepare_then_score_is_predict_proba():
    # whole paragraphs, n-grams only: the fast features equal scikit-learn's own
    model, texts = _fit("tfidf-logreg", clauses=False, cues=0.0)
    slow = np.column_stack([clf.predict_proba(model.vectorizer_.transform(texts))[:, 1] for clf in model.estimators_])
    assert np.allclose(model.score(model.prepare(texts)), slow, atol=1e-6)
    assert np.allclose(model.predict_proba(texts), slow, atol=1e-6)


def test_clause_scores_are_the_best_clause_and_cues_count():
    model, _ = _fit("tfidf-logreg")
    two = "加大研发投入，突破关键核心技术。居民消费价格涨幅保持稳定。"
    per_clause = model.predict_proba(["加大研发投入，突破关键核心技术。", "居民消费价格涨幅保持稳定。"])
    assert np.allclose(model.predict_proba([two])[0], per_clause.max(axis=0), atol=1e-6)
    x = model.prepare(["价格战"])[0]
    assert x.shape[1] == len(model._names()) and model._names()[-3:] == [f"cues__{lab}" for lab in LABELS]
    assert x[0, -3] > 0 and x[0, -1] == 0  # "价格战" is a price cue, not an innovation one


def test_a_model_folder_checks_its_own_provenance(tmp_path):
    import json

    model, texts = _fit("tfidf-logreg")
    model.provenance_ = {"labels": [{"id": lab} for lab in LABELS], "libraries": {"scikit-learn": "0.0.1"}}
    model.save(tmp_path)
    assert load_model(tmp_path).provenance_["labels"][0]["id"] == LABELS[0]
    card = json.loads((tmp_path / "model.json").read_text())
    card["provenance"]["labels"] = [{"id": lab} for lab in reversed(LABELS)]
    (tmp_path / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="label schema .* and its labels .* disagree"):
        load_model(tmp_path)
    card["provenance"]["labels"] = [{"id": lab} for lab in LABELS]
    (tmp_path / "model.json").write_text(json.dumps(card))
    (tmp_path / "model.skops").write_bytes(b"junk")
    with pytest.raises(ModelError, match=r"saved with scikit-learn 0\.0\.1, this is"):
        load_model(tmp_path)
