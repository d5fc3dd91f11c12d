"""The real corpora: paragraphs of the ``pool`` documents of ``../shared/corpus``, labeled.

``../shared/corpus/SPLIT.tsv`` gives every real document a role. ``pool`` documents (Chinese state
documents, outside copyright under PRC Copyright Law art. 5; US federal works, 17 U.S.C. 105) may be
annotated, trained on and shipped; ``reserved`` ones are for evaluation only and never enter the project.
Every paragraph of every pool document was labeled, so "none" keeps its real weight. Two collections:

- ``real``: ``data/real.jsonl``, the Chinese government work reports (record ``real-annotation.jsonl``);
- ``genres``: ``data/genres.jsonl``, the other genres added on 2026-12-06 (laws, regulations, a plan and an
  opinion in Chinese; US statute, fact sheets, a proclamation, a report, speeches and an analysis in
  English; record ``genres-annotation.jsonl``). Each row has its ``lang``, its ``source`` (the document
  kind, from the file name) and its ``genre`` (the group of kinds: ``GENRE_GROUPS``).

    python -m policytheme.data.real batches --collection genres --out DIR [--batches 4]   # annotation batches
    python -m policytheme.data.real build --collection genres --first A/ --second B/ --adjudicated ADJ.jsonl
    python -m policytheme.data.real check                        # both files match their records and the documents

Paragraphs are found exactly as ``policytheme label`` finds them (``data.documents``), so a row's
``source_file`` and ``paragraph`` point at the same paragraph in a label run's output. A paragraph's id is
``<short document name>-<index>`` (``prov2025_anhui-012``, ``nat1999-040``). A text repeated in several
documents (a salutation, a stock heading) is shipped once. Splits are whole documents. Work reports: five folds
stratified over label combinations (``data.splits.grouped_folds``), one for test, one for dev. Other genres:
``genre_splits``, so that each language and each genre group has train, dev and test documents.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from policytheme.data.documents import read_documents
from policytheme.data.records import (
    CORPUS_PATH,
    GENRES_PATH,
    REAL_PATH,
    DataError,
    Example,
    label_ids,
    read_examples,
    write_examples,
)
from policytheme.data.splits import grouped_folds

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ANNOTATION = Path(__file__).with_name("real-annotation.jsonl")
GENRES_ANNOTATION = Path(__file__).with_name("genres-annotation.jsonl")
FOLDS, SPLIT_SEED = 5, 0  # fold 0 is test, fold 1 dev, the rest train
WORK_REPORTS = ("zh_gov_work_report_", "zh_provincial_gov_work_report_")
# Document kinds (the file name after its language: ``en_speech_...``) and the genre group of each.
GENRE_GROUPS = {
    "gov_work_report": "work_report",
    "provincial_gov_work_report": "work_report",
    "law": "law_regulation",
    "local_regulation": "law_regulation",
    "regulation": "law_regulation",
    "statute": "law_regulation",
    "factsheet": "policy_document",
    "proclamation": "policy_document",
    "report": "policy_document",
    "executive_order": "policy_document",
    "memorandum": "policy_document",
    "plan": "policy_document",
    "state_council_opinion": "policy_document",
    "state_council_notice": "policy_document",
    "ministry_notice": "policy_document",
    "speech": "speech_analysis",
    "analysis": "speech_analysis",
}
MIN_TEST_POSITIVES = 5  # genre_splits: each language's test documents hold at least this many of each theme


@dataclass(frozen=True)
class Collection:
    """One labeled real corpus: which pool documents, where its rows and its annotation record are."""

    name: str
    path: Path
    annotation: Path
    work_reports: bool  # the work reports, or every other genre

    def holds(self, file_name: str) -> bool:
        return file_name.startswith(WORK_REPORTS) == self.work_reports


COLLECTIONS = {
    "real": Collection("real", REAL_PATH, ANNOTATION, True),
    "genres": Collection("genres", GENRES_PATH, GENRES_ANNOTATION, False),
}


def kind_of(file_name: str) -> str:
    """The document kind from a file name: ``en_factsheet_chips_..._2022.txt`` -> ``factsheet``."""
    rest = Path(file_name).stem[3:]
    kinds = [k for k in GENRE_GROUPS if rest.startswith(k + "_")]
    if not kinds:
        raise DataError([f"{file_name}: unknown document kind (add it to data.real.GENRE_GROUPS)"])
    return max(kinds, key=len)


def roles(corpus: Path = SHARED_CORPUS) -> dict[str, str]:
    """``{file name: role}`` from ``SPLIT.tsv`` (``pool`` or ``reserved``)."""
    path = corpus / "SPLIT.tsv"
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    return {name: role.strip() for name, role in rows}


def reserved_texts(corpus: Path = SHARED_CORPUS) -> set[str]:
    """The paragraphs of every ``reserved`` document, whitespace collapsed: texts the project never ships."""
    return {
        " ".join(text.split())
        for name, role in roles(corpus).items()
        if role == "reserved"
        for doc in read_documents(corpus / name)
        for text in doc.paragraphs
    }


def short_name(file_name: str) -> str:
    """``zh_provincial_gov_work_report_2025_anhui.txt`` -> ``prov2025_anhui``; national -> ``nat1999``."""
    stem = Path(file_name).stem
    return stem.replace("zh_provincial_gov_work_report_", "prov").replace("zh_gov_work_report_", "nat")


def pool_paragraphs(corpus: Path = SHARED_CORPUS, collection: str = "real") -> dict[str, dict]:
    """Every paragraph of every pool document of a collection:
    ``{id: {text, source_file, paragraph, doc_id, year, source, lang[, genre]}}``."""
    out = {}
    coll = COLLECTIONS[collection]
    for name, role in sorted(roles(corpus).items()):
        if role != "pool" or not coll.holds(name):
            continue
        (doc,) = read_documents(corpus / name)
        short = short_name(name)
        year = int(next(part for part in Path(name).stem.split("_") if part.isdigit()))
        if coll.work_reports:
            info = {"source": "provincial_work_report" if short.startswith("prov") else "national_work_report"}
        else:
            info = {"source": kind_of(name), "genre": GENRE_GROUPS[kind_of(name)]}
        for i, text in enumerate(doc.paragraphs):
            out[f"{short}-{i:03d}"] = {
                "text": text,
                "source_file": name,
                "paragraph": i,
                "doc_id": Path(name).stem,
                "year": year,
                "lang": name[:2],
                **info,
            }
    return out


def write_batches(
    out_dir: Path, n_batches: int = 16, corpus: Path = SHARED_CORPUS, collection: str = "real"
) -> list[Path]:
    """Whole documents into ``n_batches`` files of about equal length (``{"id", "text"}`` per line, in
    document order): what each annotator reads. Largest documents first into the lightest batch."""
    paragraphs = pool_paragraphs(corpus, collection)
    docs: dict[str, list[str]] = {}
    for pid, p in paragraphs.items():
        docs.setdefault(p["doc_id"], []).append(pid)
    load = [0] * n_batches
    members: list[list[str]] = [[] for _ in range(n_batches)]
    for doc in sorted(docs, key=lambda d: -sum(len(paragraphs[p]["text"]) for p in docs[d])):
        i = min(range(n_batches), key=lambda k: load[k])
        members[i].append(doc)
        load[i] += sum(len(paragraphs[p]["text"]) for p in docs[doc])
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i, batch in enumerate(members):
        path = out_dir / f"b{i + 1:02d}.jsonl"
        ids = [pid for doc in sorted(batch) for pid in docs[doc]]
        path.write_text("".join(_line({"id": p, "text": paragraphs[p]["text"]}) for p in ids), encoding="utf-8")
        files.append(path)
    return files


def read_answers(folder: Path) -> dict[str, dict]:
    """One annotator pass: ``{id: {"labels", "note", "annotator"}}`` from the batch answer files in ``folder``."""
    out: dict[str, dict] = {}
    known = set(label_ids())
    for path in sorted(folder.glob("b*.jsonl")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            if not set(rec["labels"]) <= known or rec["id"] in out:
                raise DataError([f"{path}:{lineno}: unknown label or repeated id {rec['id']!r}"])
            out[rec["id"]] = {"labels": rec["labels"], "note": rec.get("note", ""), "annotator": path.stem}
    return out


def build(
    first: Path, second: Path, adjudicated: Path, corpus: Path = SHARED_CORPUS, collection: str = "real"
) -> list[dict]:
    """The annotation record from two blind passes and the adjudication of their disagreements."""
    paragraphs = pool_paragraphs(corpus, collection)
    a, b = read_answers(first), read_answers(second)
    decided = {}
    for line in adjudicated.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            decided[rec["id"]] = rec
    problems = [
        f"{pid}: missing from {where}" for pid in paragraphs for where, d in ((first, a), (second, b)) if pid not in d
    ]
    records = []
    for pid in paragraphs:
        if problems:
            break
        x, y = sorted(a[pid]["labels"]), sorted(b[pid]["labels"])
        record = {"id": pid, "first": x, "second": y, "final": x, "note": ""}
        if x != y:
            if pid not in decided:
                problems.append(f"{pid}: the passes disagree ({x} vs {y}) and it was not adjudicated")
                continue
            record["final"] = sorted(decided[pid]["labels"])
            record["note"] = decided[pid]["note"]
        record["annotators"] = [f"first-{a[pid]['annotator']}", f"second-{b[pid]['annotator']}"]
        records.append(record)
    if problems:
        raise DataError(problems)
    return records


def corpus_rows(records: list[dict], corpus: Path = SHARED_CORPUS, collection: str = "real") -> list[Example]:
    """A collection's rows from its annotation record: text, provenance, final labels, document split.

    A paragraph whose text (up to whitespace) came earlier, in this or another document (a salutation, a
    stock heading), or is in the written corpus too (a heading such as "二、2025年重点工作"), is left out:
    one text, one row, one split, whatever files a model is trained on. So is one whose text is also a
    paragraph of a ``reserved`` document (a stock opening, a passage repeated from an earlier report): the
    project is scored on those, and no text of theirs is shipped or trained on. Documents are given their
    splits before those are left out, so leaving them out moves no document from one split to another.
    The other genres also leave out the texts of the work reports.
    """
    coll = COLLECTIONS[collection]
    paragraphs = pool_paragraphs(corpus, collection)
    rows = []
    seen = {" ".join(ex.text.split()) for ex in read_examples(CORPUS_PATH)}
    if not coll.work_reports:
        seen |= {" ".join(ex.text.split()) for ex in read_examples(REAL_PATH)}
    for r in records:
        p = paragraphs[r["id"]]
        key = " ".join(p["text"].split())
        if key in seen:
            continue
        seen.add(key)
        extra = {k: p[k] for k in ("source_file", "paragraph", "source", "year", "genre") if k in p}
        rows.append(Example(r["id"], p["text"], r["final"], p["lang"], p["doc_id"], extra))
    if coll.work_reports:
        fold = grouped_folds(rows, FOLDS, SPLIT_SEED)
        for ex, f in zip(rows, fold):
            ex.extra["split"] = "test" if f == 0 else "dev" if f == 1 else "train"
    else:
        split = genre_splits(rows)
        for ex in rows:
            ex.extra["split"] = split[ex.doc_id]
    reserved = reserved_texts(corpus)
    return [ex for ex in rows if " ".join(ex.text.split()) not in reserved]


def genre_splits(rows: list[Example], labels: list[str] | None = None) -> dict[str, str]:
    """``{doc_id: split}`` for the documents of other genres, so that each language and each genre group
    has train, dev and test documents.

    Documents are grouped in cells of one language and one genre group. Each cell of three or more
    documents, shuffled, gives its first third (rounded, at least one) to test, the next one to dev and the
    rest to train; a smaller cell trains. The shuffle's seed is the first (from 0) with which each
    language's test documents hold at least ``MIN_TEST_POSITIVES`` paragraphs of every theme, so that
    every theme can be scored in every language.
    """
    labels = labels or label_ids()
    docs: dict[str, list[Example]] = {}
    for ex in rows:
        docs.setdefault(ex.doc_id, []).append(ex)
    cells: dict[tuple, list[str]] = {}
    for d, members in sorted(docs.items()):
        cells.setdefault((members[0].lang, members[0].extra["genre"]), []).append(d)
    for seed in range(1000):
        rng, split = random.Random(seed), {}
        for _, names in sorted(cells.items()):
            names = list(names)
            rng.shuffle(names)
            n_test = max(1, round(len(names) / 3)) if len(names) >= 3 else 0
            for k, d in enumerate(names):
                split[d] = "test" if k < n_test else "dev" if n_test and k == n_test else "train"
        counts = Counter((ex.lang, lab) for ex in rows if split[ex.doc_id] == "test" for lab in ex.labels)
        if all(counts[(lang, lab)] >= MIN_TEST_POSITIVES for lang in {ex.lang for ex in rows} for lab in labels):
            return split
    raise DataError([f"no split gives every language's test documents {MIN_TEST_POSITIVES} paragraphs per theme"])


def check(collection: str = "real", corpus: Path = SHARED_CORPUS) -> list[str]:
    """Problems with a shipped real corpus: every row is a pool paragraph, verbatim, at its index, with
    the record's final labels and the split ``corpus_rows`` gives it."""
    coll = COLLECTIONS[collection]
    path, annotation = coll.path, coll.annotation
    records = [json.loads(line) for line in annotation.read_text(encoding="utf-8").splitlines() if line.strip()]
    shipped = read_examples(path)
    expected = {ex.id: ex for ex in corpus_rows(records, corpus, collection)}
    problems = []
    if [ex.id for ex in shipped] != list(expected):
        problems.append(f"{path}: rows differ from the annotation record {annotation}")
    for ex in shipped:
        want = expected.get(ex.id)
        if want is None or ex.to_dict() != want.to_dict():
            problems.append(
                f"{path}: {ex.id}: differs from what `python -m policytheme.data.real build` makes of the record"
            )
    return problems


