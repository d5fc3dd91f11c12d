"""The shipped corpus keeps the promises of its datasheet: size, languages, documents, label
distribution, fixed grouped splits, originality, and an annotation record that matches it."""

from collections import Counter

import pytest

from policytheme.data.datasheet import ANNOTATION, length_bucket, read_annotation
from policytheme.data.datasheet import main as datasheet_main
from policytheme.data.quality import RUN_CJK, RUN_SPACED, copied_runs, near_duplicates, read_shared_corpus, shared_runs
from policytheme.data.records import CORPUS_PATH, SPLITS, label_ids, read_examples

LABELS = label_ids()
pytestmark = pytest.mark.skipif(not CORPUS_PATH.is_file(), reason="no shipped corpus")


@pytest.fixture(scope="module")
def corpus():
    return read_examples(CORPUS_PATH)


def test_size_and_languages(corpus):
    n = len(corpus)
    assert n >= 2400
    langs = Counter(e.lang for e in corpus)
    assert langs["zh"] / n >= 0.45 and langs["en"] / n >= 0.35
    others = [lang for lang, k in langs.items() if lang not in ("zh", "en") and k / n >= 0.02]
    assert len(others) >= 3, langs


def test_documents_have_3_to_15_paragraphs_of_one_language_and_source(corpus):
    docs = {}
    for e in corpus:
        docs.setdefault(e.doc_id, []).append(e)
    sizes = {d: len(rows) for d, rows in docs.items()}
    assert all(3 <= k <= 15 for k in sizes.values()), {d: k for d, k in sizes.items() if not 3 <= k <= 15}
    assert all(
        len({e.lang for e in rows}) == 1 and len({e.extra.get("source") for e in rows}) == 1 for rows in docs.values()
    )


def test_label_distribution(corpus):
    n = len(corpus)
    for lab in LABELS:
        assert sum(lab in e.labels for e in corpus) / n >= 0.20, lab
    assert sum(not e.labels for e in corpus) / n >= 0.25
    combos = Counter(frozenset(e.labels) for e in corpus)
    for combo in [frozenset(c) for c in (LABELS[:2], LABELS[1:], [LABELS[0], LABELS[2]], LABELS)]:
        assert combos[combo] / n >= 0.02, sorted(combo)
    assert sum(bool(e.extra.get("hard_negative")) for e in corpus) / n >= 0.15


def test_lengths_range_from_headings_to_long_paragraphs(corpus):
    for lang in ("zh", "en"):
        buckets = Counter(length_bucket(e) for e in corpus if e.lang == lang)
        total = sum(buckets.values())
        assert buckets["heading"] / total >= 0.03 and buckets["long"] / total >= 0.05, (lang, buckets)


def test_fixed_grouped_stratified_splits(corpus):
    assert all(e.extra.get("split") in SPLITS for e in corpus)
    split_of = {}
    for e in corpus:
        assert split_of.setdefault(e.doc_id, e.extra["split"]) == e.extra["split"], e.doc_id
    n = len(corpus)
    for s in SPLITS:
        part = [e for e in corpus if e.extra["split"] == s]
        assert len(part) >= 0.08 * n
        for lab in LABELS:  # each theme's share in every split within 6 points of the whole
            share = sum(lab in e.labels for e in part) / len(part)
            assert abs(share - sum(lab in e.labels for e in corpus) / n) < 0.06, (s, lab)
        assert {frozenset(e.labels) for e in part} == {frozenset(e.labels) for e in corpus}


def test_no_near_duplicates(corpus):
    pairs = near_duplicates([e.text for e in corpus], threshold=0.5)
    assert not pairs, [(corpus[i].id, corpus[j].id, round(j_, 2)) for i, j, j_ in pairs[:10]]


def test_no_copied_run_from_the_real_corpus(corpus):
    real = read_shared_corpus()
    if not real:
        pytest.skip("../shared/corpus not present")
    hits = copied_runs([e.text for e in corpus], real)
    assert not hits, {corpus[i].id: run for i, run in list(hits.items())[:10]}


def test_copied_runs_are_a_clause_long_in_either_script():
    real = [
        "他说：" + "推动传统产业改造提升加快制造业高端化智能化绿色化发展培育新兴产业" + "。",
        "We will invest in research and development, and we will " + "x" * 70 + " today.",
    ]
    zh = "我们要推动传统产业改造提升加快制造业高端化智能化绿色化发展培育新兴产业。"
    stock = "Firms invest in research and development, and we will see."  # 40 shared characters: a stock phrase
    copied = "Note: " + real[1][8 : 8 + RUN_SPACED] + "."
    hits = copied_runs([zh, stock, copied], real)
    assert set(hits) == {0, 2}
    assert len(hits[0]) == RUN_CJK and len(hits[2]) == RUN_SPACED
    assert shared_runs([stock], real, n=RUN_CJK)  # the old 30-character rule flagged it


def test_annotation_record_matches_the_corpus(corpus):
    records = {r["id"]: r for r in read_annotation(ANNOTATION)}
    assert set(records) == {e.id for e in corpus}
    for e in corpus:
        r = records[e.id]
        assert sorted(r["final"]) == sorted(e.labels), e.id
        assert set(r["first"]) <= set(LABELS) and set(r["second"]) <= set(LABELS)


def test_datasheet_tables_are_up_to_date():
    assert datasheet_main(["--check"]) == 0
