"""Readers of document formats: each turns one file into plain text for segmentation.

A reader returns :class:`Extracted`: the text and whether its lines are hard-wrapped (see ``data.segment``).
Paragraph offsets index that text, so each reader says what it is:

* ``.txt``/``.md``: the file decoded (:func:`decode_text`), a leading byte-order mark removed, line breaks
  as in the file;
* ``.html``/``.htm``: the main text found by trafilatura (menus, navigation, footers left out), one line per
  paragraph, heading, list item or ``<br>``-separated line, one line per table row with cells joined by ``|``;
* ``.docx``: the body's paragraphs, one line each (a manual line break starts a new line), and each table row
  as one line with cells joined by `` | ``; empty paragraphs dropped; headers and footers left out;
* ``.pdf``: each page's text layer as pypdf extracts it, lines repeated at the top or bottom of most pages
  (running headers, footers) removed, each page's leading blank lines and trailing whitespace removed, pages
  joined by a line break (a paragraph may go on over a page break).

A file that cannot be read raises :class:`DataError` with one line ``path: reason``, never a library's traceback.

What a document may expand to is bounded (:data:`MAX_TEXT_CHARS` of text; :data:`MAX_FILE_BYTES` for a
file read whole; :data:`MAX_UNZIPPED_BYTES` inside a .docx, checked before anything is unpacked), so a
small file that unpacks to gigabytes is skipped with its reason instead of taking the machine's memory.
"""

from __future__ import annotations

import codecs
import logging
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from policytheme.data.records import DataError

MAX_TEXT_CHARS = 20_000_000  # about 10,000 pages: one document's text, or one table row's
MAX_FILE_BYTES = 256 * 2**20  # a text, HTML or PDF file
MAX_UNZIPPED_BYTES = 64 * 2**20  # the parts of a .docx, unpacked (a 500-page report: a few MiB)
MAX_ZIP_RATIO = 100  # unpacked / packed of a .docx over 16 MiB unpacked (real ones: 3x-20x)

TEXT_SUFFIXES = {".txt", ".md"}
HTML_SUFFIXES = {".html", ".htm"}
FORMAT_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".docx", ".pdf"}

_BOMS = [  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
# Decoded with their supersets: GB18030 contains GBK and GB2312.
_SUPERSET = {"gbk": "gb18030", "gb2312": "gb18030"}  # codecs.lookup names (cp936 is gbk, euc-cn gb2312)
_CHINESE = {"gb18030", "big5", "big5hkscs", "cp950"}
_CHINESE_PUNCTUATION = set("。，、；：？！“”‘’（）《》〈〉【】—…「」『』·")
# UTF-16/32 are trusted only with a byte-order mark; guessed from bytes they fit almost anything.
_NO_GUESS = ["utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be", "utf_7"]


# pypdf logs what it repairs in a damaged file ("EOF marker not found"). Without logging set up, Python would
# print that to stderr with no file name; the reader's DataError says it better. Configured logging still gets it.
logging.getLogger("pypdf").addHandler(logging.NullHandler())


class Extracted(NamedTuple):
    text: str
    wrapped: bool | None  # True: lines hard-wrapped (PDF); None: let segmentation decide


def extract(path: Path, encoding: str | None = None) -> Extracted:
    """The text of one document file, by its suffix. ``encoding`` overrides detection for text and HTML."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        out = read_text(path, encoding)
    elif suffix in HTML_SUFFIXES:
        out = read_html(path, encoding)
    elif suffix == ".docx":
        out = read_docx(path)
    elif suffix == ".pdf":
        out = read_pdf(path)
    else:
        raise DataError([f"{path}: unsupported document type {suffix!r}"])
    _check_chars(path, len(out.text))
    return out


def _check_chars(path: Path, n: int) -> None:
    if n > MAX_TEXT_CHARS:
        raise DataError([f"{path}: expands to more than {MAX_TEXT_CHARS:,} characters of text; skipped (split it)"])


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise DataError([f"{path}: cannot read ({e.strerror or type(e).__name__})"]) from None
    if size > MAX_FILE_BYTES:
        raise DataError([f"{path}: {size / 2**20:,.0f} MiB, over the {MAX_FILE_BYTES / 2**20:,.0f} MiB limit; skipped"])


def _read_bytes(path: Path) -> bytes:
    _check_size(path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError([f"{path}: cannot read ({e.strerror or type(e).__name__})"]) from None


# --- text ---------------------------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str | None:
    """The encoding of ``data``, or None when it cannot be told confidently.

    A byte-order mark decides (UTF-8, UTF-16, UTF-32); then strict UTF-8; then charset-normalizer. Among its
    equally good guesses GB18030 and Big5 win (short Chinese texts also fit Korean code pages), the one that
    decodes to more frequent Chinese characters first. Other guesses that tie and decode differently (a few
    accented bytes fit a dozen code pages) are not confident. NUL bytes without a byte-order mark mean binary.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_exclusion=_NO_GUESS))
    if not matches:
        return None
    best = matches[0]
    tied = [m for m in matches if m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.05]
    names = list(dict.fromkeys(_SUPERSET.get(m.encoding, m.encoding) for m in tied))
    sample = data[:4096]
    chinese = [n for n in names if n in _CHINESE]
    if chinese:  # a few characters can be both GB18030 and Big5: the right one decodes to frequent characters
        return max(chinese, key=lambda n: _common_chinese_share(sample.decode(n, errors="ignore")))
    if len({sample.decode(n, errors="ignore") for n in names}) > 1:
        return None
    return names[0]


