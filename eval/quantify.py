"""Theme shares corrected for the model's errors (quantification): pure functions of arrays.

A share counted from a model's labels is biased: a theme the model over-calls is overstated, a theme it
misses understated. What the model does on the paragraphs that tuned it (their out-of-fold scores in a
cross-fitted run, else its dev split; :class:`Rates`, stored in the run as ``quantification.json``) corrects
it, three ways:

- ``pcc`` (the default): probabilistic classify-and-count with calibrated scores. Each theme's scores are
  calibrated by isotonic regression on those paragraphs (a step function of the score: the share of gold
  positives among the paragraphs of each step), and a group's share is the mean calibrated probability of
  its paragraphs.
- ``acc``: adjusted classify-and-count inverts the decisions' true- and false-positive rates,
  ``counted = tpr * share + fpr * (1 - share)  =>  share = (counted - fpr) / (tpr - fpr)``.
- ``pacc``: the same with mean scores instead of decisions.

Intervals are percentile intervals of replicates, every replicate clipped to [0, 1]. For ``acc`` and ``pacc``
they redraw the tuning paragraphs (a bootstrap: the rates' uncertainty) and the group's counted share (its
sampling error: the Jeffreys posterior of k labeled of n, which unlike a bootstrap of the group's paragraphs
does not collapse to 0 when no paragraph was labeled; for PACC a normal draw of the mean score). For ``pcc``
they are intervals for the share of the group's paragraphs that are truly about the theme: each step's
probability is drawn from its Jeffreys posterior (the calibration's uncertainty), and the group's share
around its mean probability with the variance of independent paragraphs, sum p(1 - p) / n^2, times a
per-theme overdispersion factor (:func:`overdispersion`: documents differ in how well the model's scores
fit them, measured on the tuning paragraphs' own documents, cross-fitted over documents). ``cc`` (counting)
carries the group's sampling error alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.isotonic import isotonic_regression

METHODS = ("pcc", "acc", "pacc", "cc")
DEFAULT_METHOD = "pcc"  # chosen by eval/benchmarks/quantification.py (docs/commands.md: summarize)
MIN_PARAGRAPHS = 10  # fewer: a share, but no interval (it would span most of [0, 1])
MIN_SEPARATION = 0.1  # tpr - fpr (or the score gap) below this: the model cannot tell the theme apart
N_BOOT = 1000
QUANTIFICATION = "quantification.json"  # in the run folder and its model folder
BLOCK = 512
FOLDS = 5  # over documents, for the overdispersion factor


@dataclass
class Rates:
    """What the model does on the paragraphs that tuned it (its dev split, or their out-of-fold scores): per
    paragraph and theme, the gold label, the decision and the score (n x themes)."""

    themes: list[str]
    gold: np.ndarray  # bool
    decided: np.ndarray  # bool
    scores: np.ndarray  # float
    docs: list[str] | None = None  # the documents of the paragraphs (version 2; None in a version-1 file)
    doc: np.ndarray | None = None  # each paragraph's index into ``docs``
    script: np.ndarray | None = None  # each paragraph's script (models.scripts.script_of): han, latin, other
    split: str = "dev"  # "crossfit": out-of-fold scores of a cross-fitted run (train.run); "dev": the dev split's

    def to_json(self) -> dict:
        out = {"version": 2, "split": self.split, "paragraphs": int(len(self.gold))}
        if self.docs is not None:
            out |= {"docs": list(self.docs), "doc": [int(i) for i in self.doc], "script": [str(x) for x in self.script]}
        out["themes"] = {}
        for j, t in enumerate(self.themes):
            g, d, s = self.gold[:, j], self.decided[:, j], self.scores[:, j]
            out["themes"][t] = {
                **summary(g, d, s),
                "gold": "".join("1" if x else "0" for x in g),
                "decided": "".join("1" if x else "0" for x in d),
                "scores": [round(float(x), 4) for x in s],
            }
        return out

    @classmethod
    def from_json(cls, obj: dict, where: str = "quantification.json") -> Rates:
        try:
            themes = list(obj["themes"])
            cols = [obj["themes"][t] for t in themes]
            gold = np.array([[c == "1" for c in x["gold"]] for x in cols], dtype=bool).T
            decided = np.array([[c == "1" for c in x["decided"]] for x in cols], dtype=bool).T
            scores = np.array([x["scores"] for x in cols], dtype=np.float64).T
            docs = obj.get("docs")  # version 1 has none
            doc = None if docs is None else np.array(obj["doc"], dtype=np.int64)
            script = None if docs is None else np.array(obj["script"], dtype=str)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{where}: not a dev-split rates file ({type(e).__name__}: {e})") from None
        if not (gold.shape == decided.shape == scores.shape):
            raise ValueError(f"{where}: gold, decided and scores differ in length")
        if docs is not None and not (len(doc) == len(script) == len(gold) and ((doc >= 0) & (doc < len(docs))).all()):
            raise ValueError(f"{where}: doc and script must name one document and script per paragraph")
        return cls(themes, gold, decided, scores, docs, doc, script, str(obj.get("split", "dev")))

    def subset(self, rows: np.ndarray) -> Rates:
        """The paragraphs ``rows`` (a mask or indices), with their documents and scripts."""
        keep = None if self.doc is None else (self.doc[rows], self.script[rows])
        return Rates(
            self.themes,
            self.gold[rows],
            self.decided[rows],
            self.scores[rows],
            self.docs,
            *(keep or (None, None)),
            self.split,
        )

    def select(self, themes: list[str]) -> Rates:
        idx = [self.themes.index(t) for t in themes]
        g, d, s = self.gold[:, idx], self.decided[:, idx], self.scores[:, idx]
        return Rates(list(themes), g, d, s, self.docs, self.doc, self.script, self.split)


def summary(gold: np.ndarray, decided: np.ndarray, scores: np.ndarray) -> dict:
    """tpr, fpr and the mean scores of positives and negatives of one theme (None where undefined)."""
    pos, neg = gold.astype(bool), ~gold.astype(bool)

    def mean(x, m):
        return round(float(x[m].mean()), 4) if m.any() else None

    return {
        "positives": int(pos.sum()),
        "negatives": int(neg.sum()),
        "tpr": mean(decided.astype(float), pos),
        "fpr": mean(decided.astype(float), neg),
        "score_pos": mean(scores, pos),
        "score_neg": mean(scores, neg),
    }


def calibration(scores: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Isotonic calibration of one theme as steps: (the lowest score of each step, its gold positives, its
    paragraphs). A score's calibrated probability is positives / paragraphs of its step (:func:`steps_of`)."""
    values, inverse, counts = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True, return_counts=True)
    if not len(values):
        return np.zeros(1), np.zeros(1), np.zeros(1)
    pos = np.bincount(inverse, np.asarray(gold, dtype=np.float64), minlength=len(values))
    fitted = isotonic_regression(pos / counts, sample_weight=counts)
    step = np.cumsum(np.r_[True, np.diff(fitted) != 0]) - 1  # pooled adjacent values share one fitted value
    starts = np.r_[0, np.flatnonzero(np.diff(step)) + 1]
    return values[starts], np.bincount(step, pos), np.bincount(step, counts).astype(np.float64)


