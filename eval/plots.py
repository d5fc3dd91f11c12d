"""The report's figures, drawn with matplotlib from metrics, learning-curve and cross-validation files.

Each function returns PNG bytes, to be embedded in the HTML report. Colours follow the run (leaderboard
figures) or the model (learning curves, cross-validation) and stay the same across figures.
"""

from __future__ import annotations

import io
import math

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # no display; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from policytheme.eval.leaderboard import Board  # noqa: E402

DPI = 110
PALETTE = plt.get_cmap("tab10").colors
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "text.parse_math": False,  # a run or theme name with $...$ is text, never mathtext to parse (and fail on)
}


class Colors:
    """One colour per name, in order of first request, the same wherever the name appears."""

    def __init__(self) -> None:
        self.assigned: dict[str, tuple] = {}

    def __call__(self, name: str) -> tuple:
        if name not in self.assigned:
            self.assigned[name] = PALETTE[len(self.assigned) % len(PALETTE)]
        return self.assigned[name]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _grid(n: int, cols: int, width: float, row_height: float):
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width, row_height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def scores_figure(board: Board, colors: Colors) -> bytes:
    """Macro-F1, each theme's F1 and each language's macro-F1 per run, with 95% intervals.

    Hollow markers: not significantly different from the best run (the dashed line)."""
    panels = [("macro-F1", lambda m: (m["macro_f1"], m.get("ci", {}).get("macro_f1", {})), "macro")]
    panels += [
        (f"F1 {lab}", lambda m, lab=lab: _f1_ci(m["per_label"].get(lab, {})), ("themes", lab)) for lab in board.labels
    ]
    n = {lang: v.get("n", "?") for lang, v in board.runs[0].get("per_language", {}).items()}
    panels += [
        (f"macro-F1, {lang} ({n.get(lang, '?')} paragraphs)", lambda m, lang=lang: _lang_ci(m, lang), ("langs", lang))
        for lang in board.langs
    ]
    names = [m.get("run", "?") for m in board.runs]
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(panels), 3, 12, 0.9 + 0.32 * len(names))
        for ax, (title, get, key) in zip(axes, panels):
            for i, m in enumerate(board.runs):
                value, ci = get(m)
                if value is None:
                    continue
                test = _test(board.tests[i], key)
                same = test is not None and test.get("same")
                lo, hi = ci.get("low"), ci.get("high")
                if lo is not None and hi is not None:
                    ax.plot([lo, hi], [i, i], color=colors(names[i]), lw=2, alpha=0.7)
                face = "white" if same else colors(names[i])
                ax.plot([value], [i], "o", color=colors(names[i]), mfc=face, mew=1.5, ms=7)
                if i == 0:
                    ax.axvline(value, color="0.5", ls="--", lw=0.8)
            ax.set_yticks(range(len(names)), names)
            ax.set_ylim(len(names) - 0.5, -0.5)
            ax.set_xlim(-0.02, 1.02)
            ax.set_title(title)
        fig.tight_layout()
        return _png(fig)


def _f1_ci(per_label: dict) -> tuple:
    return per_label.get("f1"), per_label.get("ci", {})


def _lang_ci(m: dict, lang: str) -> tuple:
    sub = m.get("per_language", {}).get(lang)
    return (None, {}) if sub is None else (sub["macro_f1"], sub.get("ci", {}).get("macro_f1", {}))


def _test(test: dict | None, key) -> dict | None:
    if test is None:
        return None
    if key == "macro":
        return test["macro"]
    return test[key[0]].get(key[1])


