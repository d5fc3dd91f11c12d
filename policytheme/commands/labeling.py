"""The labeling subcommands: label, summarize, annotate, models."""

from __future__ import annotations

import argparse
from pathlib import Path

from policytheme.commands.common import comma_list


def add_label(sub) -> None:
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


def add_summarize(sub) -> None:
    p = sub.add_parser("summarize", help="theme shares per document, year or group, corrected for the model's errors")
    p.add_argument("labeled", nargs="+", help="output(s) of `policytheme label` (.jsonl, .csv, .parquet)")
    p.add_argument("--out", required=True, help="one row per group and theme: .csv, .jsonl, .parquet or .html")
    p.add_argument("--by", help="group columns, comma-separated: doc_id, year, any column of the file or of --meta")
    p.add_argument("--meta", metavar="FILE.csv", help="document metadata joined on doc_id (e.g. year,province)")
    p.add_argument("--plot", metavar="FILE.png|svg", help="also write each chart as FILE-<chart>.png or .svg")
    p.add_argument("--model", help="the model that labeled the files (default: the one their manifest names)")
    p.add_argument(
        "--method",
        choices=["pcc", "acc", "pacc", "cc"],  # eval/quantify.py METHODS, not imported here: a fast start
        default="pcc",
        help="pcc: calibrated scores (default), acc: adjusted counts, pacc: adjusted mean scores, cc: counted only",
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates for the intervals")
    p.set_defaults(func=cmd_summarize)


def cmd_summarize(args: argparse.Namespace) -> int:
    from policytheme.eval.summarize import summarize
    from policytheme.installed import resolve

    result = summarize(
        args.labeled,
        args.out,
        by=comma_list(args.by or ""),
        meta=args.meta,
        plot=args.plot,
        model=resolve(args.model, progress=False) if args.model else None,
        method=args.method,
        n_boot=args.n_boot,
    )
    print(result)
    return 0


def add_annotate(sub) -> None:
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


def cmd_annotate(args: argparse.Namespace) -> int:
    import time

    from policytheme.annotating import open_session
    from policytheme.label.annotate import serve

    session = open_session(args.inputs, Path(args.out), args.model, args.codebook, args.retrain_every)
    server = serve(session, port=args.port, open_browser=not args.no_browser)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    done = len(session.answers)
    print(
        f"annotating {len(session.paragraphs):,} paragraphs ({done} answered so far) at {url}\n"
        f"answers go to {args.out} as you give them; Ctrl-C to stop (the same command resumes)",
        flush=True,
    )
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        server.shutdown()
    s = session.state()
    counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
    print(
        f"{s['answered']} answers in {args.out} (this session {s['answered'] - done}); themes: {counts}; "
        f"none {s['none']}"
    )
    return 0


def add_models(sub) -> None:
    p = sub.add_parser("models", help="list the installed models; build the default; install a run under a name")
    p.add_argument("--build-default", action="store_true", help="build the default model now (else on first use)")
    p.add_argument("--install", metavar="RUN", help="install this run folder (use it as --model NAME)")
    p.add_argument("--name", help="the name to install it under (default: the run folder's name)")
    p.add_argument("--overwrite", action="store_true", help="replace an installed model of that name / rebuild")
    p.set_defaults(func=cmd_models)


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
