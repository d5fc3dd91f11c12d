"""Document formats: each reader on small files written here, encodings, offsets and errors."""

from pathlib import Path

import pytest

from policytheme.data.documents import expand_inputs, iter_documents, read_documents
from policytheme.data.formats import decode_text, detect_encoding, drop_running_lines
from policytheme.data.records import DataError
from policytheme.data.segment import join_lines

ZH = [
    "一、总体要求",
    "推动传统产业转型升级，加快制造业高端化、智能化、绿色化发展，培育壮大新兴产业和未来产业集群。",
    "坚决遏制低价无序竞争，规范市场秩序，防止企业陷入价格战，维护公平竞争的市场环境。",
    "二、重点任务",
    "加大研发投入，突破关键核心技术，建设一批国家重点实验室和创新平台，提升企业自主创新能力。",
]
TW = ["一、工作回顧", "推動傳統產業轉型升級，加快製造業高端化。", "企業陷入價格戰，利潤持續下滑。", "加大研發投入。"]


def one(path: Path, **kw):
    docs = list(read_documents(path, **kw))
    assert len(docs) == 1
    return docs[0]


def check_spans(doc) -> None:
    """Spans increase, do not overlap, and each covers its paragraph's lines in ``doc.text``."""
    assert len(doc.spans) == len(doc.paragraphs)
    prev = 0
    for (a, b), para in zip(doc.spans, doc.paragraphs):
        assert prev <= a < b <= len(doc.text)
        prev = b
        lines = [ln.strip() for ln in doc.text[a:b].splitlines() if ln.strip()]
        assert join_lines(lines) == para


# --- text files and encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gbk", "gb2312", "gb18030", "utf-8-sig", "utf-16", "utf-16-be"])
def test_chinese_text_in_each_encoding(tmp_path, encoding):
    text = "\n".join(ZH) + "\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # a BOM in front, as editors write it
    path = tmp_path / "doc.txt"
    path.write_bytes(data)
    doc = one(path)
    assert doc.paragraphs == ZH
    assert doc.text == text  # the BOM is not part of the text
    assert doc.source == str(path)
    check_spans(doc)


def test_gb18030_beyond_gbk_and_big5(tmp_path):
    rare = ["推动产业升级，鼓励企业创新䶮𠀀。", "建设国家重点实验室和创新平台，提升自主创新能力。"]
    (tmp_path / "rare.txt").write_bytes("\n".join(rare).encode("gb18030"))
    with pytest.raises(UnicodeEncodeError):
        "䶮𠀀".encode("gbk")  # the text really needs GB18030
    assert one(tmp_path / "rare.txt").paragraphs == rare
    (tmp_path / "tw.txt").write_bytes("\n".join(TW).encode("big5"))
    assert one(tmp_path / "tw.txt").paragraphs == TW


def test_short_texts_are_taken_for_chinese():
    # One short GBK sentence also decodes as Korean cp949; Chinese wins the tie.
    assert detect_encoding("加大研发投入。".encode("gbk")) == "gb18030"
    assert detect_encoding("加大研發投入。".encode("big5")) == "big5"
    assert detect_encoding("第五篇。".encode("gbk")) == "gb18030"  # also valid Big5: 菴拻う﹝
    assert detect_encoding("第五篇。".encode("big5")) == "big5"
    assert detect_encoding(b"plain ascii") == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbfbom") == "utf-8-sig"


@pytest.mark.parametrize(
    "data, why",
    [
        (b"\x00\x01\x02binary\x00\xff" * 20, "binary data"),
        (b"ok\xff\xfe", "invalid UTF-8 at byte 2"),  # fits a dozen code pages equally well
        ("推动传统产业转型升级。".encode() + b"\xe9" + "加快制造业高端化。".encode(), "invalid UTF-8 at byte 33"),
    ],
)
def test_undecodable_text_is_an_error_naming_the_file(tmp_path, data, why):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(DataError, match=rf"bad\.txt: cannot detect the text encoding \({why}"):
        list(read_documents(path))


