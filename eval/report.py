"""The comparison as one self-contained HTML file: tables, figures (embedded PNG) and error analysis.

Everything comes from the files ``compare`` collected (metrics, predictions, curve.json, cv.json); no model
runs. The page has no script and loads nothing from elsewhere, so it opens the same offline, attached to
an e-mail or logged to MLflow.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from pathlib import Path

from policytheme.eval.leaderboard import SAME, Board, Cell, legend, table
from policytheme.eval.plots import Colors, curve_figure, cv_figure, pr_figure, reliability_figure, scores_figure
from policytheme.eval.tables import Collection, curve_table, cv_table
from policytheme.files import write_file

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
       sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-top: 12px; border-top: 2px solid #e4e7ec; }
h3 { font-size: 15px; margin: 22px 0 6px; }
.meta, .legend, .note { color: #5b6473; font-size: 12.5px; }
.legend { margin: 6px 0 14px; max-width: 1100px; }
nav a { margin-right: 14px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0; font-size: 12.5px; }
th, td { border-bottom: 1px solid #e4e7ec; padding: 4px 7px; text-align: right; white-space: nowrap; }
th { background: #eef1f5; position: sticky; top: 0; font-weight: 600; }
td:first-child, th:first-child, td.text, th.text { text-align: left; }
td.text { white-space: normal; max-width: 720px; }
tr:nth-child(even) td { background: #fafbfc; }
tr.best td { background: #eaf6ec; font-weight: 600; }
td { font-variant-numeric: tabular-nums; }
.same { color: #8a94a6; }
small.ci { color: #6b7485; font-size: 11px; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #5b6473; font-size: 12.5px; margin-top: 2px; }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
.ngrams td.text { min-width: 300px; max-width: 380px; vertical-align: top; }
.ngram { display: inline-block; margin: 1px 6px 1px 0; }
.ngram small { color: #8a94a6; margin-left: 2px; font-size: 10.5px; }
th { white-space: normal; vertical-align: bottom; }
.howto { background: #f3f6fb; border-left: 4px solid #4a78c2; padding: 8px 14px; margin: 12px 0; font-size: 13px; }
"""

HOW_TO_READ = (
    "Each data set gets one leaderboard, best macro-F1 first. Every other run is tested against the best "
    f"on the same paragraphs; <b>{SAME}</b> marks a figure that is <i>not</i> significantly different from the "
    "best run's, so a higher number marked ≈ is no evidence of a better model. Intervals are 95% bootstrap "
    "intervals over paragraphs; with few paragraphs of a theme or a language they are wide. Learning curves "
    "show whether more labeled paragraphs still raise the score; cross-validation shows how much one split's "
    "figure can move."
)


