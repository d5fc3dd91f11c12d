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
    from policytheme.annotating import retrain_on_labels

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


# --- a day's work: mixed languages, undo, thresholds, readable evidence, cold start ---------------------------
def _mixed_docs(folder: Path) -> Path:
    folder.mkdir()
    phrases = [p for group in PHRASES.values() for p in group]
    zh = [f"{phrases[i % len(phrases)]} 这是第{i}段的说明文字，内容较为完整。" for i in range(20)]
    en = [
        f"Paragraph {i}: firms immediately cut prices below cost, and the State supports research and upgrading."
        for i in range(20)
    ]
    (folder / "zh.txt").write_text("\n\n".join(["一、总体要求", *zh, "谢谢。"]), encoding="utf-8")
    (folder / "en.txt").write_text("\n\n".join(["Conclusion", *en, "Thank you."]), encoding="utf-8")
    return folder


def test_retraining_works_on_a_mix_of_languages_and_says_what_it_needs(model, tmp_path):
    from policytheme.annotating import retrain_on_labels

    docs, out = _mixed_docs(tmp_path / "docs"), tmp_path / "mine.jsonl"
    codebook = tmp_path / "cb.json"
    codebook.write_text(json.dumps({"labels": CODEBOOK}))
    s = Session([str(docs)], out, None, CODEBOOK, retrain_every=0)
    for k in range(30):
        it = s.next()
        s.answer(it["id"], [CODEBOOK[k % 3]["id"]] if k % 4 else [])
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r.get("lang") for r in rows} == {"zh", None}  # English rows: no lang, never 'und'
    new, report = retrain_on_labels(out, str(codebook), tmp_path / "work")
    again, _ = retrain_on_labels(out, str(codebook), tmp_path / "work", current=new)  # and again, after a restart
    assert report["labels"] + report["held_out"] == 30 and (again / "model" / "model.json").is_file()
    few = write_jsonl(tmp_path / "few.jsonl", rows[:9])  # fewer than 10 to train on, whatever is held out
    with pytest.raises(Exception) as e:
        retrain_on_labels(few, str(codebook), tmp_path / "w2")
    assert "retraining needs at least 10 to train on" in str(e.value) and "9 answers" in str(e.value)


def test_cold_start_spreads_over_documents_and_skips_headings(tmp_path):
    from policytheme.label.annotate import is_heading

    s = Session([str(_mixed_docs(tmp_path / "docs"))], tmp_path / "a.jsonl", None, CODEBOOK, retrain_every=0)
    shown = []
    for _ in range(14):
        it = s.next()
        shown.append(it)
        s.answer(it["id"], [])
    assert sum(it["doc_id"].endswith("zh.txt") for it in shown) == 7  # both documents, in turn
    assert not any(is_heading(it["text"]) for it in shown)
    assert is_heading("Conclusion") and is_heading("Thank you.") and is_heading("一、总体要求")
    assert not is_heading(shown[0]["text"])


def test_undo_restores_the_answer_thresholds_shown_evidence_readable(model, tmp_path):
    from policytheme.label.annotate import readable

    docs, out = _docs(tmp_path / "docs"), tmp_path / "a.jsonl"
    s = Session([str(docs)], out, model, CODEBOOK, retrain_every=0)
    it = s.next()
    mine = [t for t in s.themes if t not in it["suggestion"]][:1]  # not what the model suggests
    s.answer(it["id"], mine)
    back = s.undo()["item"]
    assert back["id"] == it["id"] and back["previous"] == mine
    assert set(back["thresholds"]) == set(s.themes) and all(0 <= v <= 1 for v in back["thresholds"].values())
    assert all(not back["evidence"][t] for t in s.themes if t not in back["suggestion"])  # only suggested themes
    text = "Our suppliers must act immediately. State support, 以“综合整治内卷式竞争”为重点。"
    assert readable(text, ["ately", "Stat", "uppl", "ust", "，以“", "综合整治内卷式竞争"]) == [
        "immediately",
        "State",
        "suppliers",
        "must",
        "综合整治内卷式竞争",
    ]


@pytest.mark.skipif(BROWSER is None and not REQUIRED, reason="no Chromium (make test installs it)")
def test_a_days_work_in_chromium_mixed_languages_retrain_undo_and_a_foreign_origin(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    docs, out = _mixed_docs(tmp_path / "docs"), tmp_path / "mine.jsonl"
    codebook = tmp_path / "cb.json"
    codebook.write_text(json.dumps({"labels": CODEBOOK}))
    cli = [sys.executable, "-c", CLI + "raise SystemExit(main(sys.argv[1:]))", "annotate", str(docs)]
    cmd = [*cli, "--out", str(out), "--codebook", str(codebook), "--no-browser", "--retrain-every", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline()).group(0)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            _label(page, 30)  # by keyboard, both documents, cold start (no model for these themes yet)
            rows = [json.loads(x) for x in out.read_text().splitlines()]
            assert len(rows) == 30 and {r["doc_id"].rsplit("/", 1)[-1] for r in rows} == {"zh.txt", "en.txt"}
            box = page.locator("#accept").bounding_box()
            assert box["y"] + box["height"] <= 900  # Accept in view

            page.keyboard.press("Backspace")  # undo: the answer comes back, selected as given
            page.wait_for_function("document.getElementById('counts').textContent.includes('29 / 44')")
            on = page.eval_on_selector_all(".theme.on", "els => els.map(e => e.dataset.theme)")
            assert sorted(on) == sorted(rows[-1]["labels"]) and page.inner_text("#where").startswith(rows[-1]["id"][:5])
            page.keyboard.press("Enter")
            page.wait_for_function("document.getElementById('counts').textContent.includes('30 / 44')")
            assert json.loads(out.read_text().splitlines()[-1])["labels"] == rows[-1]["labels"]

            page.keyboard.press("r")  # retraining on 30 answers in two languages succeeds and shows its gain
            page.wait_for_function("document.getElementById('gain').textContent.includes('macro-F1')", timeout=120_000)
            assert "failed" not in page.inner_text("#gain")
            page.wait_for_function("document.getElementById('model').textContent.includes('model-')", timeout=30_000)

            answered = {r["id"] for r in rows}
            free = next(f"{docs / 'zh.txt'}#{k}" for k in range(1, 20) if f"{docs / 'zh.txt'}#{k}" not in answered)
            evil = browser.new_page()
            evil.route("http://evil.example/", lambda route: route.fulfill(body="<p>hi</p>", content_type="text/html"))
            evil.goto("http://evil.example/")
            before = out.read_bytes()
            body = json.dumps({"id": free, "labels": ["innovation"]})
            evil.evaluate(
                """([url, body]) => Promise.allSettled([
                    fetch(url + "api/answer", {method: "POST", mode: "no-cors", body,
                                                headers: {"Content-Type": "text/plain"}}),
                    fetch(url + "api/answer", {method: "POST", body, headers: {"Content-Type": "application/json"}}),
                ])""",
                [url, body],
            )
            assert out.read_bytes() == before  # nothing saved from another origin

            proc.send_signal(signal.SIGINT)  # the server stops: the page says so, and that nothing was saved
            proc.communicate(timeout=30)
            page.keyboard.press("Enter")
            page.wait_for_function("document.getElementById('msg').textContent.includes('NOT SAVED')")
            assert "not running" in page.inner_text("#msg")
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
