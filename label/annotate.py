"""Label your own paragraphs with a model in the loop: a local page, active learning, nothing ever lost.

    session = Session(["reports/"], Path("my-labels.jsonl"), model_dir, codebook, retrain=...)
    serve(session, port=0)           # http://127.0.0.1:PORT/ , keys: 1-9 toggle, Enter accept, s skip, u undo

Each answer is appended to the labels file and flushed to disk before the page moves on, so a crash or
Ctrl-C loses nothing, and the same command resumes where it stopped. The labels file is training data as
it is (``policytheme train --data my-labels.jsonl ...``). Skips and the order of answers (for undo) are kept
beside it in ``my-labels.jsonl.session.jsonl``. Undo rewrites the labels file atomically without the last
answer. The next paragraph is chosen by models/active.py from the current model's scores; every
``retrain_every`` answers (or on request) the model is retrained in the background by the ``retrain``
function the caller gives, which also reports the gain on the user's held-out labels.
"""

from __future__ import annotations

import json
import os
import re
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from policytheme.data.documents import iter_documents
from policytheme.data.records import DataError
from policytheme.models import load_model
from policytheme.models.active import pick, vectors
from policytheme.models.folders import write_file

PAGE = Path(__file__).with_name("annotate.html")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Paragraph:
    id: str
    doc_id: str
    paragraph: int
    text: str


@dataclass
class Retraining:
    running: bool = False
    last: dict = field(default_factory=dict)  # {"labels", "held_out", "before", "after", "model"} or {"error"}
    answers_at_last: int = 0


