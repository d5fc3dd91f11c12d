"""The other genres (``data/genres.jsonl``) and the translations keep their datasheet's promises, and a run
scores each language and genre group of a test split on a board of its own, with the keyword method beside."""

import json
from collections import Counter

import pytest

from policytheme.cli import main
from policytheme.data.real import SHARED_CORPUS, check, genre_splits, reserved_texts, roles
from policytheme.data.records import (
    GENRES_PATH,
    REAL_PATH,
    SPLITS,
    TRANSLATIONS_PATH,
    Example,
    label_ids,
    read_examples,
)
from policytheme.data.translations import check as check_translations
from tests.conftest import make_rows, write_jsonl

LABELS = label_ids()
needs_shared = pytest.mark.skipif(not (SHARED_CORPUS / "SPLIT.tsv").is_file(), reason="../shared/corpus not present")


@pytest.fixture(scope="module")
def genres():
    return read_examples(GENRES_PATH)


@pytest.fixture(scope="module")
def translations():
    return read_examples(TRANSLATIONS_PATH)


def _key(text: str) -> str:
    return " ".join(text.split())


def test_schema_languages_and_genres(genres):
    assert len(genres) >= 2000
    assert Counter(ex.lang for ex in genres).keys() == {"en", "zh"}
    for ex in genres:
        assert ex.doc_id == ex.extra["source_file"][: -len(".txt")] and isinstance(ex.extra["paragraph"], int)
        assert ex.extra["genre"] in ("law_regulation", "policy_document", "speech_analysis")
        assert ex.lang == ex.extra["source_file"][:2] and ex.extra["split"] in SPLITS


def test_each_language_and_genre_group_has_train_dev_and_test_documents(genres):
    split_of = {}
    for ex in genres:
        assert split_of.setdefault(ex.doc_id, ex.extra["split"]) == ex.extra["split"], ex.doc_id
    for key in ("lang", "genre"):
        groups = {}
        for ex in genres:
            groups.setdefault(ex.lang if key == "lang" else ex.extra["genre"], set()).add(split_of[ex.doc_id])
        assert all(g == set(SPLITS) for g in groups.values()), groups
    for lang in ("en", "zh"):  # every theme can be scored in each language's test documents
        test = [ex for ex in genres if ex.lang == lang and ex.extra["split"] == "test"]
        assert all(sum(lab in ex.labels for ex in test) >= 5 for lab in LABELS), lang


def test_genre_splits_are_deterministic_whole_documents_and_fail_loudly(genres):
    assert genre_splits(genres) == genre_splits(list(reversed(genres)))
    rows = [
        Example(f"d{d}-{i}", "x", [], "en", f"d{d}", {"genre": "speech_analysis"}) for d in range(4) for i in range(2)
    ]
    with pytest.raises(ValueError, match="5 paragraphs per theme"):
        genre_splits(rows)


def test_no_text_twice_and_none_shared_with_the_work_reports(genres):
    counts = Counter(_key(ex.text) for ex in genres)
    assert not [t for t, n in counts.items() if n > 1]
    real = {_key(ex.text) for ex in read_examples(REAL_PATH)}
    assert not [ex.id for ex in genres if _key(ex.text) in real]


@needs_shared
def test_rows_are_pool_paragraphs_verbatim_with_the_records_labels(genres):
    assert check("genres") == []
    pool = {f for f, r in roles().items() if r == "pool"}
    assert {ex.extra["source_file"] for ex in genres} <= pool
    reserved = reserved_texts()
    assert not [ex.id for ex in genres if _key(ex.text) in reserved]


def test_annotation_record_is_complete_and_adjudicated():
    records = [json.loads(line) for line in GENRES_PATH.with_name("genres-annotation.jsonl").open(encoding="utf-8")]
    shipped = {ex.id: ex for ex in read_examples(GENRES_PATH)}
    assert set(shipped) <= {r["id"] for r in records}
    for r in records:
        if r["first"] != r["second"]:
            assert r["note"], r["id"]  # every disagreement was decided with a reason
        else:
            assert r["final"] == r["first"]
        if r["id"] in shipped:
            assert sorted(shipped[r["id"]].labels) == r["final"]


def test_translations_stay_in_their_sources_split_and_never_in_test(translations):
    sources = {ex.id: ex for path in (REAL_PATH, GENRES_PATH) for ex in read_examples(path)}
    assert check_translations() == []
    assert len(translations) >= 1000
    for ex in translations:
        src = sources[ex.extra["translation_of"]]
        assert ex.extra["split"] == src.extra["split"] != "test"
        assert ex.doc_id == src.doc_id and ex.labels == src.labels and ex.lang != src.lang
    assert {ex.lang for ex in translations} == {"en", "zh"}


def test_a_translation_that_drifts_from_its_source_is_caught(tmp_path, translations):
    drifted = [ex.to_dict() for ex in translations[:3]]
    drifted[0]["split"] = "test"
    path = write_jsonl(tmp_path / "t.jsonl", drifted)
    problems = check_translations(path)
    assert len(problems) == 1 and drifted[0]["id"] in problems[0]


def test_runs_score_each_language_and_genre_on_a_board_of_its_own(tmp_path, capsys):
    rows = make_rows(n_docs=30, per_doc=6)
    for r in rows:
        d = int(r["doc_id"][1:])
        r["genre"] = "law_regulation" if d % 3 == 0 else "speech_analysis"
        r["split"] = "test" if d % 5 == 0 else "dev" if d % 5 == 1 else "train"
    data = write_jsonl(tmp_path / "mixed.jsonl", rows)
    for model in ("tfidf-logreg", "keywords"):
        args = ["train", "--model", model, "--data", str(data), "--out", str(tmp_path / model), "--n-boot", "50"]
        assert main(args) == 0
    run = tmp_path / "tfidf-logreg"
    names = sorted(p.name for p in run.glob("metrics*.json"))
    assert names == [
        "metrics-en.json",
        "metrics-law_regulation.json",
        "metrics-speech_analysis.json",
        "metrics-zh.json",
        "metrics.json",
    ]
    en = json.loads((run / "metrics-en.json").read_text())
    assert en["data"]["slice"] == "lang en" and en["n"] == sum(r["lang"] == "en" and r["split"] == "test" for r in rows)
    assert 0 <= en["keywords"]["macro_f1"] <= 1 and "low" in en["keywords"]["ci"]["macro_f1"]
    assert "the keyword method" in (run / "MODEL_CARD.md").read_text()
    out = tmp_path / "compare.md"
    assert main(["compare", str(run), str(tmp_path / "keywords"), "--out", str(out)]) == 0
    text = out.read_text()
    for board in ("lang en", "lang zh", "genre law_regulation", "genre speech_analysis"):
        assert f"mixed (test split, {board})" in text, board
