"""`policytheme summarize`: corrected theme shares per group, from label's output, against hand-computed ones.

A model folder is faked with a hand-made ``quantification.json`` (known tpr and fpr), and the labeled files
are written by hand with a manifest naming that folder, as `label` writes them. One end-to-end test trains
a tiny model, labels with it, and summarizes with the rates the run stored.
"""

import json
import os
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from policytheme.cli import main
from policytheme.eval.quantify import Rates, estimate
from tests.conftest import make_rows, write_jsonl
from tests.test_label import make_corpus
from tests.test_report import BROWSER, _chromium, loaded_images

THEMES = ["innovation", "upgrading"]


def run(*argv):
    return main([str(a) for a in argv])


def bits(ones: int, n: int) -> list[bool]:
    return [i < ones for i in range(n)]


@pytest.fixture
def model(tmp_path):
    """A model folder whose dev split had 10 positives and 10 negatives per theme: innovation tpr 0.8,
    fpr 0.1 (scores 0.9 when decided, 0.2 otherwise); upgrading tpr 0.5, fpr 0.0."""
    gold = np.array([bits(10, 20), bits(10, 20)]).T
    inn = bits(8, 10) + bits(1, 10)
    upg = bits(5, 10) + bits(0, 10)
    decided = np.array([inn, upg]).T
    scores = np.where(decided, 0.9, 0.2)
    folder = tmp_path / "run" / "model"
    folder.mkdir(parents=True)
    (folder / "quantification.json").write_text(json.dumps(Rates(THEMES, gold, decided, scores).to_json()))
    return folder


def labeled(path, model, docs: dict[str, list[list[str]]], source=lambda doc: f"{doc}.txt"):
    """A labeled file of ``docs`` (doc_id -> each paragraph's labels) and its manifest, as `label` writes."""
    rows = []
    for doc, paras in docs.items():
        for i, labs in enumerate(paras):
            scores = {t: (0.9 if t in labs else 0.2) for t in THEMES}
            rows.append({"doc_id": doc, "paragraph": i, "source": source(doc), "start": 0, "end": 1, "text": "x"})
            rows[-1].update(labels=labs, scores=scores)
    suffix = path.suffix
    if suffix == ".jsonl":
        write_jsonl(path, rows)
    else:
        frame = pd.DataFrame(rows)
        if suffix == ".csv":
            for t in THEMES:
                frame[f"score_{t}"] = [r["scores"][t] for r in rows]
            frame.drop(columns="scores").assign(labels=[";".join(r["labels"]) for r in rows]).to_csv(path, index=False)
        else:
            frame.to_parquet(path)
    manifest = {"model": {"path": str(model), "kind": "tfidf"}, "paragraphs": len(rows), "complete": True}
    path.with_name(path.name + ".manifest.json").write_text(json.dumps(manifest))
    return path


# doc a: 20 paragraphs, 10 labeled innovation, 4 upgrading; doc b: 20 paragraphs, 2 innovation, none upgrading
DOCS = {
    "a": [["innovation"]] * 6 + [["innovation", "upgrading"]] * 4 + [[]] * 10,
    "b": [["innovation"]] * 2 + [[]] * 18,
}


def read(path) -> pd.DataFrame:
    return pd.read_json(path, lines=True, dtype={"doc_id": str, "year": str})


def test_shares_match_hand_computed_acc(model, tmp_path, capsys):
    src = labeled(tmp_path / "labels.jsonl", model, DOCS)
    out = tmp_path / "shares.jsonl"
    assert run("summarize", src, "--out", out, "--by", "doc_id", "--method", "acc") == 0
    assert "summarized 40 paragraphs into 2 group(s)" in capsys.readouterr().out
    t = read(out).set_index(["doc_id", "theme"])
    expected = {
        ("a", "innovation"): (0.5, (0.5 - 0.1) / 0.7),
        ("a", "upgrading"): (0.2, 0.2 / 0.5),
        ("b", "innovation"): (0.1, 0.0),  # (0.1 - 0.1) / 0.7
        ("b", "upgrading"): (0.0, 0.0),  # a theme never predicted
    }
    for key, (counted, share) in expected.items():
        row = t.loc[key]
        assert row["paragraphs"] == 20 and row["method"] == "acc"
        assert row["counted"] == pytest.approx(counted, abs=1e-4)
        assert row["share"] == pytest.approx(share, abs=1e-4)
        assert row["low"] <= row["share"] <= row["high"] and 0 <= row["low"] and row["high"] <= 1
    # a theme never predicted still has an interval above 0 (the model may miss some)
    assert t.loc[("b", "upgrading")]["high"] > 0


