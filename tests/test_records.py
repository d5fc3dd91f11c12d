import json

import pandas as pd
import pytest

from policytheme.data.records import DataError, label_ids, read_examples, to_matrix

GOOD = {"id": "a", "text": "推动产业升级。", "labels": ["industrial_upgrading"], "lang": "zh", "doc_id": "d1"}


def _jsonl(tmp_path, lines):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n" for ln in lines))
    return p


def _problems(path):
    with pytest.raises(DataError) as e:
        read_examples(path)
    return e.value.problems


def test_reads_good_file_and_keeps_extra_columns(tmp_path):
    rows = [GOOD, {**GOOD, "id": "b", "labels": [], "split": "test", "source": "news"}]
    exs = read_examples(_jsonl(tmp_path, [json.dumps(r, ensure_ascii=False) for r in rows]))
    assert [e.id for e in exs] == ["a", "b"]
    assert exs[1].extra == {"split": "test", "source": "news"}
    assert to_matrix(exs, label_ids()).tolist() == [[0, 1, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"id": "a", "text": ', "x.jsonl:2: invalid JSON"),
        (b'{"id": "a", "text": "\xff\xfe"}', "x.jsonl:2: invalid UTF-8"),
        ('{"id": "z", "labels": [], "lang": "zh"}', "x.jsonl:2: missing 'text'"),
        ('{"id": "z", "text": "  ", "labels": []}', "x.jsonl:2: empty 'text'"),
        ('{"id": "z", "text": "t", "labels": ["pricing"]}', "x.jsonl:2: unknown label 'pricing'"),
        ('{"id": "a", "text": "t", "labels": []}', "x.jsonl:2: duplicate id 'a' (first at"),
        ('{"id": "z", "text": "t", "labels": "innovation"}', "x.jsonl:2: 'labels' must be a list"),
        ('{"id": "z", "text": 5, "labels": []}', "x.jsonl:2: 'text' must be a string"),
        ('{"id": ["z"], "text": "t", "labels": []}', "x.jsonl:2: 'id' must be a string"),
        ('{"id": "z", "text": "t", "labels": [], "lang": "Chinese"}', "x.jsonl:2: 'lang' must be an ISO 639-1"),
        ('{"id": "z", "text": "t", "labels": []}', None),
        ("[1, 2]", "x.jsonl:2: expected a JSON object"),
        ('{"text": "t", "labels": []}', "x.jsonl:2: missing 'id'"),
        ('{"id": "z", "text": "t"}', "x.jsonl:2: missing 'labels'"),
    ],
)
def test_each_problem_names_file_line_and_problem(tmp_path, line, expected):
    path = _jsonl(tmp_path, [json.dumps(GOOD, ensure_ascii=False), line])
    if expected is None:
        assert len(read_examples(path)) == 2
        return
    problems = _problems(path)
    assert len(problems) == 1
    assert expected in problems[0]
    assert str(path) in problems[0]


def test_all_problems_are_reported_together(tmp_path):
    path = _jsonl(tmp_path, ['{"id": 1, "text": "", "labels": []}', "not json", json.dumps(GOOD)])
    problems = _problems(path)
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in problems] == ["1", "2"]


def test_csv_labels_are_semicolon_separated_and_lines_counted_with_header(tmp_path):
    p = tmp_path / "x.csv"
    pd.DataFrame(
        [
            {"id": "a", "text": "t1", "labels": "innovation;price_competition", "lang": "en", "doc_id": "d"},
            {"id": "b", "text": "t2", "labels": "", "lang": "en", "doc_id": "d"},
            {"id": "c", "text": "t3", "labels": "inovation", "lang": "en", "doc_id": "d"},
        ]
    ).to_csv(p, index=False)
    problems = _problems(p)
    assert problems == [
        f"{p}:4: unknown label 'inovation' (known: industrial_upgrading, innovation, price_competition)"
    ]
    p2 = tmp_path / "y.csv"
    p.write_text(p.read_text().replace("inovation", "innovation"))
    p.rename(p2)
    exs = read_examples(p2)
    assert exs[0].labels == ["innovation", "price_competition"] and exs[1].labels == []


def test_parquet_round_trip(tmp_path):
    p = tmp_path / "x.parquet"
    pd.DataFrame([GOOD, {**GOOD, "id": "b", "labels": []}]).to_parquet(p)
    exs = read_examples(p)
    assert exs[0].labels == ["industrial_upgrading"] and exs[1].labels == []


def test_missing_file_and_unknown_format(tmp_path):
    assert "no such file" in _problems(tmp_path / "nope.jsonl")[0]
    (tmp_path / "x.txt").write_text("hi")
    assert "unsupported format" in _problems(tmp_path / "x.txt")[0]


def test_one_jsonl_reader_for_labeled_files_and_documents(tmp_path):
    """A JSON string on a line is not taken for a reason; each unreadable line names itself, the rest come."""
    from policytheme.data.records import read_jsonl

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"id": "a", "text": "t", "labels": []}\n"just a string"\n\xff\n' + b"[" * 100_000 + b"\n")
    got = [(lineno, problem) for _, lineno, _, problem in read_jsonl(path)]
    assert got == [(1, None), (2, None), (3, "invalid UTF-8 at byte 0"), (4, "JSON nested too deeply")]
    with pytest.raises(DataError) as e:
        read_examples(path)
    assert "x.jsonl:2: expected a JSON object, got str" in str(e.value) and "x.jsonl:4: JSON nested" in str(e.value)
