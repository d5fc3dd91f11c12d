import pytest

from policytheme.data.records import DataError, Example
from policytheme.data.splits import assign_splits, combine, grouped_split, lead_mask, read_sources
from tests.conftest import make_rows, write_jsonl


def _examples(rows):
    return [
        Example(
            r["id"],
            r["text"],
            r["labels"],
            r["lang"],
            r["doc_id"],
            {k: v for k, v in r.items() if k not in ("id", "text", "labels", "lang", "doc_id")},
        )
        for r in rows
    ]


def test_no_document_in_two_splits_and_all_rows_kept():
    exs = _examples(make_rows(n_docs=40))
    parts = grouped_split(exs, dev=0.1, test=0.1, seed=0)
    docs = [{e.doc_id for e in parts[s]} for s in ("train", "dev", "test")]
    assert not (docs[0] & docs[1]) and not (docs[0] & docs[2]) and not (docs[1] & docs[2])
    assert sum(len(p) for p in parts.values()) == len(exs)
    assert parts["dev"] and parts["test"] and len(parts["train"]) > len(parts["test"])


def test_split_is_deterministic_and_seeded():
    exs = _examples(make_rows(n_docs=40))
    ids = lambda parts: {s: [e.id for e in rows] for s, rows in parts.items()}  # noqa: E731
    assert ids(grouped_split(exs, seed=3)) == ids(grouped_split(list(exs), seed=3))
    assert ids(grouped_split(exs, seed=3)) != ids(grouped_split(exs, seed=4))


def test_stratified_over_label_combinations():
    exs = _examples(make_rows(n_docs=60))
    parts = grouped_split(exs, dev=0.1, test=0.1, seed=0)
    combos = lambda rows: {"+".join(sorted(e.labels)) for e in rows}  # noqa: E731
    assert combos(parts["train"]) == combos(exs)
    assert len(combos(parts["test"])) >= 4


def test_duplicate_text_across_splits_is_an_error():
    rows = make_rows(n_docs=10)
    for r in rows:
        r["split"] = "test" if r["doc_id"] == "d00" else "train"
    rows[-1]["text"] = rows[0]["text"] + "  "  # same text up to whitespace, other split
    with pytest.raises(DataError, match="same text as"):
        assign_splits(_examples(rows))


def test_stored_split_column_is_used_and_checked():
    rows = make_rows(n_docs=6)
    for r in rows:
        r["split"] = {"d00": "test", "d01": "dev"}.get(r["doc_id"], "train")
    parts = assign_splits(_examples(rows))
    assert {e.doc_id for e in parts["test"]} == {"d00"} and {e.doc_id for e in parts["dev"]} == {"d01"}
    rows[0]["split"] = "train"  # d00 now in two splits
    with pytest.raises(DataError, match="in both"):
        assign_splits(_examples(rows))


def test_lead_mask_marks_the_first_files_rows(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", make_rows(n_docs=10))
    second = write_jsonl(tmp_path / "b.jsonl", make_rows(n_docs=10, tag="b"))
    labels = ["price_competition", "industrial_upgrading", "innovation"]
    sources = read_sources([str(first), str(second)], labels)
    train = combine(sources)["train"]
    mask = lead_mask(train, sources)
    assert mask.tolist() == [not ex.id.startswith("b-") for ex in train] and mask.any() and not mask.all()


def test_tune_with_moves_a_files_dev_split_from_training_to_tuning_and_translations_follow_their_source(tmp_path):
    rows = make_rows(n_docs=10)
    for r in rows:
        r["split"] = {"d00": "test", "d01": "dev"}.get(r["doc_id"], "train")
    other = make_rows(n_docs=10, tag="b")
    for r in other:
        r["split"] = {"b-d00": "test", "b-d01": "dev"}.get(r["doc_id"], "train")
    # translations of the first file's dev and train documents keep their source's document and split
    translated = [{**r, "id": r["id"] + "@x"} for r in rows if r["doc_id"] in ("d01", "d02")]
    paths = [str(write_jsonl(tmp_path / f"{n}.jsonl", rs)) for n, rs in (("a", rows), ("b", other), ("t", translated))]
    labels = ["price_competition", "industrial_upgrading", "innovation"]

    def docs(parts):
        return {name: {ex.doc_id for ex in part} for name, part in parts.items()}

    plain = combine(read_sources(paths, labels))
    assert docs(plain)["dev"] == {"d01"} and "b-d01" in docs(plain)["train"]  # other files' dev splits train
    assert sum(ex.id.endswith("@x") for ex in plain["train"]) == 5  # the dev document's translation does not
    tuned = combine(read_sources(paths, labels, tune_with=[paths[1], paths[2]]))
    assert docs(tuned)["dev"] == {"d01", "b-d01"} and "b-d01" not in docs(tuned)["train"]
    assert sum(ex.id.endswith("@x") for ex in tuned["dev"]) == 5
    with pytest.raises(DataError, match="not one of the --data files after the first"):
        read_sources(paths, labels, tune_with=[paths[0]])