def _common_chinese_share(text: str) -> float:
    """Share of the non-ASCII characters that are frequent Chinese characters or Chinese punctuation.

    Frequent: level 1 of GB2312 (3,755 simplified characters) or of Big5 (5,401 traditional characters).
    """
    chars = [c for c in text if ord(c) > 127]
    return sum(map(_is_common, chars)) / len(chars) if chars else 0.0


def _is_common(c: str) -> bool:
    if c in _CHINESE_PUNCTUATION:
        return True
    for codec, first, last in (("gb2312", 0xB0, 0xD7), ("big5", 0xA4, 0xC6)):
        try:
            b = c.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(b) == 2 and first <= b[0] <= last:
            return True
    return False


def decode_text(data: bytes, where: str, encoding: str | None = None) -> str:
    """``data`` decoded (by ``encoding``, else detected), a leading byte-order mark removed; DataError if not."""
    name = encoding or detect_encoding(data)
    if name is None:
        hint = "binary data?" if b"\x00" in data else f"invalid UTF-8 at byte {_utf8_error(data)}; convert it to UTF-8"
        raise DataError([f"{where}: cannot detect the text encoding ({hint})"])
    name = _codec(name, where)
    try:
        text = data.decode(name)
    except UnicodeDecodeError as e:
        raise DataError([f"{where}: cannot decode as {name} at byte {e.start}"]) from None
    return text[1:] if text.startswith("\ufeff") else text


