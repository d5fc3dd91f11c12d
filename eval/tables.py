"""What ``compare`` collected, and the learning-curve and cross-validation tables built from it.

Shared by the Markdown comparison (eval.compare) and the HTML report (eval.report), which import it;
neither imports the other's output code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Collection:
    metrics: list[dict] = field(default_factory=list)
    curves: list[dict] = field(default_factory=list)  # learning curves (curve.json)
    cv: list[dict] = field(default_factory=list)  # cross-validations (cv.json)


# --- learning curves and cross-validation as tables ------------------------------------------------------
def _mean_sd(s: dict | None) -> str:
    return "–" if not s else f"{s['mean']:.3f} ± {s['sd']:.3f}"


def curve_table(curves: list[dict]) -> tuple[list[str], list[list[str]]]:
    """One row per run and training fraction: macro-F1 mean ± sd over seeds, [min, max], per language."""
    langs = sorted({lang for c in curves for s in c["summary"] for lang in s["per_language"]})
    header = ["run", "model", "fraction", "train paragraphs", "macro-F1 mean ± sd", "[min, max]", "seeds"]
    header += [f"macro-F1 {lang}" for lang in langs]
    rows = []
    for c in curves:
        for s in c["summary"]:
            mf = s["macro_f1"]
            paragraphs = s["train_paragraphs"]["mean"] if s["train_paragraphs"] else None
            rows.append(
                [c["run"], c["model"], f"{s['fraction']:g}", "–" if paragraphs is None else f"{paragraphs:,.0f}"]
                + [_mean_sd(mf), "–" if not mf else f"[{mf['min']:.3f}, {mf['max']:.3f}]"]
                + [f"{s['points']}" + (f" ({s['failed']} failed)" if s["failed"] else "")]
                + [_mean_sd(s["per_language"].get(lang)) for lang in langs]
            )
    return header, rows


def cv_table(cvs: list[dict]) -> tuple[list[str], list[list[str]]]:
    """One row per cross-validation: mean ± sd over folds of every figure."""
    labels = list(dict.fromkeys(lab for c in cvs for lab in c["summary"]["f1"]))
    langs = sorted({lang for c in cvs for lang in c["summary"]["per_language"]})
    header = ["run", "model", "data", "folds", "paragraphs", "macro-F1 mean ± sd", "micro-F1 mean ± sd"]
    header += [f"F1 {lab}" for lab in labels] + [f"macro-F1 {lang}" for lang in langs] + ["train s per fold"]
    rows = []
    for c in cvs:
        s = c["summary"]
        fit = s["fit_seconds"]
        rows.append(
            [c["run"], c["model"], Path(c["data"]["path"]).stem, str(c["folds"]), f"{c['paragraphs']:,}"]
            + [_mean_sd(s["macro_f1"]), _mean_sd(s["micro_f1"])]
            + [_mean_sd(s["f1"].get(lab)) for lab in labels]
            + [_mean_sd(s["per_language"].get(lang)) for lang in langs]
            + ["–" if not fit else f"{fit['mean']:,.1f}"]
        )
    return header, rows
