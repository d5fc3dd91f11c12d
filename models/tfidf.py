"""TF-IDF baselines: character n-grams (Chinese works without a segmenter; word n-grams on request), with
the keyword method's cue counts as extra features, one classifier per theme, each clause of a paragraph
scored and the best kept (``whole``: the paragraph itself too; ``lead_weight``: the first --data file's
paragraphs weigh more in training; both off by default, measured in the README). ``clause_fit`` trains
on clauses too, since clauses are what is scored (``refit_on_clauses``). Saved with skops and
loaded with an explicit allow-list of types, never pickle.

- ``tfidf-logreg``: logistic regression, class-balanced.
- ``tfidf-svm``: linear SVM, class-balanced, probabilities calibrated by cross-validated Platt scaling.
- ``tfidf-nb``: complement naive Bayes, with balanced sample weights.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC
from sklearn.utils.class_weight import compute_sample_weight

from policytheme.models.base import ModelError, ThemeModel
from policytheme.models.clauses import best_piece, explode, max_pool
from policytheme.models.evidence import phrases
from policytheme.models.keywords import KeywordModel
from policytheme.models.ngrams import CharNgramTfidf

WEIGHTS_FILE = "model.skops"
# Types a policytheme TF-IDF file may hold beyond skops' own trusted defaults (plain scikit-learn, numpy
# and scipy types). Anything else in a file is refused, so a file from elsewhere cannot bring in code.
TRUSTED_TYPES = {
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
}


class TfidfModel(ThemeModel):
    """Shared TF-IDF features, one binary classifier per theme."""

    kind = "tfidf"
    score_in_processes = True  # numpy and scipy on the CPU: one process per core scales
    defaults = {
        "classifier": "logreg",
        "C": 4.0,
        "alpha": 0.3,
        "char_ngrams": [1, 4],
        "word_ngrams": [],  # e.g. [1, 2]; none by default: measured on real paragraphs (docs/quality.md)
        "min_df": 2,
        "max_features": 200_000,
        "clauses": True,  # score each clause, keep the maximum (models/clauses.py); measured: docs/quality.md
        "whole": False,  # with clauses, score the whole paragraph too, as one more piece (docs/quality.md)
        "clause_fit": False,  # with clauses, refit each theme on clauses as well (refit_on_clauses; docs/quality.md)
        "clause_fit_min": 0.3,  # clause_fit: a positive paragraph's clauses scoring this high count as positives
        "lead_weight": 1.0,  # weight of the first --data file's paragraphs against the others' (docs/quality.md)
        "cues": 0.3,  # > 0: the keyword method's cue counts per theme as features, at this scale (0: none)
        "seed": 0,
    }
    choices = {"classifier": ("logreg", "svm", "nb")}
    bounds = {
        "C": (lambda v: v > 0, "> 0"),
        "alpha": (lambda v: v > 0, "> 0"),
        "char_ngrams": (lambda v: len(v) == 2 and 1 <= v[0] <= v[1], "[low, high] with 1 <= low <= high"),
        "word_ngrams": (
            lambda v: v == [] or (len(v) == 2 and 1 <= v[0] <= v[1]),
            "[] or [low, high], 1 <= low <= high",
        ),
        "min_df": (lambda v: v >= 1, ">= 1"),
        "max_features": (lambda v: v >= 1, ">= 1"),
        "clause_fit_min": (lambda v: 0 <= v <= 1, "from 0 to 1"),
        "lead_weight": (lambda v: v > 0, "> 0"),
        "cues": (lambda v: v >= 0, ">= 0"),
    }

    def _vectorizer(self) -> FeatureUnion:
        p = self.params
        common = {"sublinear_tf": True, "min_df": p["min_df"], "max_features": p["max_features"], "dtype": np.float32}
        parts = [("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(p["char_ngrams"]), **common))]
        if p["word_ngrams"]:  # [] leaves word n-grams out (Chinese has no spaces: its "words" are whole clauses)
            parts.insert(0, ("word", TfidfVectorizer(analyzer="word", ngram_range=tuple(p["word_ngrams"]), **common)))
        return FeatureUnion(parts)

    def _classifier(self, y: np.ndarray):
        p = self.params
        name = p["classifier"]
        if name == "logreg":
            return LogisticRegression(C=p["C"], class_weight="balanced", max_iter=2000, solver="liblinear")
        if name == "svm":
            minority = int(min(y.sum(), len(y) - y.sum()))
            if minority < 2:
                raise ModelError("tfidf-svm needs at least 2 positive and 2 negative paragraphs per theme")
            svm = LinearSVC(C=p["C"], class_weight="balanced", random_state=p["seed"])
            return CalibratedClassifierCV(svm, method="sigmoid", cv=min(3, minority))
        if name == "nb":
            return ComplementNB(alpha=p["alpha"])
        raise ModelError(f"unknown classifier {name!r}")

    def fit(
        self, texts: Sequence[str], y: np.ndarray, dev: tuple | None = None, lead: np.ndarray | None = None, **_
    ) -> TfidfModel:
        """Fit on ``texts``; ``lead`` marks the paragraphs of the first --data file, which weigh
        ``lead_weight`` times the others' (when there are others: one file's paragraphs all weigh 1).
        ``dev`` and the other training options are not needed here."""
        y = np.asarray(y)
        texts = list(texts)
        lead = np.zeros(len(texts), bool) if lead is None or np.all(lead) else np.asarray(lead, bool)
        weights = np.where(lead, self.params["lead_weight"], 1.0)
        self.fast_ = None
        if len(texts) < max(2, self.params["min_df"]):
            raise ModelError(
                f"{len(texts)} training paragraph(s): TF-IDF needs at least {max(2, self.params['min_df'])} "
                "(its n-grams must occur in min_df paragraphs)"
            )
        try:
            self.vectorizer_ = self._vectorizer()
            self.vectorizer_.fit(texts)
            x = self.features(texts)  # whole paragraphs train; clauses are scored (``clauses``)
        except ValueError as e:  # e.g. an empty vocabulary on a tiny corpus
            raise ModelError(f"cannot build TF-IDF features from {len(texts)} training paragraphs: {e}") from None
        self.estimators_: list = []
        self.constant_: list = []
        for j in range(len(self.labels)):
            yj = y[:, j]
            if yj.min() == yj.max():  # a theme absent (or everywhere) in training: predict its prior
                self.estimators_.append(None)
                self.constant_.append(float(yj[0]))
                continue
            self.estimators_.append(self._fit_one(x, yj, weights))
            self.constant_.append(-1.0)
        if self.params["clause_fit"] and self.params["clauses"]:
            self.refit_on_clauses(texts, y, x, weights)
        return self

    def _fit_one(self, x: sp.csr_matrix, yj: np.ndarray, weights: np.ndarray):
        """One theme's classifier fitted on rows ``x`` weighing ``weights`` (naive Bayes: balanced as well)."""
        clf = self._classifier(yj)
        if self.params["classifier"] == "nb":
            clf.fit(x, yj, sample_weight=weights * compute_sample_weight("balanced", yj))
        else:
            clf.fit(x, yj, sample_weight=None if (weights == 1).all() else weights)
        return clf

    def refit_on_clauses(self, texts: list[str], y: np.ndarray, x: sp.csr_matrix, weights: np.ndarray) -> None:
        """Refit each theme on the paragraphs and on clauses labeled as multiple-instance learning does.

        A paragraph's label says that some clause carries the theme, not which, while clauses are what is
        scored. Every clause of a paragraph without the theme is a negative; of a paragraph with it, the
        clause the paragraph-level fit scores highest is a positive, and so is any other clause scoring at
        least ``clause_fit_min``; its remaining clauses are left out. Clauses weigh as their paragraph.
        Measured by cross-validation on real paragraphs (docs/quality.md)."""
        pieces, owner = explode(texts)
        xc = self.features(pieces)
        for j, clf in enumerate(self.estimators_):
            if clf is None:
                continue
            yj = y[:, j]
            s = clf.predict_proba(xc)[:, 1]
            positive = yj[owner] == 1
            best = np.zeros(len(pieces), bool)
            best[best_piece(s, owner)] = True
            pos = positive & (best | (s >= self.params["clause_fit_min"]))
            rows = np.flatnonzero(~positive | pos)
            self.estimators_[j] = self._fit_one(
                sp.vstack([x, xc[rows]], format="csr"),
                np.concatenate([yj, pos[rows].astype(yj.dtype)]),
                np.concatenate([weights, weights[owner[rows]]]),
            )

    def features(self, pieces: list[str]) -> sp.csr_matrix:
        """TF-IDF of ``pieces`` as ``vectorizer_.transform`` gives it (character n-grams by the fast exact
        path), and with ``cues`` > 0 the keyword method's cue counts per theme, scaled."""
        if getattr(self, "fast_", None) is None:
            self.fast_ = [
                CharNgramTfidf(vec) if CharNgramTfidf.supports(vec) else vec
                for _, vec in self.vectorizer_.transformer_list
            ]
        blocks = [vec.transform(pieces) for vec in self.fast_]
        if self.params["cues"]:
            if getattr(self, "keywords_", None) is None:
                self.keywords_ = KeywordModel(self.labels, partial=True)  # your own themes: no cues, count 0
            counts = self.keywords_.counts(pieces)  # as many as ``matches`` finds, all pieces at once
            blocks.append(sp.csr_matrix(counts.astype(np.float32) * self.params["cues"]))
        return sp.hstack(blocks, format="csr")

    def pieces(self, texts: list[str]) -> tuple[list[str], np.ndarray | None]:
        """What is scored: the texts, or with ``clauses`` their clauses (and with ``whole`` the texts too),
        with the index of each piece's text."""
        return explode(texts, self.params["whole"]) if self.params["clauses"] else (texts, None)

    def prepare(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, np.ndarray | None, int]:
        """Features of the pieces of the texts (``pieces``), for ``score``."""
        texts = list(texts)
        pieces, owner = self.pieces(texts)
        return self.features(pieces), owner, len(texts)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.score(self.prepare(texts))

    def score(self, prepared: tuple[sp.csr_matrix, np.ndarray | None, int]) -> np.ndarray:
        x, owner, n = prepared
        out = np.empty((x.shape[0], len(self.labels)), dtype=np.float32)
        for j, clf in enumerate(self.estimators_):
            out[:, j] = self.constant_[j] if clf is None else clf.predict_proba(x)[:, 1]
        return out if owner is None else max_pool(out, owner, n)

    def explain(self, texts: Sequence[str], k: int = 3) -> list[dict[str, list[str]]]:
        """Per text and theme: in the clause that scored highest (or the whole text), the n-grams whose weight
        x TF-IDF value raised the score most, merged into phrases of the text."""
        texts = list(texts)
        x, owner, n = self.prepare(texts)
        pieces = self.pieces(texts)[0]
        owner = np.arange(n) if owner is None else owner
        raw = np.stack([np.zeros(x.shape[0]) if c is None else c.predict_proba(x)[:, 1] for c in self.estimators_], 1)
        names = self._names()
        out = [{lab: [] for lab in self.labels} for _ in texts]
        for j, (lab, clf) in enumerate(zip(self.labels, self.estimators_)):
            if clf is None:
                continue
            w = _linear_weights(clf)
            for t, row in enumerate(best_piece(raw[:, j], owner)):
                lo, hi = x.indptr[row], x.indptr[row + 1]
                cols, contrib = x.indices[lo:hi], x.data[lo:hi] * w[x.indices[lo:hi]]
                weighted = []
                for i in np.argsort(-contrib)[:20]:
                    kind, _, term = names[cols[i]].partition("__")
                    if kind == "cues":  # the cue-count feature: the cues of that theme found in the piece
                        found = self.keywords_.matches(pieces[row])[self.labels.index(term)]
                        weighted += [(cue, float(contrib[i]) / len(found)) for cue in found]
                    else:
                        weighted.append((term, float(contrib[i])))
                out[t][lab] = phrases(pieces[row], weighted, k)
        return out

    def _names(self) -> list[str]:
        """Feature names: ``char__<n-gram>``, ``word__<n-gram>``, and ``cues__<theme>`` for the cue counts."""
        if getattr(self, "names_", None) is None:
            self.names_ = [str(nm) for nm in self.vectorizer_.get_feature_names_out()]
            if self.params["cues"]:
                self.names_ += [f"cues__{lab}" for lab in self.labels]
        return self.names_

    def top_terms(self, k: int = 15) -> dict[str, list[tuple[str, float]]]:
        """Per theme, the n-grams with the largest positive weights (``word__`` or ``char__`` prefixed).

        Weights are the linear model's coefficients on TF-IDF features: logistic regression's, the SVM's
        averaged over its calibration folds, and naive Bayes' difference of log weights between the
        theme and its absence. They rank features within one model, not across models.
        """
        names = self._names()
        out = {}
        for lab, clf in zip(self.labels, self.estimators_):
            if clf is None:
                out[lab] = []
                continue
            w = _linear_weights(clf)
            top = np.argsort(-w, kind="stable")[:k]
            out[lab] = [(str(names[i]), round(float(w[i]), 4)) for i in top if w[i] > 0]
        return out

    def _save_weights(self, directory: Path) -> None:
        # skops writes a dict entry by entry into its JSON schema (~600 bytes per n-gram), so each
        # vocabulary travels as one array of terms in index order and is rebuilt on load.
        vectorizers = [vec for _, vec in self.vectorizer_.transformer_list]
        vocabularies = [vec.vocabulary_ for vec in vectorizers]
        terms = [np.array(sorted(v, key=v.get), dtype=str) for v in vocabularies]
        state = {
            "vectorizer": self.vectorizer_,
            "terms": terms,
            "estimators": self.estimators_,
            "constant": self.constant_,
        }
        sio = _skops_io()

        for vec in vectorizers:
            del vec.vocabulary_
        try:
            sio.dump(state, directory / WEIGHTS_FILE)
        finally:
            for vec, vocab in zip(vectorizers, vocabularies):
                vec.vocabulary_ = vocab

    def _load_weights(self, directory: Path) -> None:
        path = directory / WEIGHTS_FILE
        if not path.is_file():
            raise ModelError(f"{directory}: missing {WEIGHTS_FILE}")
        sio = _skops_io()

        try:
            untrusted = set(sio.get_untrusted_types(file=path))
        except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways
            raise ModelError(f"{path}: not a readable skops file ({type(e).__name__}); train the model again") from None
        refused = sorted(untrusted - TRUSTED_TYPES)
        if refused:
            raise ModelError(f"{path}: refusing to load unexpected types: {', '.join(refused)}")
        try:
            state = sio.load(path, trusted=sorted(untrusted))
        except Exception as e:  # noqa: BLE001
            raise ModelError(
                f"{path}: cannot load ({type(e).__name__}: {str(e)[:120]}); train the model again"
            ) from None
        self.vectorizer_, self.estimators_, self.constant_ = (
            state["vectorizer"],
            state["estimators"],
            state["constant"],
        )
        self.fast_ = self.names_ = self.keywords_ = None
        for (_, vec), terms in zip(self.vectorizer_.transformer_list, state["terms"]):
            vec.vocabulary_ = dict(zip(terms.tolist(), range(len(terms))))