def _img(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(header: list[str], rows: list[list], best_first: bool = False, text_cols: tuple = ()) -> str:
    """An HTML table of strings or leaderboard Cells (an interval goes on a second, smaller line)."""

    def marks(text: str) -> str:
        return html.escape(text).replace(SAME, f'<span class="same">{SAME}</span>')

    def cell(tag: str, i: int, value) -> str:
        cls = ' class="text"' if i in text_cols else ""
        if tag == "th":
            body = html.escape(value).replace("_", "_<wbr>")
        elif isinstance(value, Cell):
            body = html.escape(value.value) + (f" {marks(value.marks)}" if value.marks else "")
            body += f'<br><small class="ci">{html.escape(value.interval)}</small>' if value.interval else ""
        else:
            body = marks(str(value))
        return f"<{tag}{cls}>{body}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        f"<tr{' class=best' if best_first and r == 0 else ''}>" + "".join(cell("td", i, v) for i, v in enumerate(row))
        for r, row in enumerate(rows)
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def _board_section(board: Board, colors: Colors) -> str:
    d = board.runs[0].get("data", {})
    langs = ", ".join(f"{lang} {m['n']}" for lang, m in board.runs[0].get("per_language", {}).items())
    sha = str(d.get("sha256"))[:12]
    meta = f"{d.get('paragraphs', '?')} paragraphs ({langs}); file {d.get('path', '?')}, sha256 {sha}"
    return "".join(
        [
            f'<h2 id="{_anchor(board.name)}">Leaderboard: {html.escape(board.name)}</h2>',
            f'<p class="meta">{html.escape(meta)}</p>',
            *_leaderboard_tables(board),
            f'<p class="legend">{html.escape(legend(board)).replace(SAME, f"<b>{SAME}</b>")}</p>',
            _img(
                scores_figure(board, colors),
                f"F1 with intervals on {board.name}",
                "F1 with 95% intervals, overall, per theme and per language. Hollow markers: not significantly "
                "different from the best run (dashed line).",
            ),
            _img(
                pr_figure(board, colors),
                f"precision-recall curves on {board.name}",
                "Precision-recall curves per theme (AP = average precision); the dot is where the run's tuned "
                "threshold puts it.",
            ),
            _img(
                reliability_figure(board, colors),
                f"reliability diagrams on {board.name}",
                "Reliability diagrams: of the paragraphs a run scores about x, the share that carries the theme. "
                "On the diagonal a score is a probability; ECE is the weighted mean distance from it.",
            ),
        ]
    )


def _leaderboard_tables(board: Board) -> list[str]:
    """The leaderboard as two tables that fit a page: scores and cost, then macro-F1 per language."""
    header, rows = table(board)
    lang_cols = [i for i, h in enumerate(header) if h.startswith("macro-F1 ") and h[9:] in board.langs]
    same_names = all(m.get("run") == m.get("model") for m in board.runs)  # the model column would repeat the run
    main = [i for i in range(len(header)) if i not in lang_cols and not (same_names and header[i] == "model")]
    n = board.runs[0].get("per_language", {})
    out = [_table([header[i] for i in main], [[r[i] for i in main] for r in rows], best_first=True)]
    if lang_cols:
        lang_header = ["run"] + [f"{header[i][9:]} ({n.get(header[i][9:], {}).get('n', '?')})" for i in lang_cols]
        out.append('<p class="note">Macro-F1 per language (paragraphs in brackets):</p>')
        out.append(_table(lang_header, [[r[0]] + [r[i] for i in lang_cols] for r in rows], best_first=True))
    return out


def _short_langs(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """``macro-F1 zh`` -> ``zh`` in a table's header, so tables with many languages fit the page."""
    return [h[9:] if h.startswith("macro-F1 ") and len(h) == 11 else h for h in header], rows


def _lang_note() -> str:
    return '<p class="note">Columns named by a language code hold the macro-F1 on that language.</p>'


def _errors_section(boards: list[Board]) -> str:
    parts = ['<h2 id="errors">Error analysis</h2>']
    parts.append(
        '<p class="note">Per theme, the false positives the run scored highest and the false negatives it scored '
        "lowest: where to look first for a codebook rule, a labeling slip or a blind spot.</p>"
    )
    header = ["", "score", "id", "lang", "gold labels", "text"]
    for board in boards:
        parts.append(f"<h3>{html.escape(board.name)}</h3>")
        for i, m in enumerate(board.runs):
            errors = m.get("errors")
            if not errors:
                continue
            blocks = []
            for lab, e in errors.items():
                rows = [
                    [kind, f"{x['score']:.3f}", x["id"], x.get("lang") or "", ", ".join(x.get("labels", [])) or "—"]
                    + [x.get("text", "")]
                    for kind, key in (("false +", "false_positives"), ("false −", "false_negatives"))
                    for x in e[key]
                ]
                counts = f"{e['n_false_positives']} false positives, {e['n_false_negatives']} false negatives"
                body = _table(header, rows, text_cols=(4, 5)) if rows else '<p class="note">no errors</p>'
                blocks.append(f"<h4>{html.escape(lab)} <span class='note'>({counts})</span></h4>{body}")
            opened = " open" if i == 0 else ""
            parts.append(
                f"<details{opened}><summary>{html.escape(m.get('run', '?'))}</summary>{''.join(blocks)}</details>"
            )
    return "".join(parts)


def _ngrams_section(boards: list[Board]) -> str:
    seen, parts = set(), []
    for board in boards:
        for m in board.runs:
            top, name = m.get("top_ngrams"), m.get("run", "?")
            if not top or name in seen:
                continue
            seen.add(name)
            cells = "".join(f"<td class='text'>{' '.join(_ngram(e) for e in top[lab]) or '—'}</td>" for lab in top)
            parts.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
            labels = list(top)
    if not parts:
        return ""
    head = "".join(f"<th class='text'>{html.escape(lab)}</th>" for lab in labels)
    intro = (
        '<p class="note">Per theme, the n-grams with the largest weights toward it, strongest first: '
        "<b>bold</b> for word n-grams, plain for character n-grams (· is a space), the weight in grey. Weights "
        "rank features within one model only.</p>"
    )
    table_html = f'<div class="scroll"><table class="ngrams"><thead><tr><th>run</th>{head}</tr></thead>'
    return (
        '<h2 id="ngrams">What the linear baselines weigh</h2>' + intro + table_html + "".join(parts) + "</table></div>"
    )


def _ngram(entry) -> str:
    feature, weight = entry
    kind, _, term = str(feature).partition("__")
    term = html.escape(term.replace(" ", "·"))
    term = f"<b>{term}</b>" if kind == "word" else f"<i>[{term} cues]</i>" if kind == "cues" else term
    return f'<span class="ngram">{term}<small>{weight:.2f}</small></span>'


def render(col: Collection, boards: list[Board], title: str = "policytheme: model comparison") -> str:
    """The whole report as one HTML string."""
    colors = Colors()
    for board in boards:
        for m in board.runs:
            colors(m.get("run", "?"))
    nav = [f'<a href="#{_anchor(b.name)}">{html.escape(b.name)}</a>' for b in boards]
    body = [_board_section(b, colors) for b in boards]
    if col.curves:
        nav.append('<a href="#curves">learning curves</a>')
        body.append(
            '<h2 id="curves">Learning curves</h2>'
            + _img(
                curve_figure(col.curves, colors),
                "learning curves",
                "Macro-F1 on the test split after training on growing shares of the training documents: mean over "
                "seeds, band ± one standard deviation. A curve still rising at the right end says more labels pay.",
            )
            + _lang_note()
            + _table(*_short_langs(*curve_table(col.curves)))
        )
    if col.cv:
        nav.append('<a href="#cv">cross-validation</a>')
        body.append(
            '<h2 id="cv">Cross-validation</h2>'
            + _img(
                cv_figure(col.cv, colors),
                "cross-validation",
                "Macro-F1 of each fold (folds are whole documents); bars: mean ± one standard deviation.",
            )
            + _lang_note()
            + _table(*_short_langs(*cv_table(col.cv)))
        )
    if any(m.get("errors") for b in boards for m in b.runs):
        nav.append('<a href="#errors">errors</a>')
        body.append(_errors_section(boards))
    ngrams = _ngrams_section(boards)
    if ngrams:
        nav.append('<a href="#ngrams">n-grams</a>')
        body.append(ngrams)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body><main><h1>{html.escape(title)}</h1>"
        f'<p class="meta">Generated {created} by policytheme compare.</p><nav>{" ".join(nav)}</nav>'
        f'<div class="howto">{HOW_TO_READ}</div>{"".join(body)}</main></body></html>\n'
    )


def write_report(col: Collection, boards: list[Board], out: str | Path, title: str = "policytheme: model comparison"):
    """Write the report atomically to ``out``."""
    write_file(out, render(col, boards, title))