def test_encoding_override(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_bytes("\n".join(ZH).encode("gbk"))
    assert one(path, encoding="gbk").paragraphs == ZH
    with pytest.raises(DataError, match=r"doc\.txt: cannot decode as utf-8 at byte \d+"):
        one(path, encoding="utf-8")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        decode_text(b"x", "doc.txt", "klingon")


def test_txt_offsets_index_the_decoded_file(tmp_path):
    raw = (
        "\ufeff标题\r\n\r\n第一段第一行，\r\n第一段第二行。\r\n\r\n"
        "  The price war\r\n  hurt margins.  \r\n\r\n- 2 -\r\n"  # the page number is dropped
    )
    path = tmp_path / "doc.txt"
    path.write_bytes(raw.encode("utf-8"))
    doc = one(path)
    assert doc.paragraphs == ["标题", "第一段第一行，第一段第二行。", "The price war hurt margins."]
    decoded = raw[1:]
    assert doc.text == decoded
    spans = [decoded[a:b] for a, b in doc.spans]
    assert spans == ["标题", "第一段第一行，\r\n第一段第二行。", "The price war\r\n  hurt margins."]
    check_spans(doc)


# --- HTML ----------------------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><meta charset="{charset}"><title>关于推动产业升级的通知</title></head><body>
<nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻中心</a></li>
<li><a href="/open">政务公开</a></li></ul></nav>
<div class="menu"><a href="/map">网站地图</a> | <a href="/contact">联系我们</a></div>
<article><h1>关于推动产业升级的通知</h1>
<p>{p1}</p>
<p>　　{p2}<br>　　{p3}</p>
<table><tr><td>序号</td><td>任务</td></tr><tr><td>1</td><td>推动传统产业改造提升</td></tr></table>
</article>
<footer>版权所有 © 2024 示例网站 主办单位：示例办公厅</footer>
</body></html>"""


@pytest.mark.parametrize("charset", ["utf-8", "gbk"])
def test_html_main_text_without_navigation(tmp_path, charset):
    page = PAGE.format(charset=charset, p1=ZH[1], p2=ZH[2], p3=ZH[4])
    path = tmp_path / "page.html"
    path.write_bytes(page.encode("gb18030" if charset == "gbk" else charset))
    doc = one(path)
    assert doc.paragraphs == ["关于推动产业升级的通知", ZH[1], ZH[2], ZH[4], "序号 | 任务", "1 | 推动传统产业改造提升"]
    joined = "".join(doc.paragraphs)
    for boilerplate in ["首页", "新闻中心", "网站地图", "联系我们", "版权所有"]:
        assert boilerplate not in joined
    check_spans(doc)


def test_short_html_page_keeps_its_text_not_its_menu(tmp_path):
    # trafilatura by default drops main text under 250 characters and falls back to the whole page.
    (tmp_path / "short.htm").write_text(
        "<html><body><nav><ul><li><a href='/'>首页</a></li><li><a href='/n'>新闻</a></li></ul></nav>"
        "<div><p>本页只有一句话。</p></div><footer>版权所有</footer></body></html>",
        encoding="utf-8",
    )
    assert one(tmp_path / "short.htm").paragraphs == ["本页只有一句话。"]
    (tmp_path / "empty.html").write_text("<html><body></body></html>", encoding="utf-8")
    assert one(tmp_path / "empty.html").paragraphs == []
    (tmp_path / "binary.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match=r"binary\.html: not an HTML page"):
        one(tmp_path / "binary.html")


# --- DOCX ----------------------------------------------------------------------------------------------------


def write_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading(ZH[0], level=1)
    d.add_paragraph(ZH[1])
    d.add_paragraph("")
    d.add_paragraph("   ")
    d.add_paragraph("Upgrade manufacturing toward high value.")
    table = d.add_table(rows=2, cols=3)
    table.cell(0, 0).text, table.cell(0, 1).text = "序号", "任务"
    table.cell(0, 1).merge(table.cell(0, 2))
    table.cell(1, 0).text, table.cell(1, 1).text, table.cell(1, 2).text = "1", "推动数字化转型", ""
    d.add_paragraph(ZH[2])
    d.save(str(path))
    return path


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    doc = one(write_docx(tmp_path / "report.docx"))
    assert doc.paragraphs == [
        ZH[0],
        ZH[1],
        "Upgrade manufacturing toward high value.",
        "序号 | 任务",  # the merged cell once
        "1 | 推动数字化转型",  # the empty cell left out
        ZH[2],
    ]
    check_spans(doc)


def test_corrupt_docx_is_a_one_line_error(tmp_path):
    (tmp_path / "bad.docx").write_bytes(b"this is not a zip file at all")
    with pytest.raises(DataError, match=r"bad\.docx: not a valid \.docx \(not a zip package") as e:
        list(read_documents(tmp_path / "bad.docx"))
    assert len(str(e.value).splitlines()) == 1
    import zipfile

    with zipfile.ZipFile(tmp_path / "empty.docx", "w") as z:
        z.writestr("hello.txt", "a zip, but no Word document inside")
    with pytest.raises(DataError, match=r"empty\.docx: not a valid \.docx \("):
        list(read_documents(tmp_path / "empty.docx"))


# --- PDF -----------------------------------------------------------------------------------------------------

WRAP = 16  # characters per line in the test PDF


def write_pdf(path: Path, paragraphs: list[str], per_page: int = 5) -> Path:
    """A PDF with a text layer: paragraphs wrapped every WRAP characters, first lines indented, a running header
    and a page number on each page, ``per_page`` lines a page (so paragraphs run over page breaks)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    lines = []
    for para in paragraphs:
        chunks = [para[i : i + WRAP] for i in range(0, len(para), WRAP)]
        lines += [(24 if i == 0 else 0, chunk) for i, chunk in enumerate(chunks)]
    c = canvas.Canvas(str(path))
    for page, start in enumerate(range(0, len(lines), per_page), 1):
        c.setFont("STSong-Light", 10)
        c.drawString(72, 800, "示例公报 2024年第1期")
        c.setFont("STSong-Light", 14)
        for i, (dx, chunk) in enumerate(lines[start : start + per_page]):
            c.drawString(72 + dx, 760 - 24 * i, chunk)
        c.setFont("STSong-Light", 10)
        c.drawString(290, 40, f"- {page} -")
        c.showPage()
    c.save()
    return path


def test_pdf_wrapped_lines_come_back_as_paragraphs(tmp_path):
    # 16 characters a line, 5 lines a page: ZH[2] and ZH[4] run over page breaks.
    doc = one(write_pdf(tmp_path / "wrapped.pdf", ZH))
    assert doc.paragraphs == ZH
    assert not any("示例公报" in p or "- 2 -" in p for p in doc.paragraphs)  # header and page numbers dropped
    check_spans(doc)


def test_pdf_english_hyphenation_and_headings(tmp_path):
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(tmp_path / "en.pdf"))
    lines = [
        "1. Price competition",
        "The price war hurt the margins of manu-",
        "facturers across the sector, and firms cut",
        "research budgets to survive",
        "2. Industrial upgrading",
        "Firms moved from assembly to advanced manu-",
        "facturing.",
    ]
    for i, line in enumerate(lines):
        c.drawString(72, 760 - 18 * i, line)
    c.save()
    assert one(tmp_path / "en.pdf").paragraphs == [
        "1. Price competition",
        "The price war hurt the margins of manufacturers across the sector, and firms cut research budgets to survive",
        "2. Industrial upgrading",
        "Firms moved from assembly to advanced manufacturing.",
    ]


