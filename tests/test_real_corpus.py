"""The real corpus keeps its datasheet's promises: pool paragraphs only, verbatim at their index, one row per
text, whole documents per split, and an annotation record that matches it."""

import json
from collections import Counter
from pathlib import Path

import pytest

from policytheme.data.datasheet import REAL_ANNOTATION, read_annotation
from policytheme.data.real import SHARED_CORPUS, check, reserved_texts, roles
from policytheme.data.records import CORPUS_PATH, REAL_PATH, SPLITS, label_ids, read_examples

LABELS = label_ids()
pytestmark = pytest.mark.skipif(not REAL_PATH.is_file(), reason="no shipped real corpus")
needs_shared = pytest.mark.skipif(not (SHARED_CORPUS / "SPLIT.tsv").is_file(), reason="../shared/corpus not present")


@pytest.fixture(scope="module")
def real():
    return read_examples(REAL_PATH)


def _key(text: str) -> str:
    return " ".join(text.split())


def test_schema_and_provenance_columns(real):
    assert len(real) >= 3000
    for ex in real:
        assert ex.lang == "zh" and ex.extra["source_file"].endswith(".txt") and isinstance(ex.extra["paragraph"], int)
        assert ex.doc_id == ex.extra["source_file"][: -len(".txt")] and ex.extra["split"] in SPLITS


def test_every_text_once_and_none_shared_with_the_written_corpus(real):
    counts = Counter(_key(ex.text) for ex in real)
    assert not [t for t, n in counts.items() if n > 1]
    written = {_key(ex.text) for ex in read_examples(CORPUS_PATH)}
    assert not [ex.id for ex in real if _key(ex.text) in written]


def test_splits_are_whole_documents_and_hold_every_theme(real):
    split_of = {}
    for ex in real:
        assert split_of.setdefault(ex.doc_id, ex.extra["split"]) == ex.extra["split"], ex.doc_id
    for s in SPLITS:
        part = [ex for ex in real if ex.extra["split"] == s]
        assert len(part) >= 0.15 * len(real)
        assert all(any(lab in ex.labels for ex in part) for lab in LABELS), s


def test_none_keeps_its_real_weight(real):
    assert sum(not ex.labels for ex in real) / len(real) > 0.6  # every pool paragraph was labeled, not a sample


@needs_shared
def test_no_paragraph_comes_from_a_reserved_document(real):
    role = roles()
    assert {ex.extra["source_file"] for ex in real} <= {f for f, r in role.items() if r == "pool"}
    assert not [f for f, r in role.items() if r == "reserved" and any(ex.extra["source_file"] == f for ex in real)]


@needs_shared
def test_no_shipped_text_is_a_paragraph_of_a_reserved_document(real):
    """Not even a stock opening a pool document shares with a reserved one: the project is scored on those."""
    reserved = reserved_texts()
    shipped = [*real, *read_examples(CORPUS_PATH)]
    assert not [ex.id for ex in shipped if _key(ex.text) in reserved]
    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    lines = [(p.name, _key(line)) for p in samples.glob("*.txt") for line in p.read_text("utf-8").splitlines()]
    assert not [name for name, line in lines if line in reserved]


@needs_shared
def test_no_committed_file_holds_a_real_dev_paragraph_of_a_reserved_document():
    """Results committed under eval/results (predictions, error tables) keep the ids and scores of
    ``real-dev.jsonl`` but not the text of its paragraphs from reserved documents, nor does any other file."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    role = roles()
    dev = read_examples(SHARED_CORPUS.parent / "real-dev.jsonl")
    # 40 characters of each (whitespace dropped): enough to be that paragraph, short enough to catch an excerpt
    starts = {"".join(ex.text.split())[:40]: ex.id for ex in dev if role.get(f"{ex.doc_id}.txt") == "reserved"}
    assert len(starts) > 100
    try:
        files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    found = []
    for name in files.split():
        try:
            text = "".join((root / name).read_text(encoding="utf-8").split())
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{name}: {ex_id}" for start, ex_id in starts.items() if start in text]
    assert not found


@needs_shared
def test_rows_are_the_pool_paragraphs_verbatim_with_the_records_labels():
    assert check() == []


def test_annotation_record_matches_the_corpus(real):
    records = {r["id"]: r for r in read_annotation(REAL_ANNOTATION)}
    assert {ex.id for ex in real} <= set(records)
    for ex in real:
        assert sorted(records[ex.id]["final"]) == sorted(ex.labels), ex.id
    for r in records.values():
        assert set(r["first"]) <= set(LABELS) and set(r["second"]) <= set(LABELS) and set(r["final"]) <= set(LABELS)
        assert len(r["annotators"]) == 2 and r["annotators"][0] != r["annotators"][1]
        if sorted(r["first"]) != sorted(r["second"]):
            assert r["note"].strip(), f"{r['id']}: a disagreement without an adjudication note"
        else:
            assert r["final"] == r["first"]
    assert json.loads(REAL_ANNOTATION.read_text(encoding="utf-8").splitlines()[0])["id"]
