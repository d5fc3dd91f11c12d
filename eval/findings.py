"""The charts and the HTML page of ``summarize``: corrected theme shares as a researcher would show them.

- shares over years, one line per theme with its 95% interval as a band (when a group column is a year;
  one panel per value of the other group columns);
- groups against themes as a heat map of the corrected share;
- corrected against counted, side by side, per theme, with the corrected share's interval.

An interval that is the whole [0, 1] (rates too uncertain, said in the table's note) is not drawn.

Each chart is a function that draws a matplotlib figure: the page embeds it as PNG, ``--plot`` writes it as
PNG or SVG. Like the report (eval/report.py), the page is one file with no script and nothing fetched.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from policytheme.eval.plots import DPI, STYLE, Colors, plt
from policytheme.eval.report import CSS, _img
from policytheme.files import write_file

MAX_GROUPS = 40  # bars and heat-map rows beyond this are the largest groups only
MAX_PANELS = 12


def _label(row: pd.Series, cols: list[str]) -> str:
    return " · ".join(str(row[c]) for c in cols) if cols else "all paragraphs"


def _bounds(d: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """low and high to draw: none where the interval is the whole range (rates too uncertain; the table says)."""
    whole = d["note"].str.startswith("interval spans").to_numpy()
    low, high = d["low"].to_numpy(dtype=float).copy(), d["high"].to_numpy(dtype=float).copy()
    low[whole], high[whole] = np.nan, np.nan
    return low, high


def _year_column(table: pd.DataFrame, by: list[str]) -> str | None:
    for c in by:
        if c == "year" or "year" in c.lower():
            if pd.to_numeric(table[c], errors="coerce").notna().all():
                return c
    return None


def _top_groups(table: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, bool]:
    sizes = table.drop_duplicates(by)[by + ["paragraphs"]] if by else table.head(1)
    if len(sizes) <= MAX_GROUPS:
        return table, False
    keep = sizes.nlargest(MAX_GROUPS, "paragraphs")[by]
    return table.merge(keep, on=by), True


def trend_figure(table: pd.DataFrame, by: list[str], themes: list[str], year: str):
    colors = Colors()
    others = [c for c in by if c != year]
    panels = list(table.groupby(others, sort=False)) if others else [((), table)]
    panels = panels[:MAX_PANELS]
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    with plt.rc_context(STYLE):
        width = 4.4 * cols if len(panels) > 1 else 7.5
        fig, axes = plt.subplots(rows, cols, figsize=(width, 3.2 * rows), squeeze=False, sharey=True)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        for ax, (key, part) in zip(axes.flat, panels):
            for t in themes:
                d = part[part["theme"] == t].assign(_x=lambda f: pd.to_numeric(f[year])).sort_values("_x")
                d = d[d["paragraphs"] > 0]
                c = colors(t)
                ax.plot(d["_x"], d["share"], "-o", color=c, ms=3, lw=1.6, label=t)
                low, high = _bounds(d)
                ax.fill_between(d["_x"], low, high, color=c, alpha=0.18, lw=0)
            ax.set_title(" · ".join(map(str, key if isinstance(key, tuple) else (key,))) or "all paragraphs")
            ax.set_ylim(0, None)
            ax.set_xlabel(year)
            ax.xaxis.get_major_locator().set_params(integer=True)
        axes.flat[0].set_ylabel("share of paragraphs (corrected)")
        axes.flat[0].legend(loc="upper left")
        fig.tight_layout()
    return fig


def heatmap_figure(table: pd.DataFrame, by: list[str], themes: list[str]):
    part, cut = _top_groups(table, by)
    groups = part.drop_duplicates(by)[by] if by else part.head(1)
    names = [_label(r, by) for _, r in groups.iterrows()]
    values = part["share"].to_numpy(dtype=float).reshape(len(names), len(themes))
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(2.0 + 1.5 * len(themes), 1.2 + 0.32 * len(names)))
        im = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="viridis", vmin=0)
        ax.set_xticks(range(len(themes)), themes, rotation=20, ha="right")
        ax.set_yticks(range(len(names)), names)
        if values.size <= 400:
            top = np.nanmax(values) if np.isfinite(values).any() else 1
            for (i, j), v in np.ndenumerate(values):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7.5,
                            color="white" if v < 0.6 * top else "black")  # fmt: skip
        fig.colorbar(im, ax=ax, label="share (corrected)")
        ax.set_title("theme share by group" + (f" (the {MAX_GROUPS} largest groups)" if cut else ""))
        fig.tight_layout()
    return fig


def corrected_figure(table: pd.DataFrame, by: list[str], themes: list[str]):
    part, cut = _top_groups(table, by)
    colors = Colors()
    with plt.rc_context(STYLE):
        n = len(part) // len(themes)
        fig, axes = plt.subplots(
            1, len(themes), figsize=(3.6 * len(themes), 1.2 + 0.28 * n), squeeze=False, sharey=True
        )
        for ax, t in zip(axes.flat, themes):
            d = part[part["theme"] == t]
            names = [_label(r, by) for _, r in d.iterrows()]
            y = np.arange(len(d))
            c = colors(t)
            ax.barh(y + 0.2, d["counted"], height=0.38, color=c, alpha=0.35, label="counted")
            share = d["share"].to_numpy(dtype=float)
            low, high = _bounds(d)
            err = np.vstack([share - low, high - share])
            ax.barh(y - 0.2, share, height=0.38, color=c, label="corrected")
            ax.errorbar(share, y - 0.2, xerr=np.nan_to_num(np.clip(err, 0, None)), fmt="none", ecolor="#333", lw=0.8)
            ax.set_yticks(y, names)
            ax.invert_yaxis()
            ax.set_title(t)
            ax.set_xlim(0, None)
            ax.set_xlabel("share of paragraphs")
            ax.legend(loc="lower right")
        fig.suptitle("corrected against counted" + (f" (the {MAX_GROUPS} largest groups)" if cut else ""), fontsize=10)
        fig.tight_layout()
    return fig


def charts(table: pd.DataFrame, by: list[str], themes: list[str]) -> dict[str, Callable]:
    """The charts that fit the grouping, by name: each a function returning a matplotlib figure."""
    out: dict[str, Callable] = {}
    year = _year_column(table, by)
    if year:
        out["years"] = lambda: trend_figure(table, by, themes, year)
    out["heatmap"] = lambda: heatmap_figure(table, by, themes)
    out["corrected"] = lambda: corrected_figure(table, by, themes)
    return out


def _bytes(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def save_charts(figures: dict[str, Callable], plot: Path) -> list[str]:
    """Each chart as ``<plot stem>-<chart>.<png|svg>`` beside ``plot``; the paths written."""
    fmt = plot.suffix.lower()[1:]
    written = []
    for name, draw in figures.items():
        path = plot.with_name(f"{plot.stem}-{name}{plot.suffix}")
        write_file(path, _bytes(draw(), fmt))
        written.append(str(path))
    return written


CAPTIONS = {
    "years": "Theme shares over the years, corrected for the model's errors; bands: 95% intervals.",
    "heatmap": "Corrected theme share of each group.",
    "corrected": "Counted share (light) against the corrected share (dark, with its 95% interval), per theme.",
}


def render(
    table: pd.DataFrame, by: list[str], figures: dict[str, Callable], sources: list[str], method: str, notes: list[str]
) -> str:
    """The page: what was summarized, the charts, and the table."""
    rows = []
    for _, r in table.iterrows():
        cells = [html.escape(str(r[c])) for c in by] + [html.escape(r["theme"]), f"{r['paragraphs']:,}"]
        cells += ["–" if pd.isna(r[k]) else f"{r[k]:.3f}" for k in ("counted", "share", "low", "high")]
        cells.append(html.escape(r["note"]))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = [*by, "theme", "paragraphs", "counted", "share", "low", "high", "note"]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>policytheme: theme shares</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>Theme shares</h1>",
        f"<p class='meta'>{html.escape(', '.join(sources))}; grouped by {html.escape(', '.join(by) or 'nothing')}; "
        f"method {method}; {stamp}</p>",
        "<p class='howto'>Shares are corrected for the model's errors measured on its dev split (adjusted "
        "classify-and-count); intervals carry both the group's sampling error and the uncertainty of those "
        "error rates. <i>counted</i> is the share of paragraphs the model labeled.</p>",
        *[f"<p class='note'>{html.escape(n)}</p>" for n in notes],
    ]
    for name, draw in figures.items():
        parts.append(_img(_bytes(draw(), "png"), name, CAPTIONS[name]))
    parts += [
        "<h2 id='table'>Table</h2><div class='scroll'><table>",
        "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>",
        *rows,
        "</table></div></main></body></html>",
    ]
    return "\n".join(parts)