def test_shares_match_hand_computed_pcc(model, tmp_path):
    # the fixture's dev split, calibrated: innovation 8 of the 9 paragraphs at 0.9 are positive, 2 of the 11
    # at 0.2; upgrading 5 of 5 at 0.9, 5 of 15 at 0.2. A share is the mean calibrated probability.
    src = labeled(tmp_path / "labels.jsonl", model, DOCS)
    out = tmp_path / "shares.jsonl"
    assert run("summarize", src, "--out", out, "--by", "doc_id") == 0
    t = read(out).set_index(["doc_id", "theme"])
    expected = {
        ("a", "innovation"): (10 * 8 / 9 + 10 * 2 / 11) / 20,
        ("a", "upgrading"): (4 * 1 + 16 * 5 / 15) / 20,
        ("b", "innovation"): (2 * 8 / 9 + 18 * 2 / 11) / 20,
        ("b", "upgrading"): 5 / 15,  # never predicted, but a 0.2 score is positive one time in three
    }
    for key, share in expected.items():
        row = t.loc[key]
        assert row["method"] == "pcc" and row["share"] == pytest.approx(share, abs=1e-4)
        assert row["low"] < row["share"] < row["high"] and 0 <= row["low"] and row["high"] <= 1


def test_pcc_calibration_pools_scores_out_of_order():
    # dev: 1 of 2 positive at 0.1, 0 of 2 at 0.5, 2 of 2 at 0.9: isotonic pools 0.1 and 0.5 into 1 of 4
    rates = Rates(
        ["t"],
        np.array([[1, 0, 0, 0, 1, 1]], bool).T,
        np.zeros((6, 1), bool),
        np.array([[0.1] * 2 + [0.5] * 2 + [0.9] * 2]).T,
    )
    scores = np.array([[0.5], [0.3], [0.05], [0.95], [0.9], [0.7]])
    s = estimate(np.array([0, 0, 0, 1, 1, 1]), 2, scores >= 0.5, scores, rates, "pcc", n_boot=100)
    assert s.share[:, 0] == pytest.approx([0.25, (1 + 1 + 0.25) / 3])


def doc_rates(gold_shares: list[float], per_doc: int = 50) -> Rates:
    """Uninformative scores (all 0.5) on documents whose gold shares are ``gold_shares``."""
    gold = np.concatenate([bits(round(g * per_doc), per_doc) for g in gold_shares])[:, None]
    doc = np.repeat(np.arange(len(gold_shares)), per_doc)
    docs = [f"d{i}" for i in range(len(gold_shares))]
    return Rates(["t"], gold, gold.copy(), np.full(gold.shape, 0.5), docs, doc, np.full(len(doc), "han"))


def test_pcc_intervals_carry_the_spread_between_documents(tmp_path):
    # the same paragraphs: documents all at 0.5, or half at 0.1 and half at 0.9 (the model's scores say
    # nothing of the difference): the interval of a new 50-paragraph document widens with the spread
    same, spread = doc_rates([0.5] * 20), doc_rates([0.1, 0.9] * 10)
    old = Rates.from_json({**spread.to_json(), "version": 1} | {"docs": None})  # no documents: as version 1

    def width(rates):
        s = estimate(np.zeros(50, dtype=np.int64), 1, np.zeros((50, 1), bool), np.full((50, 1), 0.5), rates, "pcc")
        assert s.share[0, 0] == pytest.approx(0.5)
        return s.high[0, 0] - s.low[0, 0]

    assert width(spread) > 3 * width(same)
    assert width(old) == pytest.approx(width(same), abs=0.03)  # no documents, no spread term


