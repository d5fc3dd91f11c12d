"""The HTML report end to end: built by `compare --out report.html` from tiny runs, opened in headless Chromium.

The browser test skips where Chromium is missing, unless POLICYTHEME_REQUIRE_OPTIONAL is set (.ci/run sets it,
and `make test` installs Chromium first), so a missing browser never passes silently there.
"""

import base64
import html
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from policytheme.cli import main
from tests.conftest import make_rows, write_jsonl

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# 2 data sets x (scores, PR curves, reliability) + learning curve + cross-validation
FIGURES = 8


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = write_jsonl(root / "tiny.jsonl", make_rows())
    other = write_jsonl(root / "other.jsonl", make_rows(n_docs=6))
    for name in ("tfidf-logreg", "tfidf-nb"):
        assert run("train", "--model", name, "--data", data, "--out", root / name, "--n-boot", 50) == 0
        assert run("evaluate", root / name, "--data", other, "--n-boot", 50) == 0
    curve = ["--model", "tfidf-nb", "--data", data, "--out", root / "curve-nb"]
    assert run("learning-curve", *curve, "--fractions", "0.3,1", "--seeds", "0,1") == 0
    assert run("cross-validate", "--model", "tfidf-nb", "--data", data, "--out", root / "cv-nb", "--folds", 3) == 0
    out = root / "report.html"
    folders = [root / n for n in ("tfidf-logreg", "tfidf-nb", "curve-nb", "cv-nb")]
    assert run("compare", *folders, "--out", out, "--n-boot", 100) == 0
    return out


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_report_is_one_self_contained_file(report, capsys):
    parser = _Tags()
    parser.feed(report.read_text(encoding="utf-8"))
    images = [a["src"] for t, a in parser.tags if t == "img"]
    assert len(images) == FIGURES and all(src.startswith("data:image/png;base64,") for src in images)
    for src in images:
        png = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert png.format == "PNG" and png.width > 300 and png.height > 100
    links = [a.get("src") or a.get("href") for t, a in parser.tags if t in ("script", "link", "a", "img")]
    assert not [x for x in links if x and re.match(r"(https?:)?//", x)]  # nothing fetched from elsewhere
    ids = {a.get("id") for _, a in parser.tags}
    assert {"curves", "cv", "errors", "ngrams"} <= ids
    text = report.read_text(encoding="utf-8")
    assert "Leaderboard: tiny (test split)" in text and "Leaderboard: other" in text and "paired bootstrap" in text


def _chromium(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, *HEADLESS, *args], capture_output=True, text=True, timeout=timeout)


def loaded_images(page, tmp_path) -> list:
    """[complete, naturalWidth, naturalHeight] of every <img> of ``page`` once Chromium has loaded it: a copy of
    the page records them in an attribute, read back from the dumped DOM."""
    probe = tmp_path / "probe.html"
    script = (
        "<script>addEventListener('load', () => document.body.setAttribute('data-images', JSON.stringify("
        "[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]))));</script>"
    )
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    dom = _chromium(f"--user-data-dir={tmp_path / 'profile-probe'}", "--dump-dom", probe.as_uri())
    found = re.search(r'data-images="([^"]*)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(
    BROWSER is None and not os.environ.get("POLICYTHEME_REQUIRE_OPTIONAL"), reason="no Chromium (make test installs it)"
)
def test_report_renders_with_its_images_in_chromium(report, tmp_path):
    assert BROWSER, "POLICYTHEME_REQUIRE_OPTIONAL is set but no Chromium is installed"
    # 1. every <img> decoded: a copy of the page records each image's natural size once loaded
    images = loaded_images(report, tmp_path)
    assert len(images) == FIGURES and all(done and w > 300 and h > 100 for done, w, h in images)

    # 2. the screenshot shows the page and its figures: matplotlib's colours, not only text on white
    shot = tmp_path / "report.png"
    _chromium(
        f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}", "--window-size=1280,4000", report.as_uri()
    )
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape == (4000, 1280, 3)
    background = pixels[5, 5]
    assert (np.abs(pixels - background).sum(axis=2) > 30).mean() > 0.05  # not blank
    colourful = pixels[(pixels.max(axis=2) - pixels.min(axis=2)) > 80]
    # text, links and shading give a few hundred colourful pixels; plotted lines and markers tens of thousands
    assert len(colourful) > 10_000 and len({tuple(c) for c in colourful}) > 500


def test_evaluate_keeps_what_the_report_needs(report):
    folder = report.parent / "tfidf-logreg"
    m = json.loads((folder / "metrics-other.json").read_text(encoding="utf-8"))
    labels = m["labels"]
    assert m["predictions"] == "predictions-other.jsonl" and len(m["data"]["paragraphs_sha256"]) == 64
    assert m["fit_seconds"] >= 0 and m["model_bytes"] > 0 and m["paragraphs_per_second"] > 0  # cost, from run.json
    assert set(m["curves"]["pr"]) == set(m["curves"]["reliability"]) == set(m["errors"]) == set(labels)
    assert sum(b["count"] for b in m["curves"]["reliability"]["innovation"]) == m["n"]
    assert all(0 <= m["per_label"][lab]["ece"] <= 1 for lab in labels) and m["macro_ece"] is not None
    assert set(m["top_ngrams"]) == set(labels) and m["top_ngrams"]["innovation"]
    rows = [json.loads(x) for x in (folder / "predictions-other.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == m["n"] and all(r["text"] for r in rows)
