"""Does the annotate loop's choice of paragraphs pay? Active learning against random choice, simulated.

    python -m policytheme.eval.benchmarks.active_learning [--budgets 50,100,200,400] [--seeds 0,1,2] [--batch 25]

A simulated annotator answers with the gold labels of the real corpus's training split. Both strategies
start from a model trained on the written corpus alone (what a user with a new kind of document has),
then add real labels in batches, retraining after each: ``active`` picks each batch as ``annotate`` does
(models/active.py: uncertainty across themes, with diversity) from the current model's scores; ``random``
picks uniformly. Thresholds are tuned on the real dev split for both, and each point is scored on the real
test split. Prints macro-F1 (and per theme) per number of labels, mean ± sd over seeds, and the number of
active labels that reaches random's score at the largest budget.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from policytheme.data.records import CORPUS_PATH, REAL_PATH, label_ids, to_matrix
from policytheme.data.splits import read_sources
from policytheme.eval.metrics import f1_per_label
from policytheme.models import make_model
from policytheme.models.active import pick, vectors

MODEL = "tfidf-logreg"


def fit_score(labels, base, chosen, pool, dev, test, seed):
    rows = base + [pool[i] for i in chosen]
    model = make_model(MODEL, labels, seed=seed).fit([r.text for r in rows], to_matrix(rows, labels))
    model.tune([r.text for r in dev], to_matrix(dev, labels))
    f1 = f1_per_label(to_matrix(test, labels), model.predict([r.text for r in test]))
    return model, f1


def run(budgets: list[int], seeds: list[int], batch: int) -> dict:
    labels = label_ids()
    real, written = read_sources([str(REAL_PATH), str(CORPUS_PATH)], labels)
    pool, dev, test = real.parts["train"], real.parts["dev"], real.parts["test"]
    base = written.parts["train"] + written.parts["dev"]
    pool_texts = [r.text for r in pool]
    vecs = vectors(pool_texts)
    results = {"active": {b: [] for b in budgets}, "random": {b: [] for b in budgets}}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(pool))
        for b in budgets:  # random: nested subsets of one shuffled order
            results["random"][b].append(fit_score(labels, base, list(order[:b]), pool, dev, test, seed)[1])
        chosen: list[int] = list(order[: min(batch, budgets[0])])  # a random first batch, as a user starts
        model, _ = fit_score(labels, base, chosen, pool, dev, test, seed)
        while len(chosen) < max(budgets):
            scores = model.predict_proba(pool_texts)
            left = np.setdiff1d(np.arange(len(pool)), chosen)
            chosen += pick(scores, model.thresholds_, vecs, left, chosen, k=min(batch, max(budgets) - len(chosen)))
            model, f1 = fit_score(labels, base, chosen, pool, dev, test, seed)
            if len(chosen) in results["active"]:
                results["active"][len(chosen)].append(f1)
            print(f"seed {seed}: active {len(chosen)} labels, macro-F1 {np.nanmean(f1):.3f}", flush=True)
    return {"labels": labels, "results": results, "pool": len(pool), "test": len(test)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", default="50,100,200,400")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--batch", type=int, default=25)
    args = ap.parse_args(argv)
    budgets = sorted(int(x) for x in args.budgets.split(","))
    seeds = [int(x) for x in args.seeds.split(",")]
    started = time.perf_counter()
    out = run(budgets, seeds, args.batch)
    labels, res = out["labels"], out["results"]
    print(
        f"\nreal test split ({out['test']} paragraphs); pool: real train split ({out['pool']}); "
        f"start: {MODEL} on the written corpus; {len(seeds)} seeds; {time.perf_counter() - started:,.0f}s\n"
    )
    print("| labels | strategy | macro-F1 mean ± sd | " + " | ".join(labels) + " |")
    print("|---|---|---|" + "---|" * len(labels))
    means = {}
    for b in budgets:
        for strategy in ("random", "active"):
            f1 = np.array(res[strategy][b])
            macro = np.nanmean(f1, axis=1)
            means[(strategy, b)] = macro.mean()
            themes = " | ".join(f"{np.nanmean(f1[:, j]):.3f}" for j in range(len(labels)))
            sd = macro.std(ddof=1) if len(macro) > 1 else 0.0
            print(f"| {b} | {strategy} | {macro.mean():.3f} ± {sd:.3f} | {themes} |")
    target = means[("random", budgets[-1])]
    reach = next((b for b in budgets if means[("active", b)] >= target), None)
    print(
        f"\nrandom choice with {budgets[-1]} labels: {target:.3f}; active learning reaches it with "
        + (f"{reach} labels" if reach else f"none of {budgets} labels")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