def _skops_io():
    """``skops.io``, imported only when saving or loading, and without importing torch.

    skops lists scikit-learn's estimators by walking every scikit-learn package, and the walk imports the
    torch adapter of ``sklearn.externals.array_api_compat``, so torch itself (3-4 s, several hundred MiB)
    whenever it is installed. A TF-IDF model needs none of it: while skops is imported, torch counts as
    absent (the walk skips a package that fails to import), as on an installation without torch. A
    process that already imported torch keeps it."""
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io as sio

        return sio
    sys.modules["torch"] = None  # ``import torch`` raises ImportError meanwhile
    try:
        import skops.io as sio
    finally:
        del sys.modules["torch"]
        for name in [m for m in sys.modules if m.startswith("sklearn.externals.array_api_compat.torch")]:
            del sys.modules[name]  # a half-imported adapter must not stand in for the real one later
    return sio


def _linear_weights(clf) -> np.ndarray:
    """One weight per feature toward the theme, for the three baseline classifiers."""
    if isinstance(clf, CalibratedClassifierCV):
        return np.mean([c.estimator.coef_[0] for c in clf.calibrated_classifiers_], axis=0)
    if isinstance(clf, ComplementNB):
        return clf.feature_log_prob_[1] - clf.feature_log_prob_[0]
    return np.asarray(clf.coef_[0])


def baseline(classifier: str, **defaults):
    """A factory for one named baseline: ``labels, **params -> TfidfModel``."""

    def make(labels: Sequence[str], **params) -> TfidfModel:
        if params.get("classifier", classifier) != classifier:
            raise ModelError(f"classifier={params['classifier']!r}: the model name fixes it ({classifier})")
        return TfidfModel(labels, **{**defaults, **params, "classifier": classifier})

    return make
