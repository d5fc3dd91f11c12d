"""compare on constructed runs where the answer is known: marks, refusals, cost columns."""

import json
from pathlib import Path

import numpy as np
import pytest

from policytheme.cli import main
from policytheme.data.records import DataError
from policytheme.eval.compare import collect, compare
from policytheme.eval.leaderboard import SAME, build_board
from policytheme.eval.metrics import evaluate_arrays

LABELS = ["price_competition", "industrial_upgrading", "innovation"]
N = 240
Y = np.random.default_rng(0).integers(0, 2, (N, 3))
LANGS = ["zh" if i % 3 else "en" for i in range(N)]


def _flip(share: float, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(Y.shape) < share, 1 - Y, Y)


def fake_run(root: Path, name: str, pred: np.ndarray, sha: str = "a" * 64, ids=None, predictions=True) -> Path:
    """A run folder with metrics.json and predictions.jsonl, as evaluate writes them, without a model."""
    ids = ids or [f"p{i:03d}" for i in range(N)]
    folder = root / name
    folder.mkdir()
    m = evaluate_arrays(Y, pred, pred.astype(float), LANGS, LABELS, n_boot=20)
    m.update(
        run=name,
        model="tfidf-logreg",
        data={"path": "data/corpus.jsonl", "sha256": sha, "split": "test", "paragraphs": N, "paragraphs_sha256": sha},
        fit_seconds=12.345,
        model_bytes=3_400_000,
        paragraphs_per_second=2500.0,
    )
    if predictions:
        m["predictions"] = "predictions.jsonl"
        rows = [
            {
                "id": i,
                "lang": lang,
                "labels": [lab for lab, on in zip(LABELS, y) if on],
                "predicted": [lab for lab, on in zip(LABELS, p) if on],
            }
            for i, lang, y, p in zip(ids, LANGS, Y, pred)
        ]
        (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "metrics.json").write_text(json.dumps(m))
    return folder


def _rows(text: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| run")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }


def test_identical_runs_are_marked_not_significant(tmp_path):
    pred = _flip(0.25, 1)
    a, b = fake_run(tmp_path, "a", pred), fake_run(tmp_path, "b", pred.copy())
    rows = _rows(compare([a, b], n_boot=200))
    assert rows["a"][4] == "best"
    delta, p = rows["b"][4], rows["b"][5]
    assert delta.endswith(SAME) and p == "1"
    assert all(cell.endswith(SAME) for cell in rows["b"][7:12])  # 3 themes, 2 languages


def test_a_clearly_worse_run_is_marked_significant(tmp_path):
    good, bad = fake_run(tmp_path, "good", _flip(0.05, 1)), fake_run(tmp_path, "bad", _flip(0.4, 2))
    same = fake_run(tmp_path, "good-copy", _flip(0.05, 1))
    text = compare([bad, good, same], n_boot=200)
    rows = _rows(text)
    assert list(rows) == ["good", "good-copy", "bad"]  # sorted by macro-F1; ties keep the order given
    assert SAME not in " ".join(rows["bad"]) and rows["bad"][5] == "<0.005"
    assert rows["bad"][4].startswith("−")
    assert rows["good-copy"][4].endswith(SAME)
    assert "Holm-adjusted" in text and "(good)" in text


def test_cost_columns_in_the_leaderboard(tmp_path):
    text = compare([fake_run(tmp_path, "a", Y)])
    header = next(line for line in text.splitlines() if line.startswith("| run"))
    assert header.rstrip(" |").endswith("train s | paragraphs per s | model MB")
    assert _rows(text)["a"][-3:] == ["12.3", "2,500", "3.4"]
    assert "nothing to test it against" in text


def test_runs_scored_on_different_data_are_refused(tmp_path, capsys):
    a = fake_run(tmp_path, "a", Y)
    b = fake_run(tmp_path, "b", Y, sha="b" * 64)
    with pytest.raises(DataError, match="scored on different data"):
        compare([a, b])
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "scored on different data" in err and "sha256 aaaaaaaaaaaa" in err and "Traceback" not in err


def test_same_file_other_paragraphs_is_refused_and_older_files_compare_by_count(tmp_path):
    a = fake_run(tmp_path, "a", Y)
    b = fake_run(tmp_path, "b", Y)
    m = json.loads((b / "metrics.json").read_text())
    m["data"]["paragraphs_sha256"] = "c" * 64  # another split seed of the same file
    (b / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(DataError, match="scored on different data"):
        compare([a, b])
    del m["data"]["paragraphs_sha256"]  # a metrics file from before the fingerprint: same file, same count
    (b / "metrics.json").write_text(json.dumps(m))
    assert "| b |" in compare([a, b], n_boot=50)


def test_predictions_on_other_paragraphs_are_refused(tmp_path):
    a = fake_run(tmp_path, "a", Y)
    b = fake_run(tmp_path, "b", Y, ids=[f"q{i:03d}" for i in range(N)])  # claims the same data, is not
    with pytest.raises(DataError, match="predictions on different paragraphs"):
        compare([a, b])


def test_a_run_without_predictions_is_listed_as_not_tested(tmp_path):
    a = fake_run(tmp_path, "a", Y)
    b = fake_run(tmp_path, "b", _flip(0.3, 1), predictions=False)
    text = compare([a, b])
    assert _rows(text)["b"][4] == "not tested" and "Not tested (no predictions file" in text


def test_different_data_sets_get_separate_boards(tmp_path):
    a = fake_run(tmp_path, "a", Y)
    m = json.loads((a / "metrics.json").read_text())
    m["data"] = {**m["data"], "path": "real-dev.jsonl", "split": None}
    (a / "metrics-real-dev.json").write_text(json.dumps(m))
    col = collect([a])
    names = sorted(build_board("x", [mm]).runs[0]["data"]["path"] for mm in col.metrics)
    assert names == ["data/corpus.jsonl", "real-dev.jsonl"]
    text = compare([a])
    assert "### corpus (test split)" in text and "### real-dev," in text


def test_a_theme_absent_from_a_board_is_undefined_not_a_damaged_file(tmp_path):
    """A slice of a test split (one genre, say) may hold no paragraph of a theme: its F1 is None, and compare
    shows the board rather than refusing the file."""
    a = fake_run(tmp_path, "a", _flip(0.1, 1))
    b = fake_run(tmp_path, "b", _flip(0.2, 2))
    for run in (a, b):
        m = json.loads((run / "metrics.json").read_text())
        m["per_label"]["price_competition"].update(f1=None, precision=None, recall=None, support=0)
        (run / "metrics.json").write_text(json.dumps(m))
    out = tmp_path / "c.md"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    assert "| a |" in out.read_text()
    m["per_label"]["price_competition"]["support"] = 3  # None where there were positives: damaged
    (b / "metrics.json").write_text(json.dumps(m))
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 2
