"""The real corpus (``data/real.jsonl``): paragraphs of the ``pool`` documents of ``../shared/corpus``, labeled.

``../shared/corpus/SPLIT.tsv`` gives every real document a role. ``pool`` documents (Chinese state
documents, outside copyright under PRC Copyright Law art. 5) may be annotated, trained on and shipped;
``reserved`` ones are for evaluation only and never enter the project. Every paragraph of every pool
document was labeled, so "none" keeps its real weight.

    python -m data.real batches --out DIR [--batches 16]   # the annotation batches (whole documents each)
    python -m data.real build --first A/ --second B/ --adjudicated ADJ.jsonl   # record + corpus from answers
    python -m data.real check                               # real.jsonl matches the record and the documents

Paragraphs are found exactly as ``policytheme label`` finds them (``data.documents``), so a row's
``source_file`` and ``paragraph`` point at the same paragraph in a label run's output. A paragraph's id is
``<short document name>-<index>`` (``prov2025_anhui-012``, ``nat1999-040``). A text repeated in several
documents (a salutation, a stock heading) is shipped once. Splits are whole documents: five folds stratified
over label combinations (``data.splits.grouped_folds``), one for test, one for dev.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data.documents import read_documents
from data.records import CORPUS_PATH, REAL_PATH, DataError, Example, label_ids, read_examples, write_examples
from data.splits import grouped_folds

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ANNOTATION = Path(__file__).with_name("real-annotation.jsonl")
FOLDS, SPLIT_SEED = 5, 0  # fold 0 is test, fold 1 dev, the rest train


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


def pool_paragraphs(corpus: Path = SHARED_CORPUS) -> dict[str, dict]:
    """Every paragraph of every pool document: ``{id: {text, source_file, paragraph, doc_id, year, source}}``."""
    out = {}
    for name, role in sorted(roles(corpus).items()):
        if role != "pool":
            continue
        (doc,) = read_documents(corpus / name)
        short = short_name(name)
        kind = "provincial_work_report" if short.startswith("prov") else "national_work_report"
        year = int(next(part for part in Path(name).stem.split("_") if part.isdigit()))
        for i, text in enumerate(doc.paragraphs):
            out[f"{short}-{i:03d}"] = {
                "text": text,
                "source_file": name,
                "paragraph": i,
                "doc_id": Path(name).stem,
                "year": year,
                "source": kind,
            }
    return out


def write_batches(out_dir: Path, n_batches: int = 16, corpus: Path = SHARED_CORPUS) -> list[Path]:
    """Whole documents into ``n_batches`` files of about equal length (``{"id", "text"}`` per line, in
    document order): what each annotator reads. Largest documents first into the lightest batch."""
    paragraphs = pool_paragraphs(corpus)
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


def build(first: Path, second: Path, adjudicated: Path, corpus: Path = SHARED_CORPUS) -> list[dict]:
    """The annotation record from two blind passes and the adjudication of their disagreements."""
    paragraphs = pool_paragraphs(corpus)
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


def corpus_rows(records: list[dict], corpus: Path = SHARED_CORPUS) -> list[Example]:
    """``data/real.jsonl`` from the annotation record: text, provenance, final labels, document split.

    A paragraph whose text (up to whitespace) came earlier, in this or another document (a salutation, a
    stock heading), or is in the written corpus too (a heading such as "二、2025年重点工作"), is left out:
    one text, one row, one split, whatever files a model is trained on. So is one whose text is also a
    paragraph of a ``reserved`` document (a stock opening, a passage repeated from an earlier report): the
    project is scored on those, and no text of theirs is shipped or trained on. Documents are given their
    splits before those are left out, so leaving them out moves no document from one split to another.
    """
    paragraphs = pool_paragraphs(corpus)
    rows = []
    seen = {" ".join(ex.text.split()) for ex in read_examples(CORPUS_PATH)}
    for r in records:
        p = paragraphs[r["id"]]
        key = " ".join(p["text"].split())
        if key in seen:
            continue
        seen.add(key)
        extra = {k: p[k] for k in ("source_file", "paragraph", "source", "year")}
        rows.append(Example(r["id"], p["text"], r["final"], "zh", p["doc_id"], extra))
    fold = grouped_folds(rows, FOLDS, SPLIT_SEED)
    for ex, f in zip(rows, fold):
        ex.extra["split"] = "test" if f == 0 else "dev" if f == 1 else "train"
    reserved = reserved_texts(corpus)
    return [ex for ex in rows if " ".join(ex.text.split()) not in reserved]


def check(path: Path = REAL_PATH, annotation: Path = ANNOTATION, corpus: Path = SHARED_CORPUS) -> list[str]:
    """Problems with the shipped real corpus: every row is a pool paragraph, verbatim, at its index, with
    the record's final labels and the split ``corpus_rows`` gives it."""
    records = [json.loads(line) for line in annotation.read_text(encoding="utf-8").splitlines() if line.strip()]
    shipped = read_examples(path)
    expected = {ex.id: ex for ex in corpus_rows(records, corpus)}
    problems = []
    if [ex.id for ex in shipped] != list(expected):
        problems.append(f"{path}: rows differ from the annotation record {annotation}")
    for ex in shipped:
        want = expected.get(ex.id)
        if want is None or ex.to_dict() != want.to_dict():
            problems.append(f"{path}: {ex.id}: differs from what `python -m data.real build` makes of the record")
    return problems


def _line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("batches", help="write the annotation batches")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--batches", type=int, default=16)
    p = sub.add_parser("build", help="write the annotation record and data/real.jsonl from the answers")
    p.add_argument("--first", type=Path, required=True, help="folder of the first pass's answer files")
    p.add_argument("--second", type=Path, required=True, help="folder of the second pass's answer files")
    p.add_argument("--adjudicated", type=Path, required=True, help="JSONL of {id, labels, note} per disagreement")
    sub.add_parser("check", help="check data/real.jsonl against the record and ../shared/corpus")
    args = ap.parse_args(argv)
    if not (SHARED_CORPUS / "SPLIT.tsv").is_file():
        print(f"{SHARED_CORPUS}: not found (the real documents are needed)", file=sys.stderr)
        return 2
    if args.command == "batches":
        files = write_batches(args.out, args.batches)
        print(f"wrote {len(files)} batches to {args.out}")
    elif args.command == "build":
        records = build(args.first, args.second, args.adjudicated)
        ANNOTATION.write_text("".join(_line(r) for r in records), encoding="utf-8")
        write_examples(corpus_rows(records), REAL_PATH)
        print(f"wrote {ANNOTATION} and {REAL_PATH} ({len(records)} paragraphs)")
    else:
        problems = check()
        for p in problems[:20]:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