def pr_figure(board: Board, colors: Colors) -> bytes:
    """Precision-recall curve per theme and run; the dot is the run's operating point (its threshold)."""
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(board.labels), 3, 12, 3.6)
        for ax, lab in zip(axes, board.labels):
            for m in board.runs:
                pr = m.get("curves", {}).get("pr", {}).get(lab)
                name = m.get("run", "?")
                if not pr:
                    continue
                auc = m["per_label"].get(lab, {}).get("pr_auc")
                label = f"{name} (AP {auc:.2f})" if auc is not None else name
                ax.plot(pr["recall"], pr["precision"], color=colors(name), lw=1.5, label=label, drawstyle="steps-post")
                p, r = m["per_label"][lab].get("precision"), m["per_label"][lab].get("recall")
                if p is not None and r is not None:
                    ax.plot([r], [p], "o", color=colors(name), ms=5)
            ax.set(title=lab, xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.05))
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best")
            else:  # a board (one genre, say) with no paragraph of this theme has no curve to draw
                ax.text(0.5, 0.5, "no paragraph of this theme", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        return _png(fig)


def reliability_figure(board: Board, colors: Colors) -> bytes:
    """Reliability diagram per theme: share of paragraphs with the theme against the mean score, per bin
    (marker area ~ paragraphs in the bin); the diagonal is perfect calibration."""
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(board.labels), 3, 12, 3.6)
        for ax, lab in zip(axes, board.labels):
            ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=0.8)
            for m in board.runs:
                bins = m.get("curves", {}).get("reliability", {}).get(lab)
                name = m.get("run", "?")
                if not bins:
                    continue
                x = [b["confidence"] for b in bins]
                y = [b["accuracy"] for b in bins]
                sizes = 12 + 180 * np.sqrt(np.array([b["count"] for b in bins]) / max(b["count"] for b in bins))
                ece = m["per_label"].get(lab, {}).get("ece")
                label = f"{name} (ECE {ece:.3f})" if ece is not None else name
                ax.plot(x, y, color=colors(name), lw=1.2, label=label)
                ax.scatter(x, y, s=sizes, color=colors(name), alpha=0.6, edgecolors="white", linewidths=0.5)
            ax.set(title=lab, xlabel="mean score in bin", ylabel="share with the theme", xlim=(0, 1), ylim=(0, 1.02))
            ax.legend(loc="best")
        fig.tight_layout()
        return _png(fig)


def curve_figure(curves: list[dict], colors: Colors) -> bytes:
    """Learning curves: macro-F1 (overall and per language) against training paragraphs, mean ± sd."""
    langs = sorted({lang for c in curves for s in c["summary"] for lang in s["per_language"]})
    panels = [("macro-F1, all languages", lambda s: s["macro_f1"])]
    panels += [(f"macro-F1, {lang}", lambda s, lang=lang: s["per_language"].get(lang)) for lang in langs]
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(panels), 3, 12, 3.4)
        for ax, (title, get) in zip(axes, panels):
            for c in curves:
                pts = [
                    (s["train_paragraphs"]["mean"], get(s)) for s in c["summary"] if s["train_paragraphs"] and get(s)
                ]
                if not pts:
                    continue
                x = np.array([p[0] for p in pts])
                mean = np.array([p[1]["mean"] for p in pts])
                sd = np.array([p[1]["sd"] for p in pts])
                color = colors(c["model"])
                ax.plot(x, mean, "o-", color=color, lw=1.5, ms=4, label=c["run"])
                ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.15, lw=0)
            ax.set(title=title, xlabel="training paragraphs (log scale)", ylabel="macro-F1 on the test split")
            _paragraph_ticks(ax, curves)
        axes[0].legend(loc="lower right")  # colours are the same in every panel
        fig.tight_layout()
        return _png(fig)


def _paragraph_ticks(ax, curves: list[dict]) -> None:
    """Log x axis with a tick at each training size actually used, written out in full."""
    sizes = sorted(
        {round(s["train_paragraphs"]["mean"]) for c in curves for s in c["summary"] if s["train_paragraphs"]}
    )
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    kept = [x for i, x in enumerate(sizes) if i == 0 or x / sizes[i - 1] > 1.25]  # ticks that would not collide
    ax.set_xticks(kept, [f"{x:,}" for x in kept])


def cv_figure(cvs: list[dict], colors: Colors) -> bytes:
    """Cross-validation: macro-F1 of every fold (dots) and the mean ± sd (bar) per run."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.8 + 0.45 * len(cvs)))
        for i, c in enumerate(cvs):
            color = colors(c["model"])
            folds = [f["macro_f1"] for f in c["fold_results"]]
            ax.scatter(folds, np.full(len(folds), i), color=color, alpha=0.7, s=24, zorder=3)
            s = c["summary"]["macro_f1"]
            if s:
                ax.errorbar([s["mean"]], [i], xerr=[[s["sd"]], [s["sd"]]], fmt="|", color="black", ms=14, capsize=4)
        ax.set_yticks(range(len(cvs)), [f"{c['run']} ({c['folds']} folds)" for c in cvs])
        ax.set_ylim(len(cvs) - 0.5, -0.5)
        ax.set_xlabel("macro-F1 of a fold")
        fig.tight_layout()
        return _png(fig)
