"""Paragraph segmentation of extracted text, with each paragraph's character span in that text.

Three layouts occur in policy documents:

* paragraphs separated by blank lines; a paragraph may span several lines, which are joined (unless most of
  them end a sentence: then blank lines only set off a title or sections, and each line is a paragraph);
* no blank line at all, one paragraph per line (the usual layout of Chinese documents);
* hard-wrapped lines (PDF text layers, text converted from PDF): a line wrapped mid-sentence is joined with
  the next one unless it ends a paragraph (:func:`ends_paragraph`).

Blank lines always end a paragraph. PDF readers say their text is wrapped; for other text
:func:`looks_wrapped` decides. Page furniture (lines that are only a page number: ``3``, ``- 3 -``,
``第3页``) is dropped. Each heuristic is a small function so it can be tested and tuned on its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# Joined without a space: CJK ideographs, kana, CJK and full-width punctuation (not Hangul: Korean uses spaces).
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f]")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_INVISIBLE = "\ufeff\u200b"  # stripped at line edges like whitespace (a BOM, zero-width spaces)
# A sentence ends with one of these, optionally followed by closing quotes or brackets. A closing quote alone
# does not end a sentence: 实施“十四五”\n规划 wraps right after one.
_SENTENCE_END = re.compile(r"[。！？；…!?.][\"'”’」』）)\]]*$")
_MARKER = re.compile(
    r"""^(?:
      [一二三四五六七八九十百零〇]+[、.．]                       # 一、
    | [（(][一二三四五六七八九十百零〇]+[）)]                   # （一）
    | [（(]\d{1,3}[）)]                                       # （1）
    | \d{1,3}(?:[、．)）]|\.(?!\d))                            # 1、 1． 1) 1. (not 1.5)
    | [①-⑳]
    | 第[一二三四五六七八九十百千零〇\d]+[章节条部分篇编款]     # 第一章 第3条
    | (?:chapter|article|section|part)\s+[\dIVXLC]+\b            # Article 3
    | \(?[a-z]\)\s                                            # (a) a)
    | [•●▪■◆◇○·\-*]\s                                         # bullets
    | \#{1,6}\s                                               # Markdown heading
    | \|                                                     # Markdown table row
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_PAGE_FURNITURE = re.compile(
    r"""^(?:
      [-—–－~～\s]*\d{1,4}[-—–－~～\s]*                         # 3   - 3 -   — 3 —
    | 第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?      # 第3页 第3页共10页
    | (?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?         # Page 3 of 10
    | \d{1,4}\s*/\s*\d{1,4}                                    # 3/10
    )$""",
    re.VERBOSE | re.IGNORECASE,
)

SHORT_LINE = 0.75  # a wrapped line shorter than this share of the typical full line ends its paragraph
FULL_LINE = 0.85  # looks_wrapped: a line at least this share of the typical full line reaches the margin
WRAPPED_SHARE = 0.3  # looks_wrapped: share of line breaks that fall mid-sentence at the margin
FULL_QUANTILE = 0.8  # the typical full line: this quantile of the lines' widths


@dataclass(frozen=True)
class Line:
    """A non-blank line: ``text[start:end]`` is its content without edge whitespace; ``indent`` its lead width."""

    start: int
    end: int
    indent: int


def display_width(s: str) -> int:
    """Width of ``s`` in columns: 2 for wide (CJK, full-width) characters, 1 for others."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def is_page_furniture(line: str) -> bool:
    """True for a line that is only a page number (``3``, ``- 3 -``, ``第3页``, ``Page 3 of 10``)."""
    return bool(_PAGE_FURNITURE.match(line.strip()))


def ends_sentence(line: str) -> bool:
    """True if the line ends with sentence-final punctuation (。！？；… or . ! ?), closing quotes allowed after."""
    return bool(_SENTENCE_END.search(line))


def starts_block(line: str) -> bool:
    """True if the line starts a heading, list item or table row (一、 （一） 1. ① 第一章 Article 3, bullets, |)."""
    return bool(_MARKER.match(line))


def ends_clause(line: str) -> bool:
    """True if the line ends a sentence or a clause that announces a list (：or :)."""
    return ends_sentence(line) or line.endswith(("：", ":"))


def ends_paragraph(
    line: str, nxt: str, line_indent: int, next_indent: int, full: float, base_indent: int | None = None
) -> bool:
    """In wrapped text: does ``line`` end its paragraph, given the line after it and the typical full width?

    Yes if the next line is indented (deeper than this one, or than most lines: ``base_indent``, see
    :func:`base_indent`), if this line is clearly shorter than a full line, if it ends a sentence, or if it
    ends a clause and the next line starts with a heading or list marker (a marker alone is not enough: a
    wrapped line may start with 一、 by chance). Otherwise the line was wrapped mid-sentence. In a text that
    indents the first lines of paragraphs, a full line ending a sentence before an unindented line is a wrap
    that fell on a sentence end: the paragraph goes on.
    """
    if next_indent > line_indent or (base_indent is not None and next_indent > base_indent):
        return True
    width = display_width(line)
    if width < SHORT_LINE * full:
        return True
    if starts_block(nxt) and ends_clause(line):
        return True
    return ends_sentence(line) and not (base_indent is not None and width >= FULL_LINE * full)


def base_indent(blocks: list[list[Line]]) -> int | None:
    """The indentation of most lines, if the text marks paragraph starts by indenting them deeper; else None."""
    pairs = [(a, b) for block in blocks for a, b in zip(block, block[1:])]
    deeper = sum(1 for a, b in pairs if b.indent > a.indent)
    if deeper < max(2, 0.02 * len(pairs)):
        return None
    return Counter(ln.indent for block in blocks for ln in block).most_common(1)[0][0]


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one string: no space between CJK characters, one space between words.

    An English word hyphenated across the break (``manu-`` / ``facturers``) is rejoined without the hyphen.
    """
    joined = ""
    for ln in lines:
        if not joined:
            joined = ln
        elif re.search(r"[A-Za-z]-$", joined) and ln[:1].islower():
            joined = joined[:-1] + ln
        elif _CJK.match(joined[-1]) or _CJK.match(ln[0]):
            joined += ln
        else:
            joined += " " + ln
    return joined


