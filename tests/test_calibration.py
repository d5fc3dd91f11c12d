"""Calibration, PR-curve points and per-theme intervals against hand-computed values."""

import numpy as np
import pytest

from policytheme.eval.calibration import expected_calibration_error, pr_curve_points, reliability_bins
from policytheme.eval.metrics import evaluate_arrays, label_metrics

Y = np.array([0, 0, 1, 1, 1, 0])
S = np.array([0.05, 0.15, 0.15, 0.85, 0.95, 0.95])


def test_ece_against_hand_computed_value():
    # bins [0,.1): conf .05 acc 0; [.1,.2): conf .15 acc .5; [.8,.9): conf .85 acc 1; [.9,1]: conf .95 acc .5
    # ECE = (1*.05 + 2*.35 + 1*.15 + 2*.45) / 6 = 0.3
    assert expected_calibration_error(Y, S) == pytest.approx(0.3)
    bins = reliability_bins(Y, S)
    assert [(b["low"], b["count"]) for b in bins] == [(0.0, 1), (0.1, 2), (0.8, 1), (0.9, 2)]
    assert bins[1]["confidence"] == pytest.approx(0.15) and bins[1]["accuracy"] == 0.5


def test_ece_of_calibrated_and_of_confidently_wrong_scores():
    y = np.array([1, 0, 1, 0])
    assert expected_calibration_error(y, np.full(4, 0.5)) == 0.0  # half carry the theme, all scored 0.5
    assert expected_calibration_error(y, 1.0 - y) == pytest.approx(1.0)  # a score of 1.0 falls in the last bin
    assert expected_calibration_error(np.array([]), np.array([])) is None


def test_ece_per_theme_in_the_metrics():
    y = np.c_[Y, 1 - Y]
    s = np.c_[S, S]
    m = label_metrics(y, (s >= 0.5).astype(int), s, ["a", "b"])
    assert m["per_label"]["a"]["ece"] == pytest.approx(0.3)
    # theme b: bins conf .05 acc 1; .15 acc .5; .85 acc 0; .95 acc .5 -> (.95 + 2*.35 + .85 + 2*.45) / 6
    assert m["per_label"]["b"]["ece"] == pytest.approx((0.95 + 0.7 + 0.85 + 0.9) / 6)
    assert m["macro_ece"] == pytest.approx((0.3 + 3.4 / 6) / 2)


def test_pr_curve_points_are_thinned_keeping_both_ends():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    s = rng.random(1000)
    pr = pr_curve_points(y, s, max_points=50)
    assert len(pr["precision"]) == len(pr["recall"]) <= 50
    assert pr["recall"][0] == 1.0 and pr["recall"][-1] == 0.0
    assert pr_curve_points(np.zeros(5), np.ones(5)) is None


def test_pr_curve_keeps_the_corner_of_a_single_positive():
    y = np.zeros(500, dtype=int)
    y[7] = 1
    s = np.linspace(0.0, 0.99, 500)
    s[7] = 1.0  # the only positive is scored highest: perfect precision at full recall
    pr = pr_curve_points(y, s, max_points=20)
    at_full_recall = [p for p, r in zip(pr["precision"], pr["recall"]) if r == 1.0]
    assert max(at_full_recall) == 1.0 and pr["recall"][-1] == 0.0


def test_every_theme_gets_a_bootstrap_interval_around_its_f1():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (200, 3))
    p = np.where(rng.random((200, 3)) < 0.8, y, 1 - y)
    m = evaluate_arrays(y, p, p.astype(float), ["zh"] * 120 + ["en"] * 80, ["a", "b", "c"], n_boot=200)
    for lab in "abc":
        ci = m["per_label"][lab]["ci"]
        assert ci["low"] < m["per_label"][lab]["f1"] < ci["high"]
        assert m["per_language"]["en"]["per_label"][lab]["ci"]["low"] is not None
