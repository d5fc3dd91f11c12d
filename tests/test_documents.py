import json

import pandas as pd
import pytest

from policytheme.data.documents import Document, expand_inputs, iter_documents, split_paragraphs
from policytheme.data.records import DataError
from policytheme.data.segment import ends_paragraph, ends_sentence, is_page_furniture, join_lines, segment, starts_block


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
        (
            "标题\n\n第一段。\n第二段：\n第三段\n\n附则",
            ["标题", "第一段。", "第二段：", "第三段", "附则"],
        ),  # a line each
        (
            "The price war\nhurt margins. Firms\ncut research.\n\nNext",
            ["The price war hurt margins. Firms cut research.", "Next"],
        ),
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
    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "\xff\xfe"}\n')
    with pytest.raises(DataError, match="invalid UTF-8"):  # JSON Lines are UTF-8 by definition: no guessing
        list(iter_documents([str(tmp_path / "bad.jsonl")]))


def test_table_rows_have_spans_in_their_text(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "r1", "text": "第一段，\n接着写。\n\n第二段。"}) + "\n")
    (doc,) = iter_documents([str(tmp_path / "a.jsonl")])
    assert doc.paragraphs == ["第一段，接着写。", "第二段。"]
    assert doc.source == str(tmp_path / "a.jsonl")
    assert [doc.text[a:b] for a, b in doc.spans] == ["第一段，\n接着写。", "第二段。"]


def test_document_keeps_its_two_field_form():
    doc = Document("d1", ["p"])  # callers that build Documents by hand keep working
    assert (doc.doc_id, doc.paragraphs, doc.source, doc.spans, doc.text) == ("d1", ["p"], "", [], "")


# Hard-wrapped text, as PDF text layers and text converted from PDF have it: about 16 characters a line.
WRAPPED = (
    "一、总体要求\n"
    "推动传统产业转型升级，加快制造业\n"
    "高端化、智能化、绿色化发展，培育\n"
    "壮大新兴产业和未来产业集群。\n"
    "坚决遏制低价无序竞争，规范市场秩\n"
    "序，防止企业陷入价格战，维护公平\n"
    "竞争的市场环境和良好的产业生态\n"
    "- 3 -\n"
    "主要任务包括以下几个方面的内容：\n"
    "（一）加大研发投入，突破关键核心\n"
    "技术，建设国家重点实验室。\n"
)


def test_wrapped_chinese_lines_are_joined():
    assert split_paragraphs(WRAPPED) == [
        "一、总体要求",  # short: a heading
        "推动传统产业转型升级，加快制造业高端化、智能化、绿色化发展，培育壮大新兴产业和未来产业集群。",
        # no final punctuation, and the page number inside is dropped: the paragraph goes on
        "坚决遏制低价无序竞争，规范市场秩序，防止企业陷入价格战，维护公平竞争的市场环境和良好的产业生态"
        "主要任务包括以下几个方面的内容：",
        "（一）加大研发投入，突破关键核心技术，建设国家重点实验室。",  # a marker after a colon
    ]
    # Read as one paragraph per line (not wrapped), every line stands alone.
    assert len(split_paragraphs(WRAPPED, wrapped=False)) == 10


def test_one_paragraph_per_line_is_not_taken_for_wrapped_text():
    text = (
        "推动传统产业转型升级，加快制造业高端化、智能化、绿色化发展。\n"
        "坚决遏制低价无序竞争，规范市场秩序，防止企业陷入价格战。\n"
        "二、重点任务\n"
        "加大研发投入，突破关键核心技术，建设一批国家重点实验室和创新平台。\n"
        "培育壮大新兴产业。\n"
    )
    assert split_paragraphs(text) == [ln for ln in text.split("\n") if ln]


def test_indented_paragraph_starts():
    # Paragraphs start with two ideographic spaces. A full line that happens to end a sentence (…质量。) is
    # followed by an unindented line, so the paragraph goes on; an indented line starts the next one.
    text = (
        "\u3000\u3000推动传统产业转型升级，提\n"
        "高发展质量。加快制造业高端化、智\n"
        "能化、绿色化发展，培育新兴产业。\n"
        "\u3000\u3000坚决遏制低价无序竞争，规\n"
        "范市场秩序，防止企业陷入价格战。\n"
        "\u3000\u3000加大研发投入，突破关键核心\n"
        "技术，建设国家重点实验室，提升质\n"
        "量。\n"
    )
    found = segment(text, wrapped=True)
    assert [p for p, _, _ in found] == [
        "推动传统产业转型升级，提高发展质量。加快制造业高端化、智能化、绿色化发展，培育新兴产业。",
        "坚决遏制低价无序竞争，规范市场秩序，防止企业陷入价格战。",
        "加大研发投入，突破关键核心技术，建设国家重点实验室，提升质量。",
    ]
    lines = text.split("\n")
    raw = ["\n".join(lines[i:j])[2:] for i, j in [(0, 3), (3, 5), (5, 8)]]  # without the indentation
    assert [text[a:b] for _, a, b in found] == raw


def test_english_hyphenation_and_spacing():
    text = (
        "The price war hurt the margins of manu-\n"
        "facturers across the sector, and firms\n"
        "cut their research budgets to survive.\n"
        "Upgrading came later."
    )
    assert split_paragraphs(text, wrapped=True) == [
        "The price war hurt the margins of manufacturers across the sector, and firms cut their research budgets "
        "to survive.",
        "Upgrading came later.",
    ]
    assert join_lines(["推动“十四五”", "规划落实"]) == "推动“十四五”规划落实"
    assert join_lines(["GDP grew 5%", "增长"]) == "GDP grew 5%增长"
    assert join_lines(["Step 2-", "3 done"]) == "Step 2- 3 done"  # not a hyphenated word


@pytest.mark.parametrize("line", ["3", "- 3 -", "— 12 —", "－5－", "第3页", "第 3 页 共 10 页", "Page 3 of 10", "3/10"])
def test_page_numbers_are_furniture(line):
    assert is_page_furniture(line)
    assert split_paragraphs(f"正文第一段。\n{line}\n正文第二段。") == ["正文第一段。", "正文第二段。"]


@pytest.mark.parametrize("line", ["2024年", "一、总体要求", "3.5%", "Article 3"])
def test_not_page_numbers(line):
    assert not is_page_furniture(line)


def test_line_end_and_start_signals():
    assert ends_sentence("维护公平竞争。") and ends_sentence("他说：“要创新。”") and ends_sentence("It grew.")
    assert not ends_sentence("实施“十四五”")  # a closing quote alone does not end a sentence
    assert not ends_sentence("推动传统产业转型")
    markers = ["一、总体要求", "（一）加大投入", "(2) 推动", "1. Price", "1、加快", "②推动", "第三章 附则"]
    for marker in markers + ["第十条", "• a", "| a | b |"]:
        assert starts_block(marker), marker
    for not_marker in ["1.5倍", "2024年", "统一、规范", "Article"]:
        assert not starts_block(not_marker), not_marker
    full = 14.0  # the typical full line, in columns: 7 Chinese characters
    # 一、 at the start of a wrapped line (…法治统 / 一、尊严) is not a heading when the line before runs on.
    assert not ends_paragraph("维护国家法治统", "一、尊严、权威。", 0, 0, full)
    assert ends_paragraph("任务如下：", "一、加大投入", 0, 0, full / 1.4)  # after a colon it is (a full line here)
    assert ends_paragraph("维护国家法治统", "一、尊严", 0, 2, full)  # so is an indented next line
    assert ends_paragraph("短行", "接着写", 0, 0, full)  # clearly shorter than a full line
