"""The annotate page end to end in headless Chromium: label by keyboard, kill the server, resume, undo; the
labels file holds every answer once and trains a model. Also active learning and retraining as functions."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from policytheme.cli import main
from policytheme.label.annotate import Session
from policytheme.models.active import pick, uncertainty, vectors
from tests.conftest import PHRASES, make_rows, write_jsonl

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = bool(os.environ.get("POLICYTHEME_REQUIRE_OPTIONAL"))
CODEBOOK = [
    {"id": t, "name": t, "description": ""} for t in ("price_competition", "industrial_upgrading", "innovation")
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("m")
    data = write_jsonl(root / "tiny.jsonl", make_rows())
    assert (
        main(["train", "--model", "tfidf-logreg", "--data", str(data), "--out", str(root / "run"), "--n-boot", "10"])
        == 0
    )
    return root / "run"


def _docs(folder: Path, n_docs: int = 6, per_doc: int = 8) -> Path:
    folder.mkdir()
    phrases = [p for group in PHRASES.values() for p in group]
    for d in range(n_docs):
        paras = [f"{phrases[(d * 3 + i) % len(phrases)]} 第{d}号文件第{i}段。" for i in range(per_doc)]
        (folder / f"doc{d}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    return folder


# The test stops the server with Ctrl-C (SIGINT). A run started as a background job (`make test &`) passes
# SIGINT down ignored, and Python then never raises KeyboardInterrupt, so the child restores it first.
CLI = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); from policytheme.cli import main; "


def _start(docs: Path, out: Path, model: Path) -> tuple[subprocess.Popen, str]:
    cli = [sys.executable, "-c", CLI + "raise SystemExit(main(sys.argv[1:]))"]
    cmd = [*cli, "annotate", str(docs), "--out", str(out), "--model", str(model)]
    proc = subprocess.Popen([*cmd, "--no-browser", "--retrain-every", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    url = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert url, line
    return proc, url.group(0)


def _label(page, n: int) -> None:
    for i in range(n):
        page.wait_for_function("document.getElementById('text').textContent.length > 5")
        before = page.inner_text("#where")
        page.keyboard.press(str(i % 3 + 1))  # toggle a theme on top of the model's suggestion
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('where').textContent !== {json.dumps(before)}")


@pytest.mark.skipif(BROWSER is None and not REQUIRED, reason="no Chromium (make test installs it)")
def test_label_by_keyboard_kill_resume_undo_and_train(model, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    docs, out = _docs(tmp_path / "docs"), tmp_path / "my-labels.jsonl"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        proc, url = _start(docs, out, model)
        page = browser.new_page()
        page.goto(url)
        _label(page, 12)
        os.kill(proc.pid, signal.SIGKILL)  # a crash: no chance to save anything more
        proc.wait()
        assert len(out.read_text().splitlines()) == 12

        proc, url = _start(docs, out, model)
        page.goto(url)
        page.wait_for_function("document.getElementById('counts').textContent.includes('12 / 48')")
        _label(page, 8)
        page.keyboard.press("u")  # take back the last answer...
        page.wait_for_function("document.getElementById('counts').textContent.includes('19 / 48')")
        _label(page, 1)  # ...and give one again
        page.wait_for_function("document.getElementById('counts').textContent.includes('20 / 48')")
        proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop with a summary
        stdout = proc.communicate(timeout=30)[0]
        browser.close()
    assert proc.returncode == 0 and "20 answers in" in stdout
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 20 and len({r["id"] for r in rows}) == 20  # nothing lost, nothing twice
    themes = {t["id"] for t in CODEBOOK}
    assert all(set(r["labels"]) <= themes for r in rows) and sum(bool(r["labels"]) for r in rows) >= 10
    data = write_jsonl(tmp_path / "tiny.jsonl", make_rows())
    run = tmp_path / "run"
    assert (
        main(["train", "--model", "tfidf-nb", "--data", str(data), str(out), "--out", str(run), "--n-boot", "10"]) == 0
    )
    assert json.loads((run / "run.json").read_text())["data"]["with"][0]["paragraphs"] == 20


def test_session_resumes_undoes_and_skips(model, tmp_path):
    docs, out = _docs(tmp_path / "docs"), tmp_path / "a.jsonl"
    s = Session([str(docs)], out, model, CODEBOOK, retrain_every=0)
    first = s.next()
    assert first["suggestion"] == [t for t in first["scores"] if first["scores"][t] >= 0.0 and t in first["suggestion"]]
    s.answer(first["id"], ["innovation"])
    second = s.next()
    s.skip(second["id"])
    assert s.next()["id"] not in (first["id"], second["id"])
    again = Session([str(docs)], out, model, CODEBOOK, retrain_every=0)  # a new process: the same state
    assert set(again.answers) == {first["id"]} and again.state()["skipped"] == 1
    again.undo()  # the skip
    again.undo()  # the answer
    assert out.read_text() == "" and again.state()["answered"] == 0
    with open(out, "a") as f:
        f.write('{"id": "torn')  # a crash in the middle of a line: that answer was never confirmed
    assert Session([str(docs)], out, model, CODEBOOK).answers == {}


def test_uncertainty_and_diverse_picks():
    scores = np.array([[0.5, 0.1], [0.9, 0.0], [0.05, 0.02], [0.45, 0.3]])
    u = uncertainty(scores, np.array([0.5, 0.4]))
    assert u[0] == pytest.approx(1.0) and u[1] < u[3] and u[2] < 0.2
    texts = ["价格战 利润下滑", "价格战 利润下滑。", "加大研发投入", "Firms cut prices below cost"]
    vecs = vectors(texts)
    flat = np.full((4, 1), 0.5)  # all equally uncertain: diversity decides
    picked = pick(flat, np.array([0.5]), vecs, np.arange(4), seen=[0], k=3)
    assert 1 not in picked[:2]  # the near-duplicate of what was seen comes last


def test_retraining_reports_the_gain_on_held_out_answers(model, tmp_path):
    from policytheme.runs import retrain_on_labels

    rows = [dict(r, id=f"x{i}") for i, r in enumerate(make_rows())]
    labels = write_jsonl(tmp_path / "l.jsonl", rows)
    codebook = tmp_path / "cb.json"
    codebook.write_text(json.dumps({"labels": CODEBOOK}))
    new, report = retrain_on_labels(labels, str(codebook), tmp_path / "work", current=model)
    assert (new / "model" / "model.json").is_file()
    assert report["held_out"] + report["labels"] == len(rows) and report["held_out"] > 5
    assert 0 <= report["after"] <= 1 and report["before"] is not None


# --- hostile requests: the server refuses what its page would never send -------------------------------------
def _request(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.request(method, path, body=raw, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, json.loads(data) if data.startswith(b"{") else {}


@pytest.fixture
def served(model, tmp_path):
    from policytheme.label.annotate import serve

    s = Session([str(_docs(tmp_path / "docs"))], tmp_path / "a.jsonl", model, CODEBOOK, retrain_every=0)
    server = serve(s, port=0, open_browser=False)
    yield s, server.server_address[1]
    server.shutdown()
    server.server_close()


def _write_headers(s, port: int) -> dict:
    return {"Content-Type": "application/json", "X-Policytheme-Token": s.token, "Origin": f"http://127.0.0.1:{port}"}


def test_foreign_host_origin_or_missing_token_is_refused(served):
    s, port = served
    pid = s.paragraphs[0].id
    body = {"id": pid, "labels": ["innovation"]}
    status, _ = _request(port, "GET", "/api/next", headers={"Host": "evil.example"})  # DNS rebinding
    assert status == 403
    status, _ = _request(port, "GET", "/", headers={"Host": f"evil.example:{port}"})
    assert status == 403
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    assert _request(port, "POST", "/api/answer", body, evil)[0] == 403  # CSRF, as in the audit
    foreign = {**_write_headers(s, port), "Origin": "http://evil.example"}
    assert _request(port, "POST", "/api/answer", body, foreign)[0] == 403
    assert _request(port, "POST", "/api/answer", body, {"Content-Type": "application/json"})[0] == 403  # no token
    assert not s.out.exists() or s.out.read_text() == ""
    page = _request(port, "GET", "/")
    assert page[0] == 200
    status, state = _request(port, "POST", "/api/answer", body, _write_headers(s, port))
    assert status == 200 and state["answered"] == 1


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/api/skip", {"id": {}}, 400),
        ("/api/skip", {"id": "no/such.txt#0"}, 400),
        ("/api/answer", [1, 2], 400),
        ("/api/answer", {"id": "FIRST", "labels": None}, 400),
        ("/api/answer", {"id": "FIRST", "labels": ["innovation", "innovation"]}, 400),
        ("/api/answer", {"id": "FIRST", "labels": ["nonsense"]}, 400),
        ("/api/answer", {"id": "FIRST", "labels": [1]}, 400),
        ("/api/answer", b"\xff\xfe", 400),
        ("/api/answer", b"[" * 100_000, 413),
    ],
)
def test_bad_bodies_are_refused_and_the_session_goes_on(served, path, body, status):
    s, port = served
    if isinstance(body, dict) and body.get("id") == "FIRST":
        body = {**body, "id": s.paragraphs[0].id}
    got, data = _request(port, "POST", path, body, _write_headers(s, port))
    assert got == status and data.get("error")
    assert _request(port, "GET", "/api/next")[0] == 200  # nothing stored that breaks the next request
    assert not s.out.exists() or s.out.read_text() == ""
    assert not s.log.exists() or s.log.read_text() == ""


def test_restart_on_damaged_files_reports_and_goes_on(model, tmp_path):
    docs, out = _docs(tmp_path / "docs"), tmp_path / "a.jsonl"
    s = Session([str(docs)], out, model, CODEBOOK, retrain_every=0)
    a, b = s.paragraphs[0].id, s.paragraphs[1].id
    s.answer(a, ["innovation"])
    good = out.read_bytes()
    torn = json.dumps({"id": b, "labels": [], "text": "企业价格战"}, ensure_ascii=False).encode()
    out.write_bytes(good + b'{"labels": []}\n' + torn[: torn.index("价".encode()) + 1])  # cut inside a character
    log = s.log
    log.write_bytes(log.read_bytes() + b'{"id": "x"}\n{"action": "skip", "id": {}}\n')
    again = Session([str(docs)], out, model, CODEBOOK, retrain_every=0)
    assert set(again.answers) == {a}
    assert any("not an answer" in p for p in again.problems) and any("not a skip" in p for p in again.problems)
    assert again.next() is not None
    again.undo()
    assert out.read_bytes() == b'{"labels": []}\n'  # the row that is not an answer is kept, not lost
    assert again.state()["answered"] == 0


def test_same_port_on_restart_when_free(tmp_path):
    from policytheme.label.annotate import default_port

    out = tmp_path / "l.jsonl"
    assert default_port(out) == default_port(tmp_path / "." / "l.jsonl") != default_port(tmp_path / "m.jsonl")
    assert 20_000 <= default_port(out) < 40_000
