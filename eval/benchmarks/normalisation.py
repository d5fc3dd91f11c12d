"""Does normalising text before scoring change any label on the shipped test splits? (issue 22)

    python -m policytheme.eval.benchmarks.normalisation

Trains the default model's recipe (TF-IDF + logistic regression on the shipped data, thresholds tuned on the
leading file's dev split) and labels each shipped test split as it is, without zero-width characters, and
after NFKC as well; prints texts changed, paragraphs whose labels changed and labels changed. Figures in
eval/benchmarks/README.md.
"""

from __future__ import annotations

import re
import time
import unicodedata

from policytheme.data.records import DEFAULT_DATA, label_ids, to_matrix
from policytheme.data.splits import combine, lead_mask, read_sources
from policytheme.models import make_model
from policytheme.models.thresholds import tune_thresholds

ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
WAYS = {
    "zero-width": lambda t: ZERO_WIDTH.sub("", t),
    "NFKC+zero-width": lambda t: ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", t)),
}


def main() -> int:
    started = time.perf_counter()
    labels = label_ids()
    sources = read_sources(list(DEFAULT_DATA), labels)
    parts = combine(sources)
    rows, dev = parts["train"], parts["dev"]
    model = make_model("tfidf-logreg", labels, seed=0)
    model.fit([ex.text for ex in rows], to_matrix(rows, labels), lead=lead_mask(rows, sources))
    model.thresholds_ = tune_thresholds(to_matrix(dev, labels), model.predict_proba([ex.text for ex in dev]))
    print(f"trained in {time.perf_counter() - started:.0f}s")
    for src in sources:
        texts = [ex.text for ex in src.parts["test"]]
        if not texts:
            continue
        base = model.predict(texts)
        for name, f in WAYS.items():
            changed = [f(t) for t in texts]
            diff = model.predict(changed) != base
            print(
                f"{src.path}: {len(texts)} test paragraphs; {name}: {sum(a != b for a, b in zip(texts, changed))} "
                f"texts changed, {int(diff.any(axis=1).sum())} paragraphs relabeled, {int(diff.sum())} labels changed"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
