"""One leaderboard per data set: runs sorted by macro-F1, each tested against the best on the same paragraphs.

Built from metrics files and the predictions files they point to; no model runs. Every run is compared
with the best one (highest macro-F1): macro-F1 and each language's macro-F1 by a paired bootstrap over
paragraphs, each theme by McNemar's test on that theme's decisions. p-values are Holm-adjusted over the
runs tested in one column, and a figure not significantly different from the best run's is marked ≈.

When the board holds a run of the keyword method (model ``keywords``: what a researcher would do by hand),
every other run is also tested against it, the same way: the Δ and p columns against keywords, and per
theme ▲/▼ where a run decides the theme significantly better/worse than keywords (McNemar, Holm).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policytheme.data.records import DataError
from policytheme.eval.metrics import macro_f1
from policytheme.eval.significance import holm, mcnemar, paired_bootstrap

SAME = "≈"  # not significantly different from the best run
BETTER, WORSE = "▲", "▼"  # a theme decided significantly better / worse than by the keyword method
KEYWORDS = "keywords"  # the model name of the keyword method, the floor every model must clear


@dataclass
class Board:
    """The runs scored on one data set, best first, and their tests against the best."""

    name: str
    runs: list[dict]
    labels: list[str]
    langs: list[str]
    tests: list[dict | None] = field(default_factory=list)  # per run; None: the best run, or untested
    untested: list[str] = field(default_factory=list)  # runs without a predictions file
    baseline: int | None = None  # index of the keyword run, when there is one with predictions
    vs_baseline: list[dict | None] = field(default_factory=list)  # per run: its tests against the keyword run
    alpha: float = 0.05
    n_boot: int = 1000


def predictions_path(m: dict) -> Path | None:
    """Where the predictions of a metrics file are, if it says, they exist and lie inside its folder."""
    rel = m.get("predictions")
    if not rel or "_file" not in m:
        return None
    if not isinstance(rel, str):
        return None
    folder = Path(m["_file"]).parent.resolve()
    path = (folder / rel).resolve()  # only a file inside the run's own folder: no ../, no absolute path, no link out
    return path if folder in path.parents and path.is_file() else None


def _read_predictions(path: Path) -> list[dict]:
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError([f"{path}:{lineno}: invalid JSON: {e.msg}"]) from None
    return rows


def aligned(runs: list[dict], labels: list[str]) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Gold matrix, one prediction matrix per run and the languages, in one paragraph order.

    Refuses (DataError) runs whose predictions cover other paragraphs or other gold labels.
    """
    tables = [{r["id"]: r for r in _read_predictions(predictions_path(m))} for m in runs]
    ids = sorted(tables[0])
    for m, t in zip(runs[1:], tables[1:]):
        if set(t) != set(ids):
            diff = sorted(set(t) ^ set(ids))
            raise DataError(
                [f"{runs[0]['_file']} and {m['_file']}: predictions on different paragraphs (e.g. {diff[0]!r})"]
            )
        bad = next((i for i in ids if sorted(t[i]["labels"]) != sorted(tables[0][i]["labels"])), None)
        if bad is not None:
            raise DataError([f"{runs[0]['_file']} and {m['_file']}: different gold labels for paragraph {bad!r}"])

    def matrix(t: dict, key: str) -> np.ndarray:
        return np.array([[lab in t[i][key] for lab in labels] for i in ids], dtype=np.int8)

    return (
        matrix(tables[0], "labels"),
        [matrix(t, "predicted") for t in tables],
        np.array([tables[0][i]["lang"] for i in ids]),
    )