class Session:
    """The paragraphs, the answers so far, the model's scores, and what to show next."""

    def __init__(
        self,
        inputs: list[str],
        out: Path,
        model: Path | None,
        codebook: list[dict],
        retrain: Callable[[Path], tuple[Path, dict]] | None = None,
        retrain_every: int = 25,
    ):
        self.out, self.log = Path(out), Path(out).with_name(Path(out).name + ".session.jsonl")
        self.codebook, self.themes = codebook, [t["id"] for t in codebook]
        self.retrain_fn, self.retrain_every = retrain, retrain_every
        self.problems: list[str] = []
        self.paragraphs = [
            Paragraph(f"{doc.doc_id}#{i}", doc.doc_id, i, text)
            for doc in iter_documents(inputs, on_error=lambda p, r: self.problems.append(r))
            for i, text in enumerate(doc.paragraphs)
        ]
        if not self.paragraphs:
            raise DataError([f"{' '.join(inputs)}: no paragraphs to annotate", *self.problems[:1]])
        self.index = {p.id: i for i, p in enumerate(self.paragraphs)}
        self.lock = threading.Lock()
        self.answers = self._read_answers()
        self.events = self._read_events()
        self.vecs = vectors([p.text for p in self.paragraphs])
        self.retraining = Retraining(answers_at_last=len(self.answers))
        self.use_model(model)

    # --- state on disk -----------------------------------------------------------------------------------
    def _read_answers(self) -> dict[str, dict]:
        answers = {}
        lines = self.out.read_text(encoding="utf-8").splitlines() if self.out.is_file() else []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                if lineno == len(lines):
                    continue  # a last line cut short by a crash: that answer was never confirmed
                raise DataError([f"{self.out}:{lineno}: invalid JSON; fix or remove the line"]) from None
            answers[row["id"]] = row
        if lines and not self.out.read_text(encoding="utf-8").endswith("\n"):  # drop the torn line for good
            write_file(self.out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in answers.values()))
        return answers

    def _read_events(self) -> list[dict]:
        events = []
        if self.log.is_file():
            for line in self.log.read_text(encoding="utf-8").splitlines():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a torn last line
        answered = set(self.answers)
        return [e for e in events if e["action"] == "skip" or e["id"] in answered]

    def _append(self, path: Path, obj: dict) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # --- the model ---------------------------------------------------------------------------------------
    def use_model(self, model: Path | None) -> None:
        """Score every paragraph with ``model`` (themes it does not know score 0 with threshold 0.5)."""
        n, k = len(self.paragraphs), len(self.themes)
        self.scores, self.thresholds = np.zeros((n, k)), np.full(k, 0.5)
        self.model, self.model_path = None, model
        if model is None:
            return
        m = load_model(model)
        known = [j for j, t in enumerate(self.themes) if t in m.labels]
        if known:
            s = m.predict_proba([p.text for p in self.paragraphs])
            for j in known:
                self.scores[:, j] = s[:, m.labels.index(self.themes[j])]
                self.thresholds[j] = m.thresholds_[m.labels.index(self.themes[j])]
            self.model = m

    # --- what the page asks --------------------------------------------------------------------------------
    def next(self) -> dict | None:
        with self.lock:
            done = set(self.answers) | {e["id"] for e in self.events if e["action"] == "skip"}
            candidates = np.array([i for i, p in enumerate(self.paragraphs) if p.id not in done], dtype=np.int64)
            seen = [self.index[e["id"]] for e in self.events if e["id"] in self.index]
            chosen = pick(self.scores, self.thresholds, self.vecs, candidates, seen)
            return self.item(chosen[0]) if chosen else None

    def item(self, i: int) -> dict:
        p = self.paragraphs[i]
        near = [q for q in self.paragraphs[max(0, i - 2) : i + 3] if q.doc_id == p.doc_id and q.id != p.id]
        evidence = self.model.explain([p.text])[0] if self.model is not None else {}
        return {
            "id": p.id,
            "doc_id": p.doc_id,
            "paragraph": p.paragraph,
            "text": p.text,
            "before": [q.text for q in near if q.paragraph < p.paragraph],
            "after": [q.text for q in near if q.paragraph > p.paragraph],
            "scores": {t: round(float(s), 3) for t, s in zip(self.themes, self.scores[i])},
            "suggestion": [t for t, s, th in zip(self.themes, self.scores[i], self.thresholds) if s >= th]
            if self.model is not None
            else [],
            "evidence": {t: evidence.get(t, []) for t in self.themes},
        }

    def answer(self, pid: str, labels: list[str]) -> dict:
        unknown = [t for t in labels if t not in self.themes]
        if pid not in self.index or unknown:
            raise DataError([f"unknown paragraph {pid!r} or theme(s) {unknown}"])
        p = self.paragraphs[self.index[pid]]
        row = {"id": p.id, "doc_id": p.doc_id, "paragraph": p.paragraph, "text": p.text, "labels": labels}
        if len(_CJK.findall(p.text)) > 0.3 * max(1, len(p.text)):
            row["lang"] = "zh"
        with self.lock:
            if pid in self.answers:
                raise DataError([f"{pid}: already answered (undo it first)"])
            self._append(self.out, row)  # the answer is on disk before anything else happens
            self._append(self.log, {"action": "answer", "id": pid})
            self.answers[pid] = row
            self.events.append({"action": "answer", "id": pid})
        self._maybe_retrain()
        return self.state()

    def skip(self, pid: str) -> dict:
        with self.lock:
            self._append(self.log, {"action": "skip", "id": pid})
            self.events.append({"action": "skip", "id": pid})
        return self.state()

    def undo(self) -> dict:
        """Take back the last answer or skip (the labels file is rewritten atomically without it)."""
        with self.lock:
            if not self.events:
                return {**self.state(), "undone": None}
            last = self.events.pop()
            if last["action"] == "answer":
                self.answers.pop(last["id"], None)
                write_file(self.out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.answers.values()))
            write_file(self.log, "".join(json.dumps(e) + "\n" for e in self.events))
            return {**self.state(), "undone": last}

    def state(self) -> dict:
        counts = {t: sum(t in r["labels"] for r in self.answers.values()) for t in self.themes}
        return {
            "themes": self.codebook,
            "answered": len(self.answers),
            "none": sum(not r["labels"] for r in self.answers.values()),
            "skipped": sum(e["action"] == "skip" for e in self.events),
            "paragraphs": len(self.paragraphs),
            "counts": counts,
            "model": str(self.model_path) if self.model is not None else None,
            "retraining": self.retraining.running,
            "last_retrain": self.retraining.last,
            "problems": self.problems[:5],
            "out": str(self.out),
        }

    # --- retraining in the background ---------------------------------------------------------------------
    def _maybe_retrain(self) -> None:
        due = len(self.answers) - self.retraining.answers_at_last >= self.retrain_every
        if due and self.retrain_every > 0:
            self.retrain()

    def retrain(self) -> bool:
        """Start retraining on the labels so far, unless it is running; False when it cannot start."""
        if self.retrain_fn is None or self.retraining.running:
            return False
        self.retraining.running, self.retraining.answers_at_last = True, len(self.answers)

        def work() -> None:
            try:
                model, report = self.retrain_fn(self.out)
                with self.lock:
                    self.use_model(model)
                self.retraining.last = report
            except Exception as e:  # noqa: BLE001 - shown on the page; the session goes on with the old model
                self.retraining.last = {"error": str(e).splitlines()[0] if str(e) else type(e).__name__}
            finally:
                self.retraining.running = False

        threading.Thread(target=work, name="policytheme-retrain", daemon=True).start()
        return True


def handler(session: Session):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no request log in the user's terminal
            return

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj, code: int = 200) -> None:
            self._send(code, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def do_GET(self) -> None:
            if self.path == "/":
                self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif self.path == "/api/state":
                self._json(session.state())
            elif self.path == "/api/next":
                self._json({"item": session.next(), "state": session.state()})
            else:
                self._json({"error": "not found"}, 404)

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path == "/api/answer":
                    self._json(session.answer(body["id"], list(body.get("labels", []))))
                elif self.path == "/api/skip":
                    self._json(session.skip(body["id"]))
                elif self.path == "/api/undo":
                    self._json(session.undo())
                elif self.path == "/api/retrain":
                    self._json({"started": session.retrain(), **session.state()})
                else:
                    self._json({"error": "not found"}, 404)
            except (DataError, KeyError, ValueError) as e:
                self._json({"error": str(e)}, 400)

    return Handler


def serve(session: Session, port: int = 0, open_browser: bool = True) -> ThreadingHTTPServer:
    """Start the page on 127.0.0.1 (only this machine can reach it) in a background thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler(session))
    threading.Thread(target=server.serve_forever, name="policytheme-annotate", daemon=True).start()
    if open_browser:
        webbrowser.open(f"http://127.0.0.1:{server.server_address[1]}/")
    return server
