"""Compare runs from their files (never by re-running a model): leaderboards, learning curves, cross-validation.

Arguments are run folders (every ``metrics*.json`` inside counts, and ``curve.json`` / ``cv.json`` of
learning-curve and cross-validation folders) or such files. Results on different data sets go into
separate leaderboards; runs that claim the same data set (same file name and split) but were scored on
different paragraphs are refused, since no honest comparison of them exists.

The Markdown is for terminals; ``--out report.html`` writes the full report (see eval.report).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from policytheme.data.records import DataError
from policytheme.eval.leaderboard import Board, build_board, legend, table
from policytheme.eval.report import write_report
from policytheme.eval.tables import Collection, curve_table, cv_table
from policytheme.files import read_json, write_file

EXTRA_FILES = ("curve.json", "cv.json")


def _files(paths: list[str | Path]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            # the run's own test split (metrics.json) first: its board leads the comparison
            files = sorted(p.glob("metrics*.json"), key=lambda f: (f.name != "metrics.json", f.name))
            files += [p / f for f in EXTRA_FILES if (p / f).is_file()]
            if not files:
                raise DataError(
                    [f"{p}: no metrics*.json, curve.json or cv.json in this folder (run `policytheme evaluate` first)"]
                )
            found.extend(files)
        elif p.is_file():
            found.append(p)
        else:
            raise DataError([f"{p}: no such run folder or metrics file"])
    return list(dict.fromkeys(f.resolve() for f in found))  # a file named twice counts once


def collect(paths: list[str | Path]) -> Collection:
    """Load every metrics, learning-curve and cross-validation file named by ``paths``."""
    out = Collection()
    for f in _files(paths):
        m = read_json(f)
        kind = m.get("kind") if isinstance(m, dict) else None
        if kind in ("learning_curve", "cross_validation"):
            m.setdefault("run", f.parent.name)
            m["_file"] = str(f)
            (out.curves if kind == "learning_curve" else out.cv).append(m)
            continue
        if not isinstance(m, dict) or "macro_f1" not in m or "per_label" not in m:
            raise DataError([f"{f}: not a policytheme metrics file (no macro_f1/per_label)"])
        _check_metrics(f, m)
        m.setdefault("run", f.parent.name)
        m["_file"] = str(f)
        out.metrics.append(m)
    return out


def data_name(m: dict) -> str:
    """The data set a metrics file was scored on: file name, split, languages."""
    d = m.get("data", {})
    stem = Path(d.get("path", "?")).stem
    extra = [f"{d['split']} split"] if d.get("split") else []
    if d.get("langs"):
        extra.append(",".join(d["langs"]))
    if d.get("slice"):
        extra.append(d["slice"])
    return f"{stem} ({', '.join(extra)})" if extra else stem


def same_data(a: dict, b: dict) -> bool:
    """Whether two metrics files were scored on the same paragraphs: same file content, and the same
    paragraphs and gold labels (by fingerprint; files written before it existed: by count)."""
    da, db = a.get("data", {}), b.get("data", {})
    if da.get("sha256") != db.get("sha256"):
        return False
    if da.get("paragraphs_sha256") and db.get("paragraphs_sha256"):
        return da["paragraphs_sha256"] == db["paragraphs_sha256"]
    return da.get("paragraphs") == db.get("paragraphs")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _undefined(v: dict) -> bool:
    """A theme with no positive in the scored paragraphs and none predicted: its F1 is undefined (None)."""
    return v.get("f1") is None and v.get("support") == 0


def _check_metrics(f: Path, m: dict) -> None:
    """DataError naming the field, for a metrics file whose figures are not numbers where they must be."""
    if not _number(m["macro_f1"]):
        raise DataError([f"{f}: 'macro_f1' must be a number, got {type(m['macro_f1']).__name__}"])
    per = m["per_label"]
    ok = isinstance(per, dict) and all(
        isinstance(v, dict) and (_undefined(v) or _number(v.get("f1"))) for v in per.values()
    )
    if not ok:
        raise DataError([f"{f}: 'per_label' must map each theme to its figures (an 'f1' number each)"])
    if "run" in m and not isinstance(m["run"], str):
        raise DataError([f"{f}: 'run' must be a string"])
    for key in ("data", "per_language", "ci"):
        if key in m and not isinstance(m[key], dict):
            raise DataError([f"{f}: {key!r} must be a JSON object"])


def group_by_data(metrics: list[dict]) -> dict[str, list[dict]]:
    """Metrics per data set; DataError when runs on one data set were scored on different paragraphs."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for m in metrics:
        groups[data_name(m)].append(m)
    problems = []
    for name, rows in groups.items():
        first = rows[0]
        for m in rows[1:]:
            if set(m["per_label"]) != set(first["per_label"]):
                problems.append(
                    f"{first['_file']} and {m['_file']}: both on {name!r} but with different themes "
                    f"({', '.join(sorted(first['per_label']))} vs {', '.join(sorted(m['per_label']))})"
                )
            elif not same_data(first, m):
                problems.append(
                    f"{first['_file']} and {m['_file']}: both on {name!r} but scored on different data "
                    f"({_describe(first)} vs {_describe(m)}); evaluate both on the same file, "
                    "or compare them separately"
                )
    if problems:
        raise DataError(problems)
    return dict(groups)


def _describe(m: dict) -> str:
    d = m.get("data", {})
    return f"sha256 {str(d.get('sha256'))[:12]}, {d.get('paragraphs', '?')} paragraphs"


def boards(metrics: list[dict], n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> list[Board]:
    """One tested leaderboard per data set: test splits first (the first run's own first), then the others,
    each in the order the runs name them."""
    groups = group_by_data(metrics)
    order = sorted(groups, key=lambda name: groups[name][0].get("data", {}).get("split") != "test")
    return [build_board(name, groups[name], n_boot=n_boot, seed=seed, alpha=alpha) for name in order]


# --- Markdown ------------------------------------------------------------------------------------------
def _md_table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + [
        "| " + " | ".join(map(str, r)) + " |" for r in rows
    ]


def to_markdown(col: Collection, tested: list[Board]) -> str:
    parts = []
    for b in tested:
        sha = b.runs[0].get("data", {}).get("sha256")
        title = f"### {b.name}" + (f", sha256 {sha[:12]}" if sha else "")
        parts.append("\n".join([title, "", *_md_table(*table(b)), "", legend(b)]))
    if col.curves:
        lines = ["### Learning curves (test split, mean ± sd over seeds)", "", *_md_table(*curve_table(col.curves))]
        parts.append("\n".join(lines))
    if col.cv:
        lines = ["### Cross-validation (folds grouped by document, mean ± sd over folds)", ""]
        parts.append("\n".join(lines + _md_table(*cv_table(col.cv))))
    return "\n\n".join(parts) + "\n"


def compare(
    paths: list[str | Path],
    out: str | Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    title: str = "policytheme: model comparison",
) -> str:
    """The Markdown comparison of the given runs. ``out``: also write it there, or the HTML report when
    ``out`` ends in ``.html``."""
    col = collect(paths)
    tested = boards(col.metrics, n_boot=n_boot, seed=seed, alpha=alpha)
    text = to_markdown(col, tested)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() in (".html", ".htm"):
            write_report(col, tested, out, title=title)
        else:
            write_file(out, text)
    return text
