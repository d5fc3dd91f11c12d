import json

import pandas as pd
import pytest

from data.documents import expand_inputs, iter_documents, split_paragraphs
from data.records import DataError


@pytest.mark.parametrize(
    "text, expected",
    [
        ("一、回顾\n\n第一段。\n\n\n第二段。\n", ["一、回顾", "第一段。", "第二段。"]),
        ("第一行。\n第二行。\n第三行。", ["第一行。", "第二行。", "第三行。"]),  # no blank line: lines
        ("只有一行", ["只有一行"]),
        ("推动产业\n转型升级。\n\nThe price war\nhurt margins.", ["推动产业转型升级。", "The price war hurt margins."]),
        ("\ufeffa\r\n\r\nb\r\n", ["a", "b"]),
        ("a\n  \t \nb", ["a", "b"]),  # a line of spaces is a blank line
        ("a\n\u3000\nb", ["a", "b"]),  # so is a line of ideographic spaces
        ("", []),
    ],
)
def test_split_paragraphs(text, expected):
    assert split_paragraphs(text) == expected


def test_expand_inputs_dirs_globs_and_files(docs_dir):
    found = expand_inputs([str(docs_dir)])
    assert [p.name for p in found] == ["report.txt", "notes.md"]
    assert [p.name for p in expand_inputs([str(docs_dir / "*.txt"), str(docs_dir / "report.txt")])] == ["report.txt"]
    with pytest.raises(DataError, match="no such file"):
        expand_inputs([str(docs_dir / "missing*.txt")])
    with pytest.raises(DataError, match="unsupported input"):
        expand_inputs([str(docs_dir / "ignored.bin")])


def test_table_inputs_one_document_per_row(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"id": "r1", "text": "x\n\ny"}) + "\n" + json.dumps({"text": "z"}) + "\n"
    )
    pd.DataFrame([{"id": "c1", "text": "p\n\nq"}]).to_csv(tmp_path / "b.csv", index=False)
    pd.DataFrame([{"text": "solo"}]).to_parquet(tmp_path / "c.parquet")
    docs = list(iter_documents([str(tmp_path)]))
    assert [(d.doc_id, d.paragraphs) for d in docs] == [
        ("r1", ["x", "y"]),
        (f"{tmp_path / 'a.jsonl'}#2", ["z"]),
        ("c1", ["p", "q"]),
        (f"{tmp_path / 'c.parquet'}#1", ["solo"]),
    ]


def test_table_without_text_column_and_bad_utf8(tmp_path):
    pd.DataFrame([{"body": "x"}]).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match="no 'text' column"):
        list(iter_documents([str(tmp_path / "b.csv")]))
    (tmp_path / "bad.txt").write_bytes(b"ok\xff\xfe")
    with pytest.raises(DataError, match="invalid UTF-8"):
        list(iter_documents([str(tmp_path / "bad.txt")]))
