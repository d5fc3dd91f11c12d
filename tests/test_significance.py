"""Paired tests on constructed predictions where the answer is known."""

import math

import numpy as np
import pytest

from policytheme.eval.significance import holm, mcnemar, paired_bootstrap


def _flip(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(y.shape) < share, 1 - y, y)


Y = np.random.default_rng(0).integers(0, 2, (300, 3))


def test_identical_runs_are_never_significant():
    for seed in range(5):
        pred = _flip(Y, 0.3, seed)
        t = paired_bootstrap(Y, pred, pred.copy(), n_boot=200, seed=seed)
        assert (t["delta"], t["low"], t["high"], t["p"]) == (0.0, 0.0, 0.0, 1.0)
        for j in range(3):
            m = mcnemar(pred[:, j] == Y[:, j], pred[:, j] == Y[:, j])
            assert (m["b"], m["c"], m["p"]) == (0, 0, 1.0)


def test_a_clearly_better_run_is_significant_both_ways_round():
    good, bad = _flip(Y, 0.05, 1), _flip(Y, 0.35, 2)
    t = paired_bootstrap(Y, good, bad, n_boot=500)
    assert t["delta"] > 0.2 and t["low"] > 0 and t["p"] < 0.01
    back = paired_bootstrap(Y, bad, good, n_boot=500)
    assert back["delta"] == pytest.approx(-t["delta"]) and back["high"] < 0 and back["p"] < 0.01
    m = mcnemar(good[:, 0] == Y[:, 0], bad[:, 0] == Y[:, 0])
    assert m["b"] > m["c"] and m["p"] < 0.001 and not m["exact"]


def test_runs_differing_on_a_few_paragraphs_are_not_significant():
    a = _flip(Y, 0.2, 3)
    b = a.copy()
    b[:3] = 1 - b[:3]  # three paragraphs differ, out of 300
    assert paired_bootstrap(Y, a, b, n_boot=500)["p"] > 0.05
    assert mcnemar(a[:, 0] == Y[:, 0], b[:, 0] == Y[:, 0])["p"] > 0.05


def test_mcnemar_against_hand_computed_values():
    # b=0, c=10 discordant pairs: exact two-sided binomial p = 2 * 0.5**10
    only_b = np.r_[np.zeros(10, bool), np.ones(5, bool)]
    m = mcnemar(only_b, np.ones(15, bool))
    assert (m["b"], m["c"], m["exact"]) == (0, 10, True) and m["p"] == pytest.approx(2 * 0.5**10)
    # b=10, c=20: chi-square with continuity correction, (|10-20|-1)^2/30 = 2.7 on 1 df
    a = np.r_[np.ones(10, bool), np.zeros(20, bool)]
    m = mcnemar(a, ~a)
    assert (m["b"], m["c"], m["exact"]) == (10, 20, False)
    assert m["p"] == pytest.approx(math.erfc(math.sqrt(2.7 / 2)))  # chi2(1) survival function


def test_holm_against_hand_computed_values():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([None, 0.02, None]) == [None, 0.02, None]
    assert holm([0.5, 0.9]) == [1.0, 1.0]
