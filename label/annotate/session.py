"""An annotation session: the pool of paragraphs, the answers so far, the model's scores, what to ask next.

    session = Session(["reports/"], Path("my-labels.jsonl"), model_dir, codebook, retrain=...)

Each answer is appended to the labels file and flushed to disk before the page moves on, so a crash or
Ctrl-C loses nothing, and the same command resumes where it stopped. The labels file is training data as
it is (``policytheme train --data my-labels.jsonl ...``). Skips and the order of answers (for undo) are kept
beside it in ``my-labels.jsonl.session.jsonl``. Undo rewrites the labels file atomically without the last
answer. The next paragraph is chosen by the query strategy (``models/active.py``) from the current model's
scores; every ``retrain_every`` answers (or on request) the model is retrained in the background by the
``retrain`` function the caller gives (``policytheme.annotating``), which also reports the gain on the
user's held-out labels.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policytheme.data.documents import iter_documents
from policytheme.data.records import DataError
from policytheme.data.segment import strip_invisible
from policytheme.files import write_file
from policytheme.models import load_model
from policytheme.models.active import pick, vectors

_CJK = re.compile(r"[\u4e00-\u9fff]")


_SENTENCE_END = re.compile(r"[。！？；.!?;:：]\s*$")
_WORD_CHAR = re.compile(r"[A-Za-z0-9\u00c0-\u024f'-]")


def is_heading(text: str) -> bool:
    """A bare heading or closing line ("Conclusion", "Thank you.", "一、总体要求"): short, or short of a
    sentence without a sentence's end."""
    t = text.strip()
    return len(t) < 25 or (len(t) < 60 and not _SENTENCE_END.search(t))


def readable(text: str, phrases: list[str]) -> list[str]:
    """Evidence a reader recognises: a fragment inside a Latin-script word grows to the whole word(s)
    ("ately · Stat" -> "immediately · State"); fragments of punctuation or one character are dropped."""
    out: list[str] = []
    for ph in phrases:
        at = text.find(ph)
        if at >= 0:
            a, b = at, at + len(ph)
            while a > 0 and _WORD_CHAR.match(text[a - 1]) and _WORD_CHAR.match(text[a]):
                a -= 1
            while b < len(text) and _WORD_CHAR.match(text[b]) and _WORD_CHAR.match(text[b - 1]):
                b += 1
            ph = text[a:b]
        ph = ph.strip(" \t，。、；：,.;:“”\"'（）()")
        if sum(c.isalnum() for c in ph) >= 2 and ph not in out:
            out.append(ph)
    return out


def guess_lang(text: str) -> str | None:
    """'zh' for mostly Chinese; else None (a Latin-script paragraph may be English, German or French: the row
    then has no ``lang``, which training and retraining accept)."""
    return "zh" if len(_CJK.findall(text)) > 0.3 * max(1, len(text)) else None