def _utf8_error(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return -1


def _codec(name: str, where: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise DataError([f"{where}: unknown encoding {name!r}"]) from None
    return _SUPERSET.get(canonical, canonical)


def read_text(path: Path, encoding: str | None = None) -> Extracted:
    """A ``.txt``/``.md`` file: decoded, segmentation guesses whether it is hard-wrapped."""
    return Extracted(decode_text(_read_bytes(path), str(path), encoding), None)


# --- HTML ---------------------------------------------------------------------------------------------------

_HTML_BLOCKS = {"main", "p", "head", "item", "list", "quote", "table", "code", "div", "lb"}
_trafilatura_config = None


def _config():
    """trafilatura's settings, except that main text shorter than 250 characters is kept.

    By default trafilatura discards a short main text and falls back to the whole page's text, menus
    included. Its own fallbacks (jusText, a baseline) still run when the main-text extractor finds nothing.
    """
    global _trafilatura_config
    if _trafilatura_config is None:
        from trafilatura.settings import use_config

        _trafilatura_config = use_config()
        _trafilatura_config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "0")
    return _trafilatura_config


def read_html(path: Path, encoding: str | None = None) -> Extracted:
    """An HTML page's main text, one line per block; a page where nothing is found has no text.

    Bytes go to trafilatura, which reads the page's declared charset, unless ``encoding`` is given.
    """
    import trafilatura
    from lxml import etree

    data = _read_bytes(path)
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError([f"{path}: not an HTML page (binary data)"])
    source = decode_text(data, str(path), encoding) if encoding else data
    try:
        xml = trafilatura.extract(
            source, output_format="xml", include_comments=False, include_tables=True, config=_config()
        )
        root = etree.fromstring(xml) if xml else None
    except Exception as e:  # noqa: BLE001 - any parser failure is this file's problem
        raise DataError([f"{path}: cannot read HTML ({_reason(e)})"]) from None
    if root is None:
        depth = _html_depth(source if isinstance(source, str) else data.decode("utf-8", "replace"))
        if depth > MAX_HTML_DEPTH:  # the parser gives up past this depth, and the page would look empty
            raise DataError([f"{path}: HTML nested {depth:,} elements deep (readable up to {MAX_HTML_DEPTH})"])
        return Extracted("", None)
    out: list[str] = []
    for main in root.iter("main"):
        _render(main, out)
    lines = (ln.strip() for ln in "".join(out).split("\n"))
    return Extracted("\n".join(ln for ln in lines if ln), None)


MAX_HTML_DEPTH = 255  # libxml2's default limit on element depth


def _html_depth(text: str) -> int:
    """The deepest nesting of elements in an HTML page (void elements do not nest)."""
    from html.parser import HTMLParser

    void = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    class Depth(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth = self.deepest = 0

        def handle_starttag(self, tag, attrs) -> None:
            if tag not in void:
                self.depth += 1
                self.deepest = max(self.deepest, self.depth)

        def handle_endtag(self, tag) -> None:
            if tag not in void:
                self.depth = max(0, self.depth - 1)

    parser = Depth()
    parser.feed(text)
    return parser.deepest


def _render(el, out: list[str]) -> None:
    """Text of trafilatura's XML with a line break around each block element and ``<lb/>``, a row per line."""
    if el.tag == "row":
        cells = (" ".join("".join(c.itertext()).split()) for c in el.iter("cell"))
        out.append("\n" + " | ".join(c for c in cells if c) + "\n")
    elif el.tag == "lb":
        out.append("\n")
    else:
        block = el.tag in _HTML_BLOCKS
        out.append("\n" if block else "")
        out.append((el.text or "").replace("\n", " "))
        for child in el:
            _render(child, out)
        out.append("\n" if block else "")
    out.append((el.tail or "").replace("\n", " "))


# --- DOCX ---------------------------------------------------------------------------------------------------


def read_docx(path: Path) -> Extracted:
    """A Word document's body: paragraphs and table rows in document order, one per line."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        with zipfile.ZipFile(path) as z:  # before unpacking: what would it unpack to?
            unpacked = sum(i.file_size for i in z.infolist())
        ratio = unpacked / max(1, path.stat().st_size)
        if unpacked > MAX_UNZIPPED_BYTES or (unpacked > 16 * 2**20 and ratio > MAX_ZIP_RATIO):
            raise DataError(
                [
                    f"{path}: unpacks to {unpacked / 2**20:,.0f} MiB ({ratio:,.0f}x its size; limits "
                    f"{MAX_UNZIPPED_BYTES / 2**20:,.0f} MiB, {MAX_ZIP_RATIO}x); skipped"
                ]
            )
        document = docx.Document(str(path))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_rows(block))
            else:
                lines.extend(block.text.split("\n"))
    except DataError:
        raise
    except (PackageNotFoundError, zipfile.BadZipFile):
        raise DataError([f"{path}: not a valid .docx (not a zip package; an old .doc renamed?)"]) from None
    except Exception as e:  # noqa: BLE001 - a broken package fails in many ways, each is this file's problem
        raise DataError([f"{path}: not a valid .docx ({_reason(e)})"]) from None
    return Extracted("\n".join(s for s in (ln.strip() for ln in lines) if s), None)


def _table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:  # a merged cell comes back once per grid column it spans
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


# --- PDF ----------------------------------------------------------------------------------------------------

_UNREADABLE = re.compile(r"[\x00-\x08\x0e-\x1f\ue000-\uf8ff\ufffd]")
_LEADING_BLANK_LINES = re.compile(r"\A(?:[^\S\n]*\n)+")  # not the first text line's indentation


def read_pdf(path: Path) -> Extracted:
    """A PDF's text layer, page by page, without running headers and footers; its lines are wrapped.

    A PDF without a text layer (a scan) or whose fonts map to no readable characters is an error: OCR it first.
    """
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    _check_size(path)
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DataError([f"{path}: PDF is encrypted (a password is needed)"])
        pages, chars = [], 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            _check_chars(path, chars)
    except DataError:
        raise
    except FileNotDecryptedError:
        raise DataError([f"{path}: PDF is encrypted (a password is needed)"]) from None
    except Exception as e:  # noqa: BLE001 - a corrupt PDF fails in many ways, each is this file's problem
        raise DataError([f"{path}: not a valid PDF ({_reason(e)})"]) from None
    text = "\n".join(_LEADING_BLANK_LINES.sub("", p.rstrip()) for p in drop_running_lines(pages))
    chars = len(text) - text.count("\n") - text.count(" ")
    if not text.strip() and any(p.strip() for p in pages):
        raise DataError([f"{path}: PDF's only text repeats on most pages (running headers, page numbers)"])
    if not text.strip():
        raise DataError([f"{path}: PDF has no text layer (a scan?); OCR it first"])
    if len(_UNREADABLE.findall(text)) > 0.3 * chars:
        raise DataError([f"{path}: PDF text layer is not readable text (fonts without a Unicode map); OCR it first"])
    return Extracted(text, True)


def drop_running_lines(pages: list[str], min_pages: int = 3) -> list[str]:
    """Pages without the lines repeated among the first or last two lines of most pages (running headers).

    Digits are ignored when comparing, so "第 3 页" and "第 4 页" count as one line. Needs ``min_pages`` pages.
    """
    if len(pages) < min_pages:
        return pages
    split = [p.split("\n") for p in pages]
    edges = [_edge_lines(lines) for lines in split]
    counts: Counter[str] = Counter()
    for lines, edge in zip(split, edges):
        counts.update({_running_key(lines[i]) for i in edge})
    running = {k for k, n in counts.items() if k and n >= max(min_pages, 0.6 * len(pages))}
    out = []
    for lines, edge in zip(split, edges):
        drop = {i for i in edge if _running_key(lines[i]) in running}
        out.append("\n".join(ln for i, ln in enumerate(lines) if i not in drop))
    return out


def _edge_lines(lines: list[str]) -> list[int]:
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    return sorted(set(filled[:2] + filled[-2:]))


def _running_key(line: str) -> str:
    return re.sub(r"\d+", "#", "".join(line.split()))


def _reason(e: Exception) -> str:
    """One line naming a library's exception."""
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return f"{type(e).__name__}: {first}" if first else type(e).__name__
