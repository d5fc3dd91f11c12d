"""Translations of labeled real paragraphs (``data/translations.jsonl``): training text in the other language.

The real corpora are mostly Chinese work reports, and researchers bring English too. So the train and dev
paragraphs of ``data/real.jsonl`` and ``data/genres.jsonl`` were translated, Chinese into English and English
into Chinese: per document every paragraph with a theme (in the final labels of the work reports; in either
annotator's pass for the other genres), and as many paragraphs without one, drawn at random (seed 0) from the
same document. Helpers who saw only the texts translated them, whole and faithfully, without the labels.

A translation is a row of its own: id ``<source id>@<lang>``, its source's labels, document and split, and
``translation_of`` naming the source row. It stays in its source's split, so no translation is ever in a
test split, and none shares a split with a document other than its source's.

    python -m policytheme.data.translations build DIR/*.jsonl   # translations.jsonl from the translators' answer files
    python -m policytheme.data.translations check               # rows still match their sources (labels, split)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from policytheme.data.real import COLLECTIONS, pool_paragraphs
from policytheme.data.records import (
    GENRES_PATH,
    REAL_PATH,
    TRANSLATIONS_PATH,
    DataError,
    Example,
    read_examples,
    write_examples,
)

SOURCES = (REAL_PATH, GENRES_PATH)
CARRIED = ("split", "source_file", "paragraph", "source", "year", "genre")


def _sources() -> dict[str, Example]:
    return {ex.id: ex for path in SOURCES for ex in read_examples(path)}


def translation_row(source: Example, text: str) -> Example:
    """A translation of ``source`` into the other language, with the source's labels, document and split."""
    lang = "en" if source.lang == "zh" else "zh"
    extra = {k: source.extra[k] for k in CARRIED if k in source.extra}
    return Example(
        f"{source.id}@{lang}", text, list(source.labels), lang, source.doc_id, {**extra, "translation_of": source.id}
    )


def build(answer_files: list[Path]) -> tuple[list[Example], int]:
    """The rows of ``translations.jsonl`` from answer files (``{"id": source id, "text": translation}``), and
    how many answers were left out because their source is a pool paragraph that is not shipped (a text
    repeated in another document, or shared with a reserved one: ``data.real.corpus_rows``)."""
    sources, rows, problems, unshipped = _sources(), [], [], 0
    pool = {pid for name in COLLECTIONS for pid in pool_paragraphs(collection=name)}
    for path in answer_files:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            src = sources.get(rec.get("id"))
            if src is None and rec.get("id") in pool:
                unshipped += 1
            elif src is None:
                problems.append(f"{path}:{lineno}: {rec.get('id')!r} is not a real pool paragraph")
            elif src.extra.get("split") == "test":
                problems.append(f"{path}:{lineno}: {src.id} is in a test split; test paragraphs are not translated")
            elif not str(rec.get("text", "")).strip():
                problems.append(f"{path}:{lineno}: empty translation")
            else:
                rows.append(translation_row(src, " ".join(str(rec["text"]).split())))
    if problems:
        raise DataError(problems)
    order = {sid: i for i, sid in enumerate(sources)}
    return sorted(rows, key=lambda ex: order[ex.extra["translation_of"]]), unshipped


def check(path: Path = TRANSLATIONS_PATH) -> list[str]:
    """Problems: a translation whose source is gone, in test, or has other labels, language, document or split."""
    sources, problems = _sources(), []
    for ex in read_examples(path):
        src = sources.get(ex.extra.get("translation_of"))
        if src is None:
            problems.append(f"{path}: {ex.id}: its source {ex.extra.get('translation_of')!r} is not shipped")
            continue
        want = translation_row(src, ex.text)
        if ex.to_dict() != want.to_dict():
            problems.append(f"{path}: {ex.id}: differs from its source's labels, document or split; rebuild it")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="write translations.jsonl from the translators' answer files")
    p.add_argument("answers", nargs="+", type=Path)
    sub.add_parser("check", help="check translations.jsonl against its sources")
    args = ap.parse_args(argv)
    try:
        if args.command == "build":
            rows, unshipped = build(args.answers)
            write_examples(rows, TRANSLATIONS_PATH)
            print(f"wrote {TRANSLATIONS_PATH} ({len(rows)} translations; {unshipped} of unshipped paragraphs left out)")
            return 0
        problems = check()
    except DataError as e:
        print(e, file=sys.stderr)
        return 2
    for p in problems[:20]:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
