"""The evaluation subcommands: evaluate, compare, learning-curve, cross-validate."""

from __future__ import annotations

import argparse

from policytheme.commands.common import (
    floats,
    inputs_of,
    ints,
    resampling_flags,
    track,
    tracking_flags,
    train_config,
    with_ci,
)
from policytheme.data.records import DataError
from policytheme.files import write_json


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a run on labeled data")
    p.add_argument("run", help="run folder")
    p.add_argument("--data", help="labeled file (default: the run's own test split)")
    p.add_argument("--split", choices=["train", "dev", "test"], help="score only this split of --data")
    p.add_argument("--out", help="metrics file (default: RUN/metrics.json or RUN/metrics-<data>.json)")
    p.add_argument("--predictions", help="also write per-paragraph predictions (.jsonl)")
    p.add_argument(
        "--unseen",
        action="store_true",
        help="leave out paragraphs of --data that the run was trained or tuned on (same text)",
    )
    p.add_argument("--n-boot", type=int, default=1000)
    tracking_flags(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from policytheme.eval.evaluate import evaluate_run

    if args.split and not args.data:
        raise DataError(["--split needs --data FILE (without --data, a run is scored on its own test split)"])
    m = evaluate_run(
        args.run,
        data=args.data,
        out=args.out,
        predictions=args.predictions,
        n_boot=args.n_boot,
        split=args.split,
        unseen=args.unseen,
    )
    per_lang = ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in m["per_language"].items())
    seen = m["data"].get("seen_in_training")
    note = ""
    if seen and m["data"].get("unseen"):
        note = f" ({seen} left out: the run was trained or tuned on them)"
    elif seen:
        note = f"; {seen} of them are in the run's training data (--unseen leaves them out)"
    print(
        f"{args.run}: {m['data']['paragraphs']} paragraphs{note}; macro-F1 {with_ci(m)}, "
        f"micro-F1 {m['micro_f1']:.3f}; per language: {per_lang}"
    )
    track(args, args.run)
    return 0


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="leaderboards with significance tests, from the runs' files")
    p.add_argument("runs", nargs="+", help="run, learning-curve or cross-validation folders, or their JSON files")
    p.add_argument("--out", help="also write the tables to this Markdown file, or the full report to FILE.html")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the paired test")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (Holm-adjusted)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from policytheme.eval.compare import compare

    print(compare(args.runs, out=args.out, n_boot=args.n_boot, seed=args.seed, alpha=args.alpha), end="")
    if args.out and args.out.lower().endswith((".html", ".htm")):
        print(f"report: {args.out}")
    return 0


def add_learning_curve(sub) -> None:
    p = sub.add_parser("learning-curve", help="train on growing fractions of the training split, several seeds")
    resampling_flags(p)
    p.add_argument("--fractions", type=floats, default=[0.1, 0.25, 0.5, 1.0], help="e.g. 0.1,0.25,0.5,1")
    p.add_argument("--seeds", type=ints, default=[0, 1, 2], help="subsample and model seeds, e.g. 0,1,2")
    p.set_defaults(func=cmd_learning_curve)


def cmd_learning_curve(args: argparse.Namespace) -> int:
    from policytheme.train.curves import learning_curve

    def run(config, score):
        return learning_curve(config, score, fractions=args.fractions, seeds=args.seeds)

    result = _resample(args, run, "curve.json", {"fractions": args.fractions, "seeds": args.seeds})
    for s in result["summary"]:
        mf = s["macro_f1"]
        figure = "failed" if not mf else f"{mf['mean']:.3f} ± {mf['sd']:.3f} (min {mf['min']:.3f}, max {mf['max']:.3f})"
        paragraphs = s["train_paragraphs"]["mean"] if s["train_paragraphs"] else 0
        print(f"{s['fraction']:>5g} of training ({paragraphs:,.0f} paragraphs): test macro-F1 {figure}")
    print(f"learning curve of {args.model} over seeds {','.join(map(str, args.seeds))}: {args.out}/curve.json")
    return 0


def add_cross_validate(sub) -> None:
    p = sub.add_parser("cross-validate", help="k-fold cross-validation grouped by document (for the baselines)")
    resampling_flags(p)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--include-test", action="store_true", help="also use the test split (default: train+dev)")
    p.set_defaults(func=cmd_cross_validate)


def cmd_cross_validate(args: argparse.Namespace) -> int:
    from policytheme.train.curves import cross_validate

    def run(config, score):
        return cross_validate(config, score, folds=args.folds, include_test=args.include_test)

    result = _resample(args, run, "cv.json", {"folds": args.folds, "include_test": args.include_test})
    mf = result["summary"]["macro_f1"]
    folds = ", ".join(f"{f['macro_f1']:.3f}" for f in result["fold_results"])
    print(
        f"{args.folds}-fold cross-validation of {args.model} on {result['paragraphs']} paragraphs: "
        f"macro-F1 {mf['mean']:.3f} ± {mf['sd']:.3f} (folds: {folds}); {args.out}/cv.json"
    )
    return 0


def _resample(args: argparse.Namespace, run, name: str, settings: dict) -> dict:
    """What learning-curve and cross-validate share: a staged folder with the result (``name``) and the
    configuration that made it, then tracking when asked."""
    from policytheme.eval.metrics import point_scores
    from policytheme.files import staged

    config = train_config(args)
    with staged(args.out, overwrite=args.overwrite, inputs=inputs_of(args)) as staging:
        result = run(config, point_scores)
        write_json(staging / name, result)
        write_json(staging / "config.json", {**vars(config), **settings})
    track(args, args.out)
    return result
