"""data/written-genres.jsonl, paragraphs written to train on in the registers of the new genres, keeps the
promises of its datasheet section: schema, training only, original text, an annotation record that matches.
It is not in the default data (rule R6 in docs/quality.md); ``--data ... data/written-genres.jsonl`` adds it."""

from collections import Counter

import pytest

from policytheme.data.datasheet import WRITTEN_GENRES_ANNOTATION, read_annotation
from policytheme.data.quality import copied_runs, near_duplicates, read_shared_corpus
from policytheme.data.records import DEFAULT_DATA, WRITTEN_GENRES_PATH, label_ids, read_examples

LABELS = label_ids()
GENRES = {"law_regulation", "policy_document", "speech_analysis"}
pytestmark = pytest.mark.skipif(not WRITTEN_GENRES_PATH.is_file(), reason="no written genres file")


@pytest.fixture(scope="module")
def rows():
    return read_examples(WRITTEN_GENRES_PATH)


def test_schema_documents_and_languages(rows):
    assert len(rows) >= 400 and {e.lang for e in rows} == {"en", "zh"}
    docs = {}
    for e in rows:
        docs.setdefault(e.doc_id, []).append(e)
        assert e.extra["genre"] in GENRES and e.extra["source"]
        assert e.id.startswith(e.doc_id + "-")
    for doc in docs.values():  # whole documents of one language and one register
        assert len({e.lang for e in doc}) == 1 and len({e.extra["source"] for e in doc}) == 1
    for lang in ("en", "zh"):  # every theme, and a good share of paragraphs with none
        part = [e for e in rows if e.lang == lang]
        counts = Counter(lab for e in part for lab in e.labels)
        assert all(counts[lab] >= 15 for lab in LABELS), (lang, counts)
        assert sum(not e.labels for e in part) / len(part) >= 0.35
        assert sum(bool(e.extra.get("hard_negative")) for e in part) / len(part) >= 0.2


def test_it_only_trains(rows):
    assert {e.extra["split"] for e in rows} == {"train"}


def test_original_text(rows):
    texts = [e.text for e in rows]
    assert not near_duplicates(texts, threshold=0.5)
    shipped = {" ".join(e.text.split()) for p in DEFAULT_DATA for e in read_examples(p)}
    assert not [e.id for e in rows if " ".join(e.text.split()) in shipped]
    real = read_shared_corpus()
    if not real:
        pytest.skip("../shared/corpus not present")
    hits = copied_runs(texts, real)
    assert not hits, {rows[i].id: run for i, run in list(hits.items())[:10]}


def test_annotation_record_matches(rows):
    records = {r["id"]: r for r in read_annotation(WRITTEN_GENRES_ANNOTATION)}
    assert set(records) == {e.id for e in rows}
    for e in rows:
        r = records[e.id]
        assert sorted(r["final"]) == sorted(e.labels), e.id
        assert set(r["first"]) | set(r["second"]) <= set(LABELS)
        assert r["first"] == r["second"] or r["note"], e.id  # every disagreement adjudicated with a reason