def _line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("batches", help="write the annotation batches")
    p.add_argument("--collection", choices=sorted(COLLECTIONS), default="real")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--batches", type=int, default=16)
    p = sub.add_parser("build", help="write a collection's annotation record and rows from the answers")
    p.add_argument("--collection", choices=sorted(COLLECTIONS), default="real")
    p.add_argument("--first", type=Path, required=True, help="folder of the first pass's answer files")
    p.add_argument("--second", type=Path, required=True, help="folder of the second pass's answer files")
    p.add_argument("--adjudicated", type=Path, required=True, help="JSONL of {id, labels, note} per disagreement")
    sub.add_parser("check", help="check data/real.jsonl against the record and ../shared/corpus")
    args = ap.parse_args(argv)
    if not (SHARED_CORPUS / "SPLIT.tsv").is_file():
        print(f"{SHARED_CORPUS}: not found (the real documents are needed)", file=sys.stderr)
        return 2
    if args.command == "batches":
        files = write_batches(args.out, args.batches, collection=args.collection)
        print(f"wrote {len(files)} batches to {args.out}")
    elif args.command == "build":
        coll = COLLECTIONS[args.collection]
        records = build(args.first, args.second, args.adjudicated, collection=args.collection)
        coll.annotation.write_text("".join(_line(r) for r in records), encoding="utf-8")
        write_examples(corpus_rows(records, collection=args.collection), coll.path)
        print(f"wrote {coll.annotation} and {coll.path} ({len(records)} paragraphs)")
    else:
        problems = [p for name in COLLECTIONS for p in check(name)]
        for p in problems[:20]:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