class Refused(Exception):
    """A request the server answers with ``status`` and a one-line reason (never a traceback)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


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
        self.token = secrets.token_urlsafe(24)  # the page gets it; every write must carry it
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
        """The answers in the labels file. A last line cut short by a crash (even inside a UTF-8 character)
        was never confirmed and is dropped; a row that is not an answer (no string ``id``, ``labels`` not a
        list of strings) is reported on the page and kept in the file untouched."""
        answers: dict[str, dict] = {}
        self.foreign: list[bytes] = []  # lines of the labels file that are not answers: kept on every rewrite
        raw = self.out.read_bytes() if self.out.is_file() else b""
        lines = raw.split(b"\n")
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            last = lineno == len(lines)  # only a line without its newline can be torn
            try:
                row = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                if last:
                    continue  # a last line cut short by a crash: that answer was never confirmed
                raise DataError([f"{self.out}:{lineno}: invalid JSON; fix or remove the line"]) from None
            ok = isinstance(row, dict) and isinstance(row.get("id"), str)
            labels = row.get("labels") if ok else None
            if not ok or not isinstance(labels, list) or not all(isinstance(t, str) for t in labels):
                why = "not an answer (needs a string 'id' and a list 'labels'); kept"
                self.problems.append(f"{self.out}:{lineno}: {why}")
                self.foreign.append(line)
                continue
            answers[row["id"]] = row
        if raw and not raw.endswith(b"\n"):  # drop the torn line for good
            self._rewrite(answers)
        return answers

    def _rewrite(self, answers: dict[str, dict]) -> None:
        rows = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in answers.values()]
        write_file(self.out, b"".join(line + b"\n" for line in [*self.foreign, *rows]))

    def _read_events(self) -> list[dict]:
        """Skips and answers in order; a line that cannot be read is reported on the page and ignored."""
        events = []
        lines = self.log.read_bytes().split(b"\n") if self.log.is_file() else []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                e = None
            if not (isinstance(e, dict) and e.get("action") in ("answer", "skip") and isinstance(e.get("id"), str)):
                if lineno != len(lines):  # a torn last line is no news
                    self.problems.append(f"{self.log}:{lineno}: not a skip or an answer; ignored")
                continue
            events.append({"action": e["action"], "id": e["id"]})
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
            s = m.predict_proba([strip_invisible(p.text) for p in self.paragraphs])
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
            if self.model is None and len(candidates):
                candidates = self._cold(candidates, seen)
            chosen = pick(self.scores, self.thresholds, self.vecs, candidates, seen)
            return self.item(chosen[0]) if chosen else None

    def _cold(self, candidates: np.ndarray, seen: list[int]) -> np.ndarray:
        """Without a model: paragraphs that are not bare headings, from the documents seen least so far (so
        the first answers spread over the documents, and a train split can be drawn from them)."""
        body = np.array([i for i in candidates if not is_heading(self.paragraphs[i].text)], dtype=np.int64)
        body = body if len(body) else candidates
        per_doc = Counter(self.paragraphs[i].doc_id for i in seen)
        least = min(per_doc[self.paragraphs[i].doc_id] for i in body)
        return np.array([i for i in body if per_doc[self.paragraphs[i].doc_id] == least], dtype=np.int64)

    def item(self, i: int) -> dict:
        p = self.paragraphs[i]
        near = [q for q in self.paragraphs[max(0, i - 2) : i + 3] if q.doc_id == p.doc_id and q.id != p.id]
        suggestion = [t for t, s, th in zip(self.themes, self.scores[i], self.thresholds) if s >= th]
        suggestion = suggestion if self.model is not None else []
        evidence = self.model.explain([p.text])[0] if suggestion else {}
        return {
            "id": p.id,
            "doc_id": p.doc_id,
            "paragraph": p.paragraph,
            "text": p.text,
            "before": [q.text for q in near if q.paragraph < p.paragraph],
            "after": [q.text for q in near if q.paragraph > p.paragraph],
            "scores": {t: round(float(s), 3) for t, s in zip(self.themes, self.scores[i])},
            "thresholds": {t: round(float(th), 3) for t, th in zip(self.themes, self.thresholds)},
            "suggestion": suggestion,
            "evidence": {t: readable(p.text, evidence.get(t, [])) if t in suggestion else [] for t in self.themes},
        }

    def _known(self, pid) -> str:
        if not isinstance(pid, str) or pid not in self.index:
            raise DataError([f"'id' must be the id of a paragraph of this session, got {str(pid)[:80]!r}"])
        return pid

    def answer(self, pid: str, labels: list[str]) -> dict:
        self._known(pid)
        if not isinstance(labels, list) or not all(isinstance(t, str) for t in labels):
            raise DataError(["'labels' must be a list of theme ids"])
        unknown = [t[:40] for t in labels if t not in self.themes]
        if unknown:
            raise DataError([f"unknown theme(s) {unknown}; the themes are {self.themes}"])
        if len(set(labels)) != len(labels):
            raise DataError(["'labels' names a theme twice"])
        p = self.paragraphs[self.index[pid]]
        row = {"id": p.id, "doc_id": p.doc_id, "paragraph": p.paragraph, "text": p.text, "labels": labels}
        lang = guess_lang(p.text)
        if lang:
            row["lang"] = lang
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
        self._known(pid)
        with self.lock:
            if pid in self.answers:
                raise DataError([f"{pid}: already answered (undo it first)"])
            self._append(self.log, {"action": "skip", "id": pid})
            self.events.append({"action": "skip", "id": pid})
        return self.state()

    def undo(self) -> dict:
        """Take back the last answer or skip (the labels file is rewritten atomically without it)."""
        with self.lock:
            if not self.events:
                return {**self.state(), "undone": None}
            last = self.events.pop()
            previous = None
            if last["action"] == "answer":
                previous = self.answers.pop(last["id"], {}).get("labels")
                self._rewrite(self.answers)
            write_file(self.log, "".join(json.dumps(e) + "\n" for e in self.events))
            item = self.item(self.index[last["id"]]) if last["id"] in self.index else None
            if item is not None and previous is not None:
                item["previous"] = previous  # the page shows the answer given, not the model's suggestion
            return {**self.state(), "undone": last, "item": item}

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
