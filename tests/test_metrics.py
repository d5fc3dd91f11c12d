import numpy as np
import pytest

from policytheme.eval.metrics import bootstrap_ci, evaluate_arrays, label_metrics, macro_f1
from policytheme.models.thresholds import best_f1_threshold, tune_thresholds

LABELS = ["a", "b", "c"]
# 4 paragraphs, hand-checked below
Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
P = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
S = np.array([[0.9, 0.1, 0.1], [0.4, 0.8, 0.2], [0.7, 0.9, 0.1], [0.1, 0.2, 0.6]])


def test_against_hand_computed_values():
    m = label_metrics(Y, P, S, LABELS)
    a, b, c = (m["per_label"][k] for k in LABELS)
    # a: tp=1 fp=1 fn=1 -> P=R=F1=0.5; b: tp=2 -> 1.0; c: no positives, one false alarm -> F1 0
    assert (a["precision"], a["recall"], a["f1"], a["support"]) == (0.5, 0.5, 0.5, 2)
    assert (b["precision"], b["recall"], b["f1"], b["support"]) == (1.0, 1.0, 1.0, 2)
    assert c["f1"] == 0.0 and c["recall"] is None and c["pr_auc"] is None
    assert m["macro_f1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    # micro: tp=3, fp=2, fn=1 -> 2*3/(2*3+2+1)
    assert m["micro_f1"] == pytest.approx(6 / 9)
    # samples: row F1s 1, 2/3, 2/3, 0 (row 4: nothing true, one predicted)
    assert m["samples_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3 + 0) / 4)
    assert m["subset_accuracy"] == 0.25
    assert m["hamming_loss"] == pytest.approx(3 / 12)  # wrong cells: (2,a) (3,a) (4,c)
    # PR-AUC of a: scores of positives 0.9, 0.4; negatives 0.7, 0.1 -> AP = (1 + 2/3) / 2
    assert a["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)


def test_theme_with_neither_truth_nor_prediction_is_left_out_of_macro():
    p = P.copy()
    p[3, 2] = 0
    assert macro_f1(Y, p) == pytest.approx((0.5 + 1.0) / 2)


def test_bootstrap_interval_is_deterministic_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (300, 3))
    p = np.where(rng.random((300, 3)) < 0.8, y, 1 - y)
    ci = bootstrap_ci(y, p, n_boot=300, seed=1)
    assert ci == bootstrap_ci(y, p, n_boot=300, seed=1)
    assert ci["low"] < macro_f1(y, p) < ci["high"]
    assert bootstrap_ci(y, y, n_boot=50)["low"] == 1.0


def test_every_figure_per_language():
    m = evaluate_arrays(Y, P, S, ["zh", "zh", "en", "en"], LABELS, n_boot=50)
    assert set(m["per_language"]) == {"en", "zh"}
    assert m["per_language"]["zh"]["per_label"]["a"]["f1"] == pytest.approx(2 / 3)
    assert {"macro_f1", "micro_f1", "per_label", "per_language", "ci"} <= set(m)


def test_threshold_maximises_f1():
    y = np.array([1, 1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    t = best_f1_threshold(y, s)  # best cut: top 4 (F1 6/7) rather than top 2 (F1 0.8)
    assert 0.2 < t < 0.6
    assert best_f1_threshold(np.zeros(3), np.array([0.1, 0.5, 0.9])) == 0.5
    # where calling every paragraph is best and the lowest score is 0, the cut is 0 (a score), not below it
    every = best_f1_threshold(np.array([1, 1, 0, 1]), np.array([0.0, 0.0, 0.0, 0.0]))
    assert every == 0.0 and (np.zeros(4) >= every).all()
    assert tune_thresholds(np.c_[y, y], np.c_[s, s]).tolist() == [t, t]
