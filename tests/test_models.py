import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from models import ModelError, load_model, make_model
from tests.conftest import make_rows

LABELS = ["price_competition", "industrial_upgrading", "innovation"]


def _fit(name):
    rows = make_rows()
    y = np.array([[lab in r["labels"] for lab in LABELS] for r in rows], dtype=int)
    return make_model(name, LABELS).fit([r["text"] for r in rows], y), [r["text"] for r in rows]


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
