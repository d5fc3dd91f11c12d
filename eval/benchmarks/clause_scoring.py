"""Does scoring each clause and keeping the maximum beat scoring the whole paragraph, for a trained model?

    python -m policytheme.eval.benchmarks.clause_scoring RUN [RUN...] [--out FILE.json]

Each ``RUN`` is a run folder with its model (any kind whose parameters include ``clauses``: the TF-IDF
baselines and the transformer). The model is trained once, on whole paragraphs; only its scoring changes.
For each way of scoring, the thresholds are tuned on the dev split of ``data/real.jsonl`` (as ``train``
tunes them), then the test split of ``data/real.jsonl`` is scored, and ``../shared/real-dev.jsonl`` where it
is present (evaluation only: reported, never used to choose). Δ is clauses minus whole paragraphs, with a
paired bootstrap interval over paragraphs. The way to keep is the one with the higher dev F1 on the themes
with enough dev positives to judge by (see ``dev_gain``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from policytheme.data.records import read_examples, to_matrix
from policytheme.eval.metrics import f1_per_label, macro_f1
from policytheme.eval.significance import paired_bootstrap
from policytheme.models import load_model
from policytheme.models.thresholds import tune_thresholds

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "data" / "real.jsonl"
REAL_DEV = ROOT.parent / "shared" / "real-dev.jsonl"
MIN_POSITIVES = 30  # dev positives a theme needs to count in the choice (see dev_gain)


def evaluation_sets(labels: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Texts and 0/1 labels of the real dev split (thresholds), the real test split and real-dev.jsonl."""
    real = read_examples(REAL, labels)
    sets = {s: [ex for ex in real if ex.extra.get("split") == s] for s in ("dev", "test")}
    if REAL_DEV.is_file():
        sets["real-dev.jsonl"] = read_examples(REAL_DEV, labels)
    return {name: ([ex.text for ex in exs], to_matrix(exs, labels)) for name, exs in sets.items()}


def measure(run_dir: Path, n_boot: int = 1000) -> dict:
    started = time.perf_counter()
    model = load_model(run_dir / "model" if (run_dir / "model").is_dir() else run_dir)
    if "clauses" not in model.params:
        raise SystemExit(f"{run_dir}: a {model.kind} model has no clause scoring")
    labels = list(model.labels)
    sets = evaluation_sets(labels)
    ways: dict = {}
    for clauses in (False, True):
        model.params["clauses"] = clauses
        scores = {name: model.predict_proba(texts) for name, (texts, _) in sets.items()}
        thresholds = tune_thresholds(sets["dev"][1], scores["dev"])
        decided = {name: (s >= thresholds).astype(np.int8) for name, s in scores.items()}
        ways["clauses" if clauses else "whole"] = {
            "thresholds": dict(zip(labels, thresholds.round(4).tolist())),
            "decided": decided,
            "macro_f1": {name: macro_f1(sets[name][1], d) for name, d in decided.items()},
            "f1": {name: dict(zip(labels, f1_per_label(sets[name][1], d).tolist())) for name, d in decided.items()},
        }
    result = {"run": str(run_dir), "model": model.kind, "n": {name: len(t) for name, (t, _) in sets.items()}}
    result["delta"] = {
        name: paired_bootstrap(y, ways["clauses"]["decided"][name], ways["whole"]["decided"][name], n_boot=n_boot)
        for name, (_, y) in sets.items()
        if name != "dev"
    }
    positives = dict(zip(labels, sets["dev"][1].sum(axis=0).astype(int).tolist()))
    result["dev_positives"] = positives
    result["judged_on"], result["dev_gain"] = dev_gain(ways, positives)
    for way in ways.values():
        del way["decided"]
    result["ways"] = ways
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def report(r: dict) -> str:
    lines = [f"{r['run']} ({r['model']}; {r['seconds']} s)"]
    for way, w in r["ways"].items():
        parts = []
        for name, f in w["macro_f1"].items():
            themes = " / ".join(f"{v:.3f}" for v in w["f1"][name].values())
            parts.append(f"{name} {f:.3f} ({themes})")
        lines.append(f"  {way:8s} " + "; ".join(parts))
    for name, d in r["delta"].items():
        lines.append(
            f"  clauses − whole on {name} ({r['n'][name]}): {d['delta']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] "
            f"p={d['p']:.3f}"
        )
    themes = r["judged_on"]
    lines.append(
        f"  keep: {'clauses' if r['dev_gain'] > 0 else 'whole paragraphs'} (dev F1 of {', '.join(themes)}, "
        f"clauses − whole: {r['dev_gain']:+.3f})"
    )
    return "\n".join(lines)


def dev_gain(ways: dict, positives: dict[str, int]) -> tuple[list[str], float]:
    """Themes with at least ``MIN_POSITIVES`` dev positives, and their mean dev F1 gain of clauses over whole.

    Thresholds are tuned on the dev split itself, so a theme with a handful of positives there (price
    competition: 3) is fitted exactly either way, and its dev F1 says nothing about which way to keep."""
    themes = [lab for lab, n in positives.items() if n >= MIN_POSITIVES] or list(positives)
    gain = np.mean([ways["clauses"]["f1"]["dev"][lab] - ways["whole"]["f1"]["dev"][lab] for lab in themes])
    return themes, float(gain)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="run folders with their models")
    ap.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()
    from policytheme.models.transformer import quiet_libraries

    quiet_libraries()
    results = []
    for run_dir in args.runs:
        results.append(measure(run_dir))
        print(report(results[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
