"""Is one run really better than another on the same paragraphs? Paired tests: arrays in, numbers out.

- :func:`paired_bootstrap`: resample the paragraphs with replacement, score both runs on each resample,
  and look at the spread of the difference (macro-F1 by default). Pairing matters: both runs see the
  same hard and easy paragraphs in every resample, so the test is much sharper than comparing two
  separate intervals.
- :func:`mcnemar`: for one theme, count the paragraphs that only run A decides right and those only run
  B decides right; with no real difference the two counts are alike.
- :func:`holm`: several runs tested against the best one are several tests; Holm's step-down method
  keeps the chance of any false "significant" at ``alpha``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import binomtest, chi2

from policytheme.eval.metrics import macro_f1

EXACT_BELOW = 25  # discordant pairs under which McNemar's test uses the exact binomial distribution


def paired_bootstrap(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float] = macro_f1,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Difference ``metric(a) - metric(b)`` with a percentile interval and a two-sided p-value.

    The p-value is twice the smaller share of resampled differences on either side of zero (capped at
    1), so identical predictions always give p = 1 and a run better on every resample gives p = 0
    (read it as p < 1 / n_boot).
    """
    y_true, pred_a, pred_b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    deltas = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        deltas[i] = metric(y_true[idx], pred_a[idx]) - metric(y_true[idx], pred_b[idx])
    alpha = (1 - level) / 2
    p = min(1.0, 2 * min(np.mean(deltas <= 0), np.mean(deltas >= 0)))
    return {
        "delta": float(metric(y_true, pred_a) - metric(y_true, pred_b)),
        "low": float(np.quantile(deltas, alpha)),
        "high": float(np.quantile(deltas, 1 - alpha)),
        "p": float(p),
        "n_boot": n_boot,
    }


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """McNemar's test on paired right/wrong decisions (exact binomial below 25 discordant pairs).

    ``b``: paragraphs only A decides right; ``c``: only B. Returns b, c and the two-sided p-value.
    """
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    if b + c == 0:
        p = 1.0
    elif b + c < EXACT_BELOW:
        p = binomtest(b, b + c, 0.5).pvalue
    else:  # chi-square with continuity correction
        p = chi2.sf((abs(b - c) - 1) ** 2 / (b + c), df=1)
    return {"b": b, "c": c, "p": float(min(1.0, p)), "exact": b + c < EXACT_BELOW}


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the input order (``None`` stays ``None`` and is not counted)."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(present)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
