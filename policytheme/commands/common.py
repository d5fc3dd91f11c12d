"""What the subcommands share: their common flags, argument types, checks and the tracking step."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from policytheme.data.records import DEFAULT_DATA, DataError
from policytheme.models import MODELS

# flags that are model parameters: flag name -> parameter name
MODEL_FLAGS = {
    "backbone": "backbone",
    "epochs": "epochs",
    "max_steps": "max_steps",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "max_length": "max_length",
    "grad_accum": "grad_accum",
}


def check_model_params(config) -> None:
    """The model's parameters checked before any folder is made (a bad one leaves nothing behind)."""
    from policytheme.data.records import label_ids
    from policytheme.models import make_model

    if "seed" in config.params:
        raise DataError(["--param seed: use --seed (it seeds the split and the model)"])
    make_model(config.model, label_ids(config.codebook), seed=config.seed, **config.params)


def check_numbers(args: argparse.Namespace) -> None:
    """Seeds, fractions and resample counts in range (DataError, one line each); NaN is never in range."""
    problems = []
    for seed in [getattr(args, "seed", None), *(getattr(args, "seeds", None) or [])]:
        if isinstance(seed, int) and not 0 <= seed < 2**32:
            problems.append(f"--seed {seed}: must be an integer from 0 to {2**32 - 1}")
    fractions = [(f, getattr(args, f, None)) for f in ("dev_fraction", "test_fraction")]
    for name, v in fractions:
        if v is not None and not 0 <= v < 1:
            problems.append(f"--{name.replace('_', '-')} {v}: must be at least 0 and below 1")
    if all(v is not None and 0 <= v < 1 for _, v in fractions) and sum(v for _, v in fractions) >= 1:
        problems.append("--dev-fraction and --test-fraction: together they must be below 1 (the rest trains)")
    folds = getattr(args, "tune_folds", None)
    if folds is not None and (folds < 0 or folds == 1):
        problems.append(f"--tune-folds {folds}: must be 0 (tune on the dev split) or at least 2")
    n_boot = getattr(args, "n_boot", None)
    if n_boot is not None and n_boot < 1:
        problems.append(f"--n-boot {n_boot}: must be at least 1")
    if problems:
        raise DataError(problems)


def inputs_of(args: argparse.Namespace) -> list[str]:
    """Every path a command reads (``--overwrite`` never removes a folder that holds one)."""
    paths = []
    for name in ("data", "corpus", "keep_vocab_of", "source", "from_", "codebook", "backbone"):
        value = getattr(args, name, None)
        paths += [value] if isinstance(value, str) else list(value or [])
    return [p for p in paths if isinstance(p, str) and os.path.exists(p)]


def barrier() -> None:
    """Wait for the other processes of a distributed run (no-op otherwise)."""
    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()


def with_ci(m: dict) -> str:
    ci = m["ci"]["macro_f1"]
    return f"{m['macro_f1']:.3f} [95% CI {ci['low']:.3f}-{ci['high']:.3f}]"


def comma_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codebook", metavar="FILE", help="your own themes (the schema of data/labels.json)")
    p.add_argument(
        "--data",
        nargs="+",
        default=list(DEFAULT_DATA),
        metavar="FILE",
        help="labeled .jsonl/.csv/.parquet files; the first one's dev split tunes, its test split scores "
        f"(default: {' '.join(Path(p).name for p in DEFAULT_DATA)})",
    )
    p.add_argument(
        "--tune-with",
        nargs="*",
        metavar="FILE",
        help="--data files after the first whose dev splits tune the thresholds with the first one's instead of "
        "training: a script (Latin, Han) with enough positives in the tuning data gets its own thresholds",
    )


def tracking_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("experiment tracking (optional: pip install 'policytheme[tracking]')")
    g.add_argument("--tracking", choices=["none", "mlflow"], default="none", help="log the folder to MLflow")
    g.add_argument("--tracking-store", help="folder or tracking URI (default: $MLFLOW_TRACKING_URI, else runs/mlflow)")
    g.add_argument("--experiment", default="policytheme", help="MLflow experiment name")


def resampling_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--out", required=True, help="folder to create, e.g. runs/curve-logreg")
    data_flags(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the train/dev/test split (and of the folds)")
    p.add_argument("--dev-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--param", type=param, action="append", metavar="KEY=VALUE", help="model parameter (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    tracking_flags(p)


def train_config(args: argparse.Namespace, **more):
    """The run configuration the shared flags (``data_flags``, model, split, ``--param``) give, with ``more``."""
    from policytheme.train.run import TrainConfig

    settings = {
        "model": args.model,
        "out": args.out,
        "data": args.data,
        "tune_with": args.tune_with,
        "seed": args.seed,
        "dev_fraction": args.dev_fraction,
        "test_fraction": args.test_fraction,
        "params": dict(args.param or []),
        "codebook": args.codebook,
    }
    return TrainConfig(**{**settings, **more})


def track(args: argparse.Namespace, folder: str) -> None:
    """Log a finished folder to the tracking store when asked (``--tracking mlflow``)."""
    if getattr(args, "tracking", "none") != "mlflow":
        return
    from policytheme.eval.tracking import log_run, store_uri

    run_id = log_run(folder, store=args.tracking_store, experiment=args.experiment)
    print(f"logged to MLflow: {store_uri(args.tracking_store)[0]}, experiment {args.experiment}, run {run_id}")