def steps_of(scores: np.ndarray, lows: np.ndarray) -> np.ndarray:
    """The calibration step of each score: the last step whose lowest score it reaches (the first below)."""
    return np.clip(np.searchsorted(lows, scores, side="right") - 1, 0, len(lows) - 1)


def calibrated(rates: Rates, scores: np.ndarray) -> np.ndarray:
    """``scores`` (paragraphs x themes) as calibrated probabilities, by :func:`calibration` on ``rates``."""
    out = np.zeros(scores.shape)
    for j in range(scores.shape[1]):
        lows, pos, n = calibration(rates.scores[:, j], rates.gold[:, j])
        out[:, j] = (pos / np.maximum(n, 1))[steps_of(scores[:, j], lows)]
    return out


def overdispersion(rates: Rates, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Per theme, how much more the documents' shares stray from their mean calibrated probabilities than
    independent paragraphs would: sum over documents of (mean probability - gold share)^2 over the sum of
    sum p(1 - p) / n^2, with each document's probabilities calibrated on the other folds of documents; at
    least 1. 1 where the rates name no documents (a version-1 ``quantification.json``) or too few."""
    n_themes = rates.gold.shape[1]
    if rates.doc is None or len(np.unique(rates.doc)) < 2 * folds:
        return np.ones(n_themes)
    docs, doc = np.unique(rates.doc, return_inverse=True)
    fold = np.random.default_rng(seed).permutation(len(docs)) % folds
    p = np.zeros(rates.gold.shape)
    for f in range(folds):
        held = fold[doc] == f
        p[held] = calibrated(rates.subset(~held), rates.scores[held])
    n = np.bincount(doc).astype(np.float64)[:, None]
    g = rates.gold.astype(np.float64)
    error = np.stack([np.bincount(doc, p[:, j] - g[:, j]) for j in range(n_themes)], 1) / n
    var = np.stack([np.bincount(doc, p[:, j] * (1 - p[:, j])) for j in range(n_themes)], 1) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(1.0, np.nan_to_num((error**2).sum(0) / var.sum(0), nan=1.0, posinf=1.0))


def _rate_pairs(rates: Rates, method: str, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(value on positives, value on negatives) per theme: (tpr, fpr) for ACC, mean scores for PACC. With
    ``idx`` (replicates x n_dev) per replicate: arrays of replicates x themes."""
    x = rates.decided.astype(np.float64) if method == "acc" else rates.scores.astype(np.float64)
    g = rates.gold.astype(np.float64)
    if idx is None:
        gs, xs = g, x
        pos, neg = (gs * xs).sum(0), ((1 - gs) * xs).sum(0)
        npos, nneg = gs.sum(0), (1 - gs).sum(0)
    else:
        # sums over each replicate's draw without materialising replicates x n_dev x themes
        b, m = idx.shape[0], len(g)
        counts = np.bincount((np.arange(b)[:, None] * m + idx).ravel(), minlength=b * m).reshape(b, m).astype(float)
        pos, neg = counts @ (g * x), counts @ ((1 - g) * x)
        npos, nneg = counts @ g, counts @ (1 - g)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pos / npos, neg / nneg


def adjust(observed: np.ndarray, on_pos: np.ndarray, on_neg: np.ndarray) -> np.ndarray:
    """The share that explains ``observed`` given the model's behaviour on positives and negatives, clipped
    to [0, 1]; NaN where the two cannot be told apart."""
    gap = on_pos - on_neg
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(gap >= MIN_SEPARATION, (observed - on_neg) / gap, np.nan)
    return np.clip(share, 0.0, 1.0)


@dataclass
class Shares:
    """Per group and theme (groups x themes): paragraphs, counted share, corrected share and interval."""

    paragraphs: np.ndarray  # groups
    counted: np.ndarray
    share: np.ndarray
    low: np.ndarray
    high: np.ndarray
    note: list[list[str]]


def estimate(
    groups: np.ndarray,
    n_groups: int,
    decided: np.ndarray,
    scores: np.ndarray,
    rates: Rates | None,
    method: str = DEFAULT_METHOD,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> Shares:
    """Corrected theme shares of ``n_groups`` groups of paragraphs.

    ``groups``: the group index (0..n_groups-1) of each paragraph; ``decided``/``scores``: paragraphs x
    themes, from the labeled file; ``rates``: the model's tuning paragraphs (themes in the same order).
    ``cc`` (raw counting) needs no rates; its interval is the group's sampling error alone.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (use {', '.join(METHODS)})")
    n_themes = decided.shape[1]
    n = np.bincount(groups, minlength=n_groups).astype(np.float64)
    count = np.stack([np.bincount(groups, decided[:, j], minlength=n_groups) for j in range(n_themes)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        counted = count / n[:, None]
        if method == "pacc":
            s = scores.astype(np.float64)
            total = np.stack([np.bincount(groups, s[:, j], minlength=n_groups) for j in range(n_themes)], 1)
            squares = np.stack([np.bincount(groups, s[:, j] ** 2, minlength=n_groups) for j in range(n_themes)], 1)
            observed = total / n[:, None]
            sd = np.sqrt(np.maximum(squares / n[:, None] - observed**2, 0.0))
        else:
            observed = counted
    rng = np.random.default_rng(seed)
    if method == "cc":
        share = counted.copy()
    elif method == "pcc":
        share, draw = _calibrated_shares(groups, n_groups, n, scores, rates, n_boot, rng)
    else:
        on_pos, on_neg = _rate_pairs(rates, method)
        share = adjust(observed, on_pos, on_neg)
        idx = rng.integers(0, len(rates.gold), size=(n_boot, len(rates.gold)))
        b_pos, b_neg = _rate_pairs(rates, method, idx)  # n_boot x themes
    low, high = np.full_like(share, np.nan), np.full_like(share, np.nan)
    bad = np.zeros(share.shape, dtype=bool)
    alpha = (1 - level) / 2
    for start in range(0, n_groups, BLOCK):  # bounded memory: BLOCK groups x themes x n_boot at a time
        sl = slice(start, min(start + BLOCK, n_groups))
        size = np.maximum(n[sl], 1)[:, None, None]
        if method == "pcc":
            reps = draw(sl)
        elif method == "pacc":
            se = sd[sl] / np.sqrt(size[:, :, 0])
            obs = observed[sl, :, None] + se[:, :, None] * rng.standard_normal((*share[sl].shape, n_boot))
        else:
            # the group's counted share drawn from its Jeffreys posterior: a bootstrap of 0 of n would be 0 always
            c = np.nan_to_num(counted[sl])[:, :, None] * size
            obs = rng.beta(c + 0.5, size - c + 0.5, (*share[sl].shape, n_boot))
        if method != "pcc":
            reps = obs if method == "cc" else adjust(obs, b_pos.T[None], b_neg.T[None])
        missing = np.isnan(reps)
        bad[sl] = missing.mean(axis=2) > alpha  # the rates' own uncertainty reaches "cannot tell apart"
        low[sl] = np.quantile(np.where(missing, 0.0, reps), alpha, axis=2)
        high[sl] = np.quantile(np.where(missing, 1.0, reps), 1 - alpha, axis=2)
    note = [["" for _ in range(n_themes)] for _ in range(n_groups)]
    for g in range(n_groups):
        for j in range(n_themes):
            if n[g] == 0:
                note[g][j] = "no paragraphs"
            elif np.isnan(share[g, j]):
                note[g][j] = "the model cannot tell this theme apart on its dev split"
            elif n[g] < MIN_PARAGRAPHS:
                note[g][j] = f"too few paragraphs for an interval ({int(n[g])} < {MIN_PARAGRAPHS})"
            elif bad[g, j]:
                note[g][j] = "interval spans the whole range: the dev split's rates are too uncertain"
    empty = np.array([[bool(x) and not x.startswith("interval") for x in row] for row in note], dtype=bool)
    low, high = np.where(empty, np.nan, low), np.where(empty, np.nan, high)
    share = np.where(n[:, None] == 0, np.nan, share)
    return Shares(n.astype(np.int64), counted, share, low, high, note)


def _calibrated_shares(groups, n_groups, n, scores, rates, n_boot, rng):
    """PCC: each group's mean calibrated probability (groups x themes), and a function of a slice of groups
    that draws their replicates (groups x themes x n_boot): calibration steps from their Jeffreys posteriors,
    the group's share around its mean probability with the overdispersed variance of its paragraphs."""
    phi = overdispersion(rates)
    size = np.maximum(n, 1)[:, None]
    share, members, draws = np.zeros((n_groups, len(phi))), [], []
    for j in range(len(phi)):
        lows, pos, total = calibration(rates.scores[:, j], rates.gold[:, j])
        step = steps_of(scores[:, j], lows)
        m = sparse.csr_matrix((np.ones(len(step)), (groups, step)), shape=(n_groups, len(lows)))
        share[:, j] = m @ (pos / np.maximum(total, 1)) / size[:, 0]
        members.append(m)
        draws.append(rng.beta(pos[:, None] + 0.5, (total - pos)[:, None] + 0.5, (len(lows), n_boot)))

    def draw(sl: slice) -> np.ndarray:
        out = []
        for j, (m, p) in enumerate(zip(members, draws)):
            mean = m[sl] @ p / size[sl]
            var = m[sl] @ (p * (1 - p)) / size[sl] ** 2
            out.append(mean + np.sqrt(phi[j] * var) * rng.standard_normal(mean.shape))
        return np.clip(np.stack(out, 1), 0.0, 1.0)

    return share, draw
