import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from policytheme.models import ModelError, load_model, make_model
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

    from policytheme.models.ngrams import CharNgramTfidf

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


def test_clause_scores_are_the_best_piece_and_cues_count():
    model, _ = _fit("tfidf-logreg", whole=True)
    two = "加大研发投入，突破关键核心技术。居民消费价格涨幅保持稳定。"
    per_clause = model.predict_proba(["加大研发投入，突破关键核心技术。", "居民消费价格涨幅保持稳定。"])
    whole = model.score((model.features([two]), None, 1))[0]  # the paragraph scored as one piece
    assert not np.allclose(whole, per_clause.max(axis=0), atol=1e-3)  # so the two checks below differ
    assert np.allclose(model.predict_proba([two])[0], np.maximum(per_clause.max(axis=0), whole), atol=1e-6)
    model.params["whole"] = False
    assert np.allclose(model.predict_proba([two])[0], per_clause.max(axis=0), atol=1e-6)
    x = model.prepare(["价格战"])[0]
    assert x.shape[1] == len(model._names()) and model._names()[-3:] == [f"cues__{lab}" for lab in LABELS]
    assert x[0, -3] > 0 and x[0, -1] == 0  # "价格战" is a price cue, not an innovation one


def test_clause_fit_learns_which_clause_carries_the_theme():
    themed = [
        "加大研发投入，突破关键核心技术。",
        "建设国家实验室，攻关芯片技术。",
        "支持企业研发新产品，申请发明专利。",
        "实施重大科技专项，加强基础研究。",
        "培育创新型企业，提高研发强度。",
        "推进科技成果转化，建设创新平台。",
    ]
    filler = "做好社区养老服务。"  # beside every themed clause, so paragraph labels credit it too
    others = [
        "推进乡村道路建设。",
        "加强安全生产监管。",
        "稳定粮食生产。",
        "办好人民满意的教育。",
        "保障困难群众基本生活。",
    ]
    texts = [t + filler for t in themed] * 2 + [filler] * 2 + [a + b for a in others for b in others if a != b]
    y = np.zeros((len(texts), 3), int)
    y[:12, 2] = 1

    def innovation(**params):
        model = make_model("tfidf-logreg", LABELS, **params).fit(texts, y)
        return model.predict_proba([filler, themed[0]])[:, 2]

    plain = innovation()
    best_only = innovation(clause_fit=True, clause_fit_min=0.99)  # the best clause of each themed paragraph
    every = innovation(clause_fit=True, clause_fit_min=0.0)  # every clause of a themed paragraph is a positive
    assert best_only[0] < plain[0] - 0.1 and best_only[1] > plain[1]  # the filler loses the credit it borrowed
    assert every[0] > plain[0] + 0.3  # and gains it when all clauses count
    assert np.allclose(innovation(clauses=False, clause_fit=True), innovation(clauses=False))  # clauses are needed


def test_lead_weight_weighs_the_first_files_paragraphs():
    rows = make_rows()
    texts = [r["text"] for r in rows]
    y = np.array([[lab in r["labels"] for lab in LABELS] for r in rows], dtype=int)

    def coef(lead, **params):
        model = make_model("tfidf-logreg", LABELS, cues=0.0, clauses=False, **params).fit(texts, y, lead=lead)
        return np.concatenate([clf.coef_[0] for clf in model.estimators_])

    plain = coef(None, C=4.0)
    assert np.allclose(coef(np.zeros(len(texts), bool), C=4.0, lead_weight=3.0), plain)  # no lead rows: no effect
    assert np.allclose(coef(np.ones(len(texts), bool), C=4.0, lead_weight=3.0), plain)  # one file: no weighting
    half = np.arange(len(texts)) < len(texts) // 2
    weighed = coef(half, C=4.0, lead_weight=4.0)
    assert not np.allclose(weighed, plain, atol=1e-2)
    # liblinear's loss is C x sum of weight x loss: C 4 with the lead half at 4 and the rest at 1 is the same
    # fit as C 16 with the lead half at 1 and the rest at 1 / 4
    quarter = make_model("tfidf-logreg", LABELS, cues=0.0, clauses=False, C=1.0)
    quarter.fit(texts, y)
    x = quarter.features(texts)
    from sklearn.linear_model import LogisticRegression

    by_hand = [
        LogisticRegression(C=16.0, class_weight="balanced", max_iter=2000, solver="liblinear")
        .fit(x, y[:, j], sample_weight=np.where(half, 1.0, 0.25))
        .coef_[0]
        for j in range(len(LABELS))
    ]
    assert np.allclose(weighed, np.concatenate(by_hand), atol=1e-4)


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


def test_the_model_tunes_and_applies_its_own_thresholds():
    from policytheme.models import make_model

    model = make_model("keywords", ["price_competition", "industrial_upgrading", "innovation"]).fit([], None)
    texts = ["价格战 低价竞争", "价格战", "研发投入", "天气"]
    y = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0]])
    assert model.tune(texts, y) is model
    scores = model.predict_proba(texts)
    assert scores[0, 0] >= model.thresholds_[0] > scores[1, 0]  # two cues needed for price: F1 1.0
    assert model.thresholds_[1] == 0.5  # no positive of upgrading: the default stays
    assert (model.predict(texts) == model.decide(scores)).all() and model.predict(texts)[:, 0].tolist() == [1, 0, 0, 0]


def test_each_script_gets_its_own_thresholds_where_its_dev_data_has_enough_positives(tmp_path):
    from policytheme.models import load_model, make_model
    from policytheme.models.base import SCRIPT_MIN_POSITIVES
    from policytheme.models.scripts import script_of

    texts = ["价格战。", "Price war.", "Ценовая война", "2024"]
    assert [script_of(t) for t in texts] == ["han", "latin", "other", "other"]
    # all texts at once, as a labeler decides a chunk: letters only (kana marks and dots are not), a majority
    # of them, characters beyond the basic plane counted (CJK extension B is not among the Han ranges)
    from policytheme.models.scripts import scripts_of

    more = ["", "ーー・゛゛゛a", "ab中文", "a中文", "𠀀𠀁𠀂ab", "混合 mixed", "Ⅱ① ab", "Ⅱ①中"]
    assert scripts_of(texts + more).tolist() == [*[script_of(t) for t in texts], "other", "han", "other", "han",
                                                 "other", "latin", "latin", "han"]  # fmt: skip
    labels = ["price_competition", "industrial_upgrading", "innovation"]
    model = make_model("keywords", labels).fit([], None)
    n = SCRIPT_MIN_POSITIVES
    # Chinese: one price cue is enough; English: positives carry two cues, one-cue paragraphs are not price
    zh = ["价格战"] * n + ["天气"] * n
    en = ["price war and dumping"] * n + ["the dumping ground"] * n
    y = np.array([[1, 0, 0]] * n + [[0, 0, 0]] * n + [[1, 0, 0]] * n + [[0, 0, 0]] * n)
    model.tune(zh + en, y)
    assert set(model.script_thresholds_) == {"han", "latin"}
    assert model.script_thresholds_["latin"][0] > 0.5 >= model.script_thresholds_["han"][0]
    assert model.script_thresholds_["latin"][2] == model.thresholds_[2]  # innovation: no positives, overall cut
    texts = ["价格战", "the dumping ground", "price war and dumping"]
    assert model.predict(texts)[:, 0].tolist() == [1, 0, 1]
    assert model.decide(model.predict_proba(texts))[:, 0].tolist() != [1, 0, 1]  # without texts: overall cut
    again = load_model(model.save(tmp_path / "m"))
    assert again.predict(texts).tolist() == model.predict(texts).tolist()