def test_pdf_without_text_layer_says_ocr(tmp_path):
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(tmp_path / "scan.pdf"))
    c.rect(72, 72, 400, 600, fill=1)  # a page with only a picture, as a scan has
    c.save()
    with pytest.raises(DataError, match=r"scan\.pdf: PDF has no text layer .*OCR it first"):
        list(read_documents(tmp_path / "scan.pdf"))


def test_encrypted_pdf(tmp_path):
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(tmp_path / "locked.pdf"), encrypt="secret")
    c.drawString(72, 700, "Secret text.")
    c.save()
    with pytest.raises(DataError, match=r"locked\.pdf: PDF is encrypted"):
        list(read_documents(tmp_path / "locked.pdf"))
    # Only an owner password (printing forbidden, say): readable without one.
    c = canvas.Canvas(str(tmp_path / "owner.pdf"), encrypt=pdfencrypt.StandardEncryption("", ownerPassword="o"))
    c.drawString(72, 700, "Readable text.")
    c.save()
    assert one(tmp_path / "owner.pdf").paragraphs == ["Readable text."]


@pytest.mark.parametrize("data", [b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage", b"not a pdf"])
def test_corrupt_pdf_is_a_one_line_error(tmp_path, data):
    (tmp_path / "bad.pdf").write_bytes(data)
    with pytest.raises(DataError, match=r"bad\.pdf: ") as e:
        list(read_documents(tmp_path / "bad.pdf"))
    assert len(str(e.value).splitlines()) == 1


def test_running_headers_and_footers_are_dropped():
    body = ["推动产业升级。", "加大研发投入。", "遏制低价竞争。", "建设实验室。", "培育新兴产业。", "推动数字化。"]
    pages = [f"国务院公报\n{body[i]}\n正文{i}\n{body[i + 1]}\n第 {i} 页" for i in range(1, 5)]
    out = drop_running_lines(pages)
    assert out[0] == "加大研发投入。\n正文1\n遏制低价竞争。"
    assert drop_running_lines(pages[:2]) == pages[:2]  # too few pages to tell


# --- folders ---------------------------------------------------------------------------------------------------


def test_corrupt_file_in_a_folder_is_skipped_and_reported(tmp_path):
    (tmp_path / "a.txt").write_text("第一篇。\n", encoding="utf-8")
    (tmp_path / "b.docx").write_bytes(b"PK\x03\x04 truncated zip")
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.7\n%%EOF")
    write_docx(tmp_path / "d.docx")
    (tmp_path / "e.txt").write_bytes("第五篇。\n".encode("gbk"))
    skipped = []
    docs = list(iter_documents([str(tmp_path)], on_error=lambda p, r: skipped.append((p.name, r))))
    assert [Path(d.source).name for d in docs] == ["a.txt", "d.docx", "e.txt"]
    assert docs[-1].paragraphs == ["第五篇。"]
    assert [name for name, _ in skipped] == ["b.docx", "c.pdf"]
    for name, reason in skipped:
        assert reason.startswith(str(tmp_path / name) + ": ") and "\n" not in reason
    with pytest.raises(DataError, match=r"b\.docx"):
        list(iter_documents([str(tmp_path)]))


def test_expand_inputs_takes_the_new_formats(tmp_path):
    for name in ["a.html", "b.htm", "c.docx", "d.PDF", "e.doc", "f.rtf"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in expand_inputs([str(tmp_path)])] == ["a.html", "b.htm", "c.docx", "d.PDF"]
    with pytest.raises(DataError, match="unsupported input type '.doc'"):
        expand_inputs([str(tmp_path / "e.doc")])
