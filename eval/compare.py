"""A comparison table of runs, built from their ``metrics.json`` files (never by re-running a model).

Arguments are run folders (every ``metrics*.json`` inside counts) or metrics files. Results on different
data go into separate tables, one per data set, each sorted by macro-F1.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from data.records import DataError


def collect_metrics(paths: list[str | Path]) -> list[dict]:
    """Load every metrics file named by ``paths`` (run folders or files), each tagged with its origin."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(p.glob("metrics*.json"))
            if not files:
                raise DataError([f"{p}: no metrics*.json in this folder (run `policytheme evaluate` first)"])
            found.extend(files)
        elif p.is_file():
            found.append(p)
        else:
            raise DataError([f"{p}: no such run folder or metrics file"])
    out = []
    for f in found:
        try:
            m = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError([f"{f}:{e.lineno}: invalid JSON: {e.msg}"]) from None
        if not isinstance(m, dict) or "macro_f1" not in m or "per_label" not in m:
            raise DataError([f"{f}: not a policytheme metrics file (no macro_f1/per_label)"])
        m.setdefault("run", f.parent.name)
        m["_file"] = str(f)
        out.append(m)
    return out


def data_name(m: dict) -> str:
    d = m.get("data", {})
    stem = Path(d.get("path", "?")).stem
    return f"{stem} ({d['split']} split)" if d.get("split") else stem


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def tables(metrics: list[dict]) -> dict[str, dict]:
    """Per data set: the column names and the rows of the leaderboard."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for m in metrics:
        groups[(data_name(m), m.get("data", {}).get("sha256"))].append(m)
    out = {}
    for (name, sha), rows in groups.items():
        label_ids = list(dict.fromkeys(lab for m in rows for lab in m["per_label"]))
        langs = sorted({lang for m in rows for lang in m.get("per_language", {})})
        header = (
            ["run", "model", "n", "macro-F1 [95% CI]", "micro-F1"]
            + [f"F1 {lab}" for lab in label_ids]
            + [f"macro-F1 {lang}" for lang in langs]
        )
        body = []
        for m in sorted(rows, key=lambda r: -r["macro_f1"]):
            ci = m.get("ci", {}).get("macro_f1", {})
            interval = f" [{ci['low']:.3f}, {ci['high']:.3f}]" if "low" in ci else ""
            per_lang = m.get("per_language", {})
            body.append(
                [
                    m.get("run", "?"),
                    m.get("model") or "?",
                    str(m.get("n", "?")),
                    f"{m['macro_f1']:.3f}{interval}",
                    _fmt(m.get("micro_f1")),
                ]
                + [_fmt(m["per_label"].get(lab, {}).get("f1")) for lab in label_ids]
                + [_fmt(per_lang[lang]["macro_f1"]) if lang in per_lang else "–" for lang in langs]
            )
        key = name if sha is None else f"{name}, sha256 {sha[:12]}"
        out[key] = {"header": header, "rows": body}
    return out


def to_markdown(metrics: list[dict]) -> str:
    parts = []
    for name, t in tables(metrics).items():
        lines = [
            f"### {name}",
            "",
            "| " + " | ".join(t["header"]) + " |",
            "|" + "|".join("---" for _ in t["header"]) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in t["rows"]]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def compare(paths: list[str | Path], out: str | Path | None = None) -> str:
    """The Markdown comparison of the given runs; also written to ``out`` when given."""
    text = to_markdown(collect_metrics(paths))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
    return text