def test_rates_file_keeps_documents_and_reads_version_1(model, tmp_path):
    rates = doc_rates([0.2, 0.4])
    back = Rates.from_json(json.loads(json.dumps(rates.to_json())))
    assert back.to_json()["version"] == 2 and back.docs == ["d0", "d1"]
    assert (back.doc == rates.doc).all() and list(back.script) == ["han"] * 100
    # a version-1 file (no documents, as written before them) still reads and corrects
    q = json.loads((model / "quantification.json").read_text())
    q["version"] = 1
    for key in ("docs", "doc", "script"):
        q.pop(key, None)
    (model / "quantification.json").write_text(json.dumps(q))
    src = labeled(tmp_path / "labels.jsonl", model, DOCS)
    out = tmp_path / "s.csv"
    assert run("summarize", src, "--out", out) == 0
    t = pd.read_csv(out).set_index("theme")
    assert t.loc["innovation", "share"] == pytest.approx((12 * 8 / 9 + 28 * 2 / 11) / 40, abs=1e-4)
    q["themes"]["innovation"]["decided"] = "1"
    (model / "quantification.json").write_text(json.dumps(q))
    assert run("summarize", src, "--out", out) == 2


def test_whole_file_without_by_and_counting_method(model, tmp_path):
    src = labeled(tmp_path / "labels.jsonl", model, DOCS)
    out = tmp_path / "all.csv"
    assert run("summarize", src, "--out", out) == 0
    t = pd.read_csv(out).set_index("theme")
    assert list(t.index) == THEMES and (t["paragraphs"] == 40).all() and (t["method"] == "pcc").all()
    assert t.loc["innovation", "counted"] == pytest.approx(0.3)
    assert t.loc["innovation", "share"] == pytest.approx((12 * 8 / 9 + 28 * 2 / 11) / 40, abs=1e-4)
    assert run("summarize", src, "--out", out, "--method", "cc") == 0
    t = pd.read_csv(out).set_index("theme")
    assert (t["share"] == t["counted"]).all() and (t["method"] == "cc").all()