def typical_width(widths: list[int]) -> float:
    """The width of a full line: a high quantile of the widths, so short last lines and headings do not count."""
    if not widths:
        return 0.0
    ordered = sorted(widths)
    return float(ordered[min(len(ordered) - 1, int(FULL_QUANTILE * len(ordered)))])


def looks_wrapped(blocks: list[list[str]], full: float) -> bool:
    """Guess whether text is hard-wrapped: many line breaks fall mid-sentence at a full line.

    ``blocks`` are runs of consecutive non-blank lines. One-paragraph-per-line text breaks after sentences or
    after short headings, so it is not taken for wrapped text.
    """
    pairs = [(a, b) for block in blocks for a, b in zip(block, block[1:])]
    if len(pairs) < 3:
        return False
    mid = sum(
        1 for a, b in pairs if display_width(a) >= FULL_LINE * full and not ends_sentence(a) and not starts_block(b)
    )
    return mid >= WRAPPED_SHARE * len(pairs)


def one_per_line(lines: list[str]) -> bool:
    """Whether lines between blank lines hold a paragraph each rather than one paragraph: most end a sentence.

    A text may put blank lines around its title or sections only, and one paragraph per line in between.
    """
    inner = lines[:-1]
    return bool(inner) and sum(map(ends_clause, inner)) >= 0.5 * len(inner)


def split_lines(text: str) -> list[Line | None]:
    """The lines of ``text`` with their content's offsets; ``None`` for a blank line. Page furniture is left out."""
    out: list[Line | None] = []
    pos = 0
    for m in _LINE_BREAK.finditer(text):
        out.append(_line(text, pos, m.start()))
        pos = m.end()
    out.append(_line(text, pos, len(text)))
    return [ln for ln in out if ln is None or not is_page_furniture(text[ln.start : ln.end])]


def _line(text: str, a: int, b: int) -> Line | None:
    start, end = a, b
    while start < end and (text[start].isspace() or text[start] in _INVISIBLE):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _INVISIBLE):
        end -= 1
    if start == end:
        return None
    return Line(start, end, display_width(text[a:start].replace("\t", "    ")))


def segment(text: str, wrapped: bool | None = None) -> list[tuple[str, int, int]]:
    """Paragraphs of ``text`` as ``(paragraph, start, end)``.

    ``text[start:end]`` runs from the paragraph's first to its last non-blank character; the paragraph is its
    lines (page-number lines left out) joined by :func:`join_lines`. ``wrapped`` says the lines are hard-wrapped
    (True: PDF), are not (False) or is guessed (None).
    """
    blocks: list[list[Line]] = [[]]
    for ln in split_lines(text):
        if ln is None:
            if blocks[-1]:
                blocks.append([])
        else:
            blocks[-1].append(ln)
    blocks = [b for b in blocks if b]
    if not blocks:
        return []
    content = [[text[ln.start : ln.end] for ln in b] for b in blocks]
    full = 0.0
    if wrapped or (wrapped is None and sum(len(b) - 1 for b in blocks) >= 3):
        full = typical_width([display_width(s) for strs in content for s in strs])
    if wrapped is None:
        wrapped = looks_wrapped(content, full)
    if wrapped:
        base = base_indent(blocks)
        groups = []
        for block, strs in zip(blocks, content):
            start = 0
            for i in range(len(block) - 1):
                if ends_paragraph(strs[i], strs[i + 1], block[i].indent, block[i + 1].indent, full, base):
                    groups.append((block[start : i + 1], strs[start : i + 1]))
                    start = i + 1
            groups.append((block[start:], strs[start:]))
    elif len(blocks) > 1:
        groups = []
        for block, strs in zip(blocks, content):
            if one_per_line(strs):
                groups.extend(([ln], [s]) for ln, s in zip(block, strs))
            else:
                groups.append((block, strs))
    else:
        groups = [([ln], [s]) for ln, s in zip(blocks[0], content[0])]
    return [(join_lines(strs), lines[0].start, lines[-1].end) for lines, strs in groups]


def split_paragraphs(text: str, wrapped: bool | None = None) -> list[str]:
    """The paragraphs of ``text`` (see :func:`segment`), without their offsets."""
    return [p for p, _, _ in segment(text, wrapped)]


_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def strip_invisible(text: str) -> str:
    """``text`` without zero-width characters (zero-width space, joiners, word joiner, byte-order mark, soft
    hyphen), which split a phrase for a model without changing what a reader sees: 研\u200b发投入 scores as
    研发投入. Applied to what is scored only, never to the text written out. NFKC is not applied: on the
    shipped test splits it changes 12 of 1,814 paragraphs' labels, while this changes none (README)."""
    return _ZERO_WIDTH.sub("", text) if _ZERO_WIDTH.search(text) else text
