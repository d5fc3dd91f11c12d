"""A model card (``MODEL_CARD.md``) from a run's files: training data, test metrics with intervals, limits, use.

Built from ``run.json``, ``config.json`` and the run's ``metrics*.json`` (never by running the model), so
the card says exactly what the files measured.
"""

from __future__ import annotations

from pathlib import Path

from policytheme.eval.quantify import QUANTIFICATION
from policytheme.files import read_json
from policytheme.models.folders import RunFolder

INTENDED_USE = (
    "Labeling paragraphs of industrial-policy documents (government work reports, plans, State Council "
    "opinions, news and analysis; Chinese best, English and other languages weaker) with the themes of the "
    "project's codebook, for research that reads the labels as measurements with known error: counts and "
    "shares over many paragraphs, trends, comparisons, and finding paragraphs to read."
)
LIMITS = [
    "Scores are for paragraphs like the training data: Chinese government work reports (real) and written "
    "paragraphs in six languages. Other genres, decades or languages may score lower: label a few hundred of "
    "your own paragraphs (`policytheme annotate`) and evaluate before relying on it.",
    "Price competition is rare in real reports; its real-test figure rests on very few paragraphs (see n).",
    "A label is a decision at a tuned threshold, not a fact; the score column keeps the evidence strength.",
    "Not for decisions about individuals or organisations; not a substitute for reading the text.",
]


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def _ci(m: dict) -> str:
    ci = m.get("ci", {}).get("macro_f1") or m.get("ci", {})
    return f"[{_f(ci.get('low'))}, {_f(ci.get('high'))}]" if ci.get("low") is not None else ""


def _metrics_section(name: str, m: dict) -> list[str]:
    d, kw = m.get("data", {}), m.get("keywords")
    out = [
        f"### {name}",
        "",
        f"{m.get('n', d.get('paragraphs', '?'))} paragraphs of `{Path(d.get('path', '?')).name}`"
        + (f" ({d['split']} split)" if d.get("split") else "")
        + (f", {d['slice']}" if d.get("slice") else "")
        + f"; macro-F1 **{_f(m['macro_f1'])}** {_ci(m)}, micro-F1 {_f(m.get('micro_f1'))}"
        + (f"; the keyword method {_f(kw['macro_f1'])} {_ci(kw)}." if kw else "."),
        "",
        "| theme | n | precision | recall | F1 [95% CI] |" + (" keywords F1 |" if kw else ""),
        "|---|---|---|---|---|" + ("---|" if kw else ""),
    ]
    for lab, v in m["per_label"].items():
        ci = v.get("ci", {})
        interval = f" [{_f(ci.get('low'))}, {_f(ci.get('high'))}]" if ci.get("low") is not None else ""
        row = f"| {lab} | {v['support']} | {_f(v['precision'])} | {_f(v['recall'])} | {_f(v['f1'])}{interval} |"
        out.append(row + (f" {_f(kw['per_label'].get(lab))} |" if kw else ""))
    langs = m.get("per_language", {})
    if len(langs) > 1:
        out += ["", "| language | n | macro-F1 [95% CI] |", "|---|---|---|"]
        out += [f"| {lang} | {v['n']} | {_f(v['macro_f1'])} {_ci(v)} |" for lang, v in langs.items()]
    return out + [""]


def _rates_section(path: Path) -> list[str]:
    """The error rates per theme on the tuning paragraphs, which `policytheme summarize` corrects shares with."""
    if not path.is_file():
        return []
    q = read_json(path)
    out = [
        "## Error rates for theme shares",
        "",
        f"Measured on the paragraphs that tuned the thresholds ({q['paragraphs']:,} paragraphs"
        + (
            f" of {len(q['docs'])} documents, their out-of-fold scores where the run is cross-fitted"
            if q.get("docs")
            else ""
        )
        + f") and stored in `{QUANTIFICATION}` with each paragraph's scores: `policytheme summarize` corrects "
        "theme shares with them (calibrated scores by default, or adjusted counts with these rates) and carries "
        "their uncertainty into its intervals.",
        "",
        "| theme | positives | true-positive rate | false-positive rate | mean score, positives | negatives |",
        "|---|---|---|---|---|---|",
    ]
    for t, v in q["themes"].items():
        cells = [t, str(v["positives"])] + [_f(v[k]) for k in ("tpr", "fpr", "score_pos", "score_neg")]
        out.append("| " + " | ".join(cells) + " |")
    return out + [""]


def tuning_of(record: dict, data: list[dict]) -> str:
    """Where a run's thresholds were tuned, in words."""
    tuning = record.get("tuning") or {}
    if tuning.get("folds"):
        return (
            f"out-of-fold scores of {tuning['paragraphs']:,} train and dev paragraphs of real documents "
            f"({tuning['folds']} folds of whole documents; the model then fit on every train and dev paragraph)"
        )
    return f"the dev split of `{Path(data[0]['path']).name}`"


def model_card(run: str | Path, title: str | None = None) -> str:
    """The Markdown model card of a run folder."""
    folder = RunFolder.open(run)
    record, config = folder.record(), folder.config()
    data = [record["data"], *record["data"].get("with", [])]
    lines = [
        f"# Model card: {title or folder.path.name}",
        "",
        f"- **Model**: `{config.model}` ({record.get('model_bytes', 0) / 1e6:,.1f} MB), parameters "
        f"`{ {k: v for k, v in config.model_params.items() if k not in ('seed',)} }`",
        "- **Trained on**: "
        + "; ".join(
            f"`{Path(d['path']).name}` ({d['paragraphs']:,} paragraphs, sha256 {d['sha256'][:12]})" for d in data
        )
        + f". Thresholds tuned on {tuning_of(record, data)}; split seed {config.seed}.",
        f"- **Created**: {record.get('created', '?')}, git {((record.get('git') or {}).get('commit') or '?')[:12]}; "
        f"libraries: {', '.join(f'{k} {v}' for k, v in record.get('libraries', {}).items() if v)}.",
        "",
        "## Intended use",
        "",
        INTENDED_USE,
        "",
        "## Test metrics",
        "",
        "Each test split holds whole documents never seen in training or tuning; intervals are 95% bootstrap "
        "intervals over paragraphs. A split of several languages or genres is also scored per language and per "
        "genre group, and the keyword method (thresholds tuned on the same paragraphs) is scored beside it.",
        "",
    ]
    for path in sorted(folder.path.glob("metrics*.json"), key=lambda p: (p.name != "metrics.json", p.name)):
        m = read_json(path)
        d = m.get("data", {})
        name = Path(d.get("path", path.stem)).stem + (f", {d['split']} split" if d.get("split") else "")
        name += f", {d['slice']}" if d.get("slice") else ""
        lines += _metrics_section(name, m)
    lines += _rates_section(folder.path / QUANTIFICATION)
    lines += ["## Limits", ""] + [f"- {x}" for x in LIMITS] + [""]
    return "\n".join(lines)