def test_intervals_carry_both_the_rates_and_the_groups_uncertainty():
    gold = np.array([bits(10, 20)]).T
    decided = np.array([bits(8, 10) + bits(1, 10)]).T
    few = Rates(["t"], gold, decided, decided * 0.9)
    many = Rates(["t"], np.tile(gold, (100, 1)), np.tile(decided, (100, 1)), np.tile(decided * 0.9, (100, 1)))

    def width(rates, n):
        on = np.array([[i < n // 2] for i in range(n)])
        s = estimate(np.zeros(n, dtype=np.int64), 1, on, on * 0.9, rates, "acc", n_boot=2000)
        assert s.share[0, 0] == pytest.approx((0.5 - 0.1) / 0.7)
        return s.high[0, 0] - s.low[0, 0]

    # the same group: 20 dev paragraphs leave a wider interval than 2,000 with the same rates
    assert width(few, 10_000) > 3 * width(many, 10_000)
    # the same rates: a group of 40 paragraphs has a wider interval than one of 10,000
    assert width(many, 40) > 3 * width(many, 10_000)


def test_pacc_uses_mean_scores():
    # dev: positives score 0.9 on 8 of 10 and 0.2 on 2 (mean 0.76); negatives 0.9 on 1 of 10 (mean 0.27)
    gold = np.array([bits(10, 20)]).T
    decided = np.array([bits(8, 10) + bits(1, 10)]).T
    rates = Rates(["t"], gold, decided, np.where(decided, 0.9, 0.2))
    scores = np.array([[0.9]] * 5 + [[0.2]] * 15)  # mean 0.375
    s = estimate(np.zeros(20, dtype=np.int64), 1, scores >= 0.5, scores, rates, "pacc", n_boot=200)
    assert s.share[0, 0] == pytest.approx((0.375 - 0.27) / (0.76 - 0.27))


def test_small_group_gets_a_share_but_no_interval(model, tmp_path):
    src = labeled(tmp_path / "labels.jsonl", model, {**DOCS, "c": [["innovation"], []]})
    out = tmp_path / "s.jsonl"
    assert run("summarize", src, "--out", out, "--by", "doc_id") == 0
    c = read(out).set_index(["doc_id", "theme"]).loc[("c", "innovation")]
    assert c["paragraphs"] == 2 and c["share"] == pytest.approx((8 / 9 + 2 / 11) / 2, abs=1e-4)
    assert pd.isna(c["low"]) and pd.isna(c["high"]) and "too few paragraphs" in c["note"]


def test_meta_groups_include_groups_with_no_paragraphs(model, tmp_path):
    src = labeled(tmp_path / "labels.jsonl", model, DOCS)
    meta = tmp_path / "docs.csv"
    meta.write_text("doc_id,year,province\na,2025,Anhui\nb,2026,Anhui\nz,2027,Hebei\n")
    out = tmp_path / "s.jsonl"
    assert run("summarize", src, "--out", out, "--by", "year,province", "--meta", meta) == 0
    t = read(out)
    assert list(t["year"].unique()) == ["2025", "2026", "2027"]
    empty = t[t["year"] == "2027"]
    assert (empty["paragraphs"] == 0).all() and empty["share"].isna().all() and (empty["note"] == "no paragraphs").all()
    row = t[(t["year"] == "2025") & (t["theme"] == "innovation")].iloc[0]
    assert row["province"] == "Anhui" and row["share"] == pytest.approx((10 * 8 / 9 + 10 * 2 / 11) / 20, abs=1e-4)


@pytest.mark.parametrize(
    "meta_text, by, message",
    [
        (None, "year", r"nothing\.csv: no such metadata file"),
        ("doc_id,year\na,2025\nb,2026\na,2027\n", "year", r"docs\.csv:4: duplicate doc_id 'a'"),
        ("doc_id,year\na,2025\nb,2026\n", "province", r"--by province: no such column"),
        ("id,year\na,2025\n", "year", r"docs\.csv: no doc_id column"),
    ],
)
def test_meta_join_errors_give_one_line_and_exit_2(model, tmp_path, capsys, meta_text, by, message):
    src = labeled(tmp_path / "labels.jsonl", model, DOCS)
    meta = tmp_path / ("docs.csv" if meta_text else "nothing.csv")
    if meta_text:
        meta.write_text(meta_text)
    out = tmp_path / "s.csv"
    out.write_text("kept")
    assert run("summarize", src, "--out", out, "--by", by, "--meta", meta) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]) and "Traceback" not in err[0]
    assert out.read_text() == "kept"  # nothing already written is lost


def test_model_without_rates_is_one_line(tmp_path, capsys):
    bare = tmp_path / "old" / "model"
    bare.mkdir(parents=True)
    src = labeled(tmp_path / "labels.jsonl", bare, DOCS)
    assert run("summarize", src, "--out", tmp_path / "s.csv") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no dev-split error rates" in err[0]
    assert run("summarize", src, "--out", tmp_path / "s.csv", "--method", "cc") == 0


@pytest.mark.parametrize("fmt", [".jsonl", ".csv", ".parquet"])
def test_every_input_and_output_format_gives_the_same_table(model, tmp_path, fmt):
    src = labeled(tmp_path / f"labels{fmt}", model, DOCS)
    tables = []
    for out_fmt in (".csv", ".jsonl", ".parquet"):
        out = tmp_path / f"s{out_fmt}"
        assert run("summarize", src, "--out", out, "--by", "doc_id") == 0
        t = {".csv": pd.read_csv, ".jsonl": read, ".parquet": pd.read_parquet}[out_fmt](out)
        tables.append(t.assign(doc_id=t["doc_id"].astype(str), note=t["note"].astype(object).fillna("").astype(str)))
    cols = ["doc_id", "theme", "paragraphs", "counted", "share", "low", "high", "method", "note"]
    for t in tables:
        assert list(t.columns) == cols
        pd.testing.assert_frame_equal(t, tables[0], check_dtype=False)
    assert tables[0].loc[0, "share"] == pytest.approx((10 * 8 / 9 + 10 * 2 / 11) / 20, abs=1e-4)


YEARS = {"a": 2026, "b": 2025}  # listed out of order: groups come sorted


def test_by_year_from_file_names(model, tmp_path, capsys):
    src = labeled(tmp_path / "labels.jsonl", model, DOCS, source=lambda d: f"reports/{d}-report-{YEARS[d]}.txt")
    out = tmp_path / "s.csv"
    assert run("summarize", src, "--out", out, "--by", "year") == 0
    t = pd.read_csv(out, dtype={"year": str})
    assert list(t["year"].unique()) == ["2025", "2026"]
    assert t[t["year"] == "2025"]["paragraphs"].eq(20).all()
    bad = labeled(tmp_path / "nodate.jsonl", model, DOCS)
    assert run("summarize", bad, "--out", out, "--by", "year") == 2
    assert "has no year in its file name" in capsys.readouterr().err


def test_run_stores_rates_and_summarize_finds_them(tmp_path, capsys):
    data = write_jsonl(tmp_path / "tiny.jsonl", make_rows())
    assert run("train", "--model", "tfidf-logreg", "--data", data, "--out", tmp_path / "run", "--n-boot", 10) == 0
    q = json.loads((tmp_path / "run" / "model" / "quantification.json").read_text())
    assert q["paragraphs"] > 0 and set(q["themes"]) == {"price_competition", "industrial_upgrading", "innovation"}
    assert q["version"] == 2 and len(q["doc"]) == len(q["script"]) == q["paragraphs"]
    assert set(q["script"]) <= {"han", "latin", "other"} and max(q["doc"]) < len(q["docs"]) == len(set(q["docs"]))
    for v in q["themes"].values():
        gold = np.array([c == "1" for c in v["gold"]])
        dec = np.array([c == "1" for c in v["decided"]])
        assert v["positives"] == gold.sum() and v["tpr"] == pytest.approx(dec[gold].mean(), abs=1e-4)
    assert "Error rates for theme shares" in (tmp_path / "run" / "MODEL_CARD.md").read_text()
    corpus = make_corpus(tmp_path / "docs", 3, 12)
    out = tmp_path / "labels.jsonl"
    assert run("label", corpus, "--out", out, "--model", tmp_path / "run", "--quiet") == 0
    assert run("summarize", out, "--out", tmp_path / "s.csv", "--by", "doc_id") == 0
    t = pd.read_csv(tmp_path / "s.csv")
    assert len(t) == 9 and (t["paragraphs"] == 12).all() and t["share"].between(0, 1).all()


@pytest.fixture
def page(model, tmp_path):
    docs = {
        f"{p}-{y}": [["innovation"]] * (3 + y % 5) + [["upgrading"]] * 4 + [[]] * 12 for p in "xy" for y in range(6)
    }
    src = labeled(tmp_path / "labels.jsonl", model, docs, source=lambda d: f"{d[0]}/report-{2019 + int(d[2:])}.txt")
    meta = tmp_path / "docs.csv"
    meta.write_text("doc_id,province\n" + "".join(f"{d},{d[0].upper()}\n" for d in docs))
    out = tmp_path / "shares.html"
    assert (
        run("summarize", src, "--out", out, "--by", "year,province", "--meta", meta, "--plot", tmp_path / "f.svg") == 0
    )
    return out


def test_html_page_and_plots(page, tmp_path):
    text = page.read_text(encoding="utf-8")
    images = re.findall(r'<img src="data:image/png;base64,', text)
    assert len(images) == 3  # years, heat map, corrected against counted
    assert "<th>province</th>" in text and not re.search(r"(src|href)=\"https?:", text)
    for name in ("years", "heatmap", "corrected"):
        svg = (tmp_path / f"f-{name}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg


@pytest.mark.skipif(
    BROWSER is None and not os.environ.get("POLICYTHEME_REQUIRE_OPTIONAL"),
    reason="no Chromium (make browser installs it)",
)
def test_html_renders_its_charts_in_chromium(page, tmp_path):
    assert BROWSER, "POLICYTHEME_REQUIRE_OPTIONAL is set but no Chromium is installed"
    images = loaded_images(page, tmp_path)
    assert len(images) == 3 and all(done and w > 300 and h > 150 for done, w, h in images)
    shot = tmp_path / "page.png"
    _chromium(f"--user-data-dir={tmp_path / 'p2'}", f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    colourful = pixels[(pixels.max(axis=2) - pixels.min(axis=2)) > 80]
    assert len(colourful) > 10_000  # the charts' lines, bands and heat map, not only text on white