def build_board(name: str, runs: list[dict], n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> Board:
    """Sort ``runs`` (metrics of one data set) by macro-F1 and test each against the best."""
    runs = sorted(runs, key=lambda m: -m["macro_f1"])
    labels = list(dict.fromkeys(lab for m in runs for lab in m["per_label"]))
    langs = sorted({lang for m in runs for lang in m.get("per_language", {})})
    board = Board(name, runs, labels, langs, [None] * len(runs), alpha=alpha, n_boot=n_boot)
    testable = [i for i, m in enumerate(runs) if predictions_path(m) is not None]
    if 0 not in testable:  # without the best run's predictions nothing can be tested against it
        testable = []
    board.untested = [m.get("run", "?") for i, m in enumerate(runs) if i > 0 and i not in testable]
    if len(testable) < 2:
        return board
    y, preds, lang_of = aligned([runs[i] for i in testable], labels)
    best = preds[0]
    raw = {i: _tests(y, best, p, lang_of, labels, langs, n_boot, seed) for i, p in zip(testable[1:], preds[1:])}
    _adjust_all(raw, labels, langs, alpha)
    for i, t in raw.items():
        board.tests[i] = t
    keyword = next((k for k, i in enumerate(testable) if runs[i].get("model") == KEYWORDS), None)
    board.vs_baseline = [None] * len(runs)
    if keyword is not None:
        board.baseline = testable[keyword]
        floor = preds[keyword]
        raw = {
            i: _tests(y, floor, p, lang_of, labels, langs, n_boot, seed)
            for k, (i, p) in enumerate(zip(testable, preds))
            if k != keyword
        }
        _adjust_all(raw, labels, langs, alpha)
        for i, t in raw.items():
            board.vs_baseline[i] = t
    return board


def _adjust_all(raw: dict[int, dict], labels: list[str], langs: list[str], alpha: float) -> None:
    _adjust(raw, ["macro"], alpha)
    for lab in labels:
        _adjust(raw, ["themes", lab], alpha)
    for lang in langs:
        _adjust(raw, ["langs", lang], alpha)


def _tests(y, best, pred, lang_of, labels, langs, n_boot: int, seed: int) -> dict:
    """This run against the best: paired bootstrap of macro-F1 (overall, per language), McNemar per theme."""
    out = {"macro": paired_bootstrap(y, pred, best, macro_f1, n_boot=n_boot, seed=seed), "themes": {}, "langs": {}}
    for j, lab in enumerate(labels):
        out["themes"][lab] = mcnemar(pred[:, j] == y[:, j], best[:, j] == y[:, j])
    for lang in langs:
        m = lang_of == lang
        if m.any():
            out["langs"][lang] = paired_bootstrap(y[m], pred[m], best[m], macro_f1, n_boot=n_boot, seed=seed)
    return out


def _adjust(raw: dict[int, dict], path: list[str], alpha: float) -> None:
    """Holm-adjust one column of tests in place and mark those not significant at ``alpha``."""
    cells = []
    for t in raw.values():
        for key in path:
            t = t.get(key) if t is not None else None
        cells.append(t)
    adjusted = holm([c["p"] if c else None for c in cells])
    for c, p in zip(cells, adjusted):
        if c is not None:
            c["p_holm"] = p
            c["same"] = p >= alpha


# --- the table ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One table cell as parts, so Markdown and HTML each lay it out without parsing text back."""

    value: str
    interval: str = ""  # "[0.854, 0.909]"
    marks: str = ""  # ≈ (not different from the best), ▲/▼ (against keywords)

    def __str__(self) -> str:
        return " ".join(x for x in (self.value, self.interval, self.marks) if x)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _same(test: dict | None) -> str:
    return SAME if test is not None and test.get("same") else ""


def _versus(test: dict | None) -> str:
    """A theme's mark against the keyword method: ▲ significantly better, ▼ significantly worse."""
    if not test or test.get("same", True):
        return ""
    return BETTER if test["b"] > test["c"] else WORSE


def _p(p: float | None, n_boot: int) -> str:
    if p is None:
        return "–"
    return f"<{1 / n_boot:.3g}" if p == 0 else f"{p:.3f}" if p < 0.995 else "1"


def _signed(x: float) -> str:
    return f"{x:+.3f}".replace("-", "−")


def _delta(test: dict | None, is_best: bool) -> Cell:
    if is_best:
        return Cell("best")
    if test is None:
        return Cell("not tested")
    m = test["macro"]
    return Cell(_signed(m["delta"]), f"[{_signed(m['low'])}, {_signed(m['high'])}]", _same(m))


def _cost(m: dict) -> list[Cell]:
    fit, speed, size = m.get("fit_seconds"), m.get("paragraphs_per_second"), m.get("model_bytes")
    return [
        Cell("–" if fit is None else f"{fit:,.1f}"),
        Cell("–" if speed is None else f"{speed:,.0f}"),
        Cell("–" if size is None else f"{size / 1e6:,.1f}"),
    ]


def table(board: Board) -> tuple[list[str], list[list[Cell]]]:
    """Header and rows of the leaderboard: scores with intervals, tests against the best (and against the
    keyword method when it is on the board), cost."""
    floor = board.baseline is not None
    header = (
        ["run", "model", "n", "macro-F1 [95% CI]", "Δ macro-F1 vs best [95% CI]", "p (Holm)"]
        + (["Δ vs keywords [95% CI]", "p vs keywords"] if floor else [])
        + ["micro-F1"]
        + [f"F1 {lab}" for lab in board.labels]
        + [f"macro-F1 {lang}" for lang in board.langs]
        + ["mean ECE", "train s", "paragraphs per s", "model MB"]
    )
    rows = []
    for i, m in enumerate(board.runs):
        t = board.tests[i]
        ci = m.get("ci", {}).get("macro_f1", {})
        interval = f"[{ci['low']:.3f}, {ci['high']:.3f}]" if ci.get("low") is not None else ""
        per_lang = m.get("per_language", {})
        v = board.vs_baseline[i] if floor else None
        versus = []
        if floor and i == board.baseline:
            versus = [Cell("keywords"), Cell("")]
        elif floor:
            versus = [_delta(v, False), Cell(_p(v["macro"]["p_holm"], board.n_boot) if v else "")]
        themes = [
            Cell(
                _fmt(m["per_label"].get(lab, {}).get("f1")),
                marks=" ".join(
                    x for x in (_same(t and t["themes"].get(lab)), _versus(v and v["themes"].get(lab))) if x
                ),
            )
            for lab in board.labels
        ]
        langs = [
            Cell(_fmt(per_lang[lang]["macro_f1"]), marks=_same(t and t["langs"].get(lang)))
            if lang in per_lang
            else Cell("–")
            for lang in board.langs
        ]
        rows.append(
            [Cell(m.get("run", "?")), Cell(m.get("model") or "?"), Cell(str(m.get("n", "?")))]
            + [Cell(f"{m['macro_f1']:.3f}", interval), _delta(t, i == 0)]
            + [Cell(_p(t["macro"]["p_holm"], board.n_boot) if t else "")]
            + versus
            + [Cell(_fmt(m.get("micro_f1")))]
            + themes
            + langs
            + [Cell(_fmt(m.get("macro_ece")))]
            + _cost(m)
        )
    return header, rows


def legend(board: Board) -> str:
    """What the marks mean, in one paragraph under the table."""
    if len(board.runs) < 2:
        return "One run on this data set: nothing to test it against."
    best = board.runs[0].get("run", "?")
    text = (
        f"{SAME} = not significantly different from the best run ({best}) at α = {board.alpha}, Holm-adjusted over "
        f"the runs in each column: macro-F1 overall and per language by a paired bootstrap over paragraphs "
        f"({board.n_boot} resamples), per-theme F1 by McNemar's test on that theme's decisions. Intervals are "
        f"95% percentile bootstrap intervals. Cost: training time, labeling speed (paragraphs per second "
        f"while evaluating) and model size on disk."
    )
    if board.baseline is not None:
        text += (
            f" Against the keyword method ({board.runs[board.baseline].get('run', '?')}, what a researcher would do "
            f"by hand): Δ and p by the same paired bootstrap; per theme {BETTER}/{WORSE} where a run decides it "
            f"significantly better/worse (McNemar, Holm)."
        )
    if board.untested:
        text += f" Not tested (no predictions file; re-run `policytheme evaluate`): {', '.join(board.untested)}."
    return text
