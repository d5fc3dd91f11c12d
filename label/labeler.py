"""Batch labeling: documents in, one labeled row per paragraph out; streamed, resumable, in order.

    summary = label_corpus("runs/tfidf-logreg", ["reports/"], "labels.jsonl")

Memory holds a few chunks of paragraphs whatever the size of the corpus. Each chunk is committed to the
output's parts folder atomically (label/parts.py), so the same call after a crash, a kill or Ctrl-C goes
on from the last committed chunk, and the finished file holds every paragraph once, in input order. A
document that cannot be read is skipped, listed in ``OUT.errors.jsonl`` and counted in the summary.

Engines: ``local`` reads and prepares (tokenizes, extracts features) the next chunk in a background
thread while the model scores this one, and a writer thread commits the one before; ``ray``
(label/ray_engine.py) spreads scoring over model replicas on a Ray cluster. Both feed the same part store,
so they write the same output.
"""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from policytheme.data.documents import find_inputs
from policytheme.data.records import DataError
from policytheme.data.segment import strip_invisible
from policytheme.label.parts import FORMATS, OutputLock, PartStore
from policytheme.label.stream import Cursor, Paragraph, Skipped, input_identity, read_stream
from policytheme.models import ThemeModel, load_model, model_dir
from policytheme.models.base import peak_memory

ENGINES = ("local", "ray")


@dataclass
class LabelSummary:
    documents: int = 0
    paragraphs: int = 0
    seconds: float = 0.0
    out: str = ""
    themes: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)  # {"path", "error"} of each document that was skipped
    errors_file: str = ""
    state: str = "fresh"  # fresh, resume (continued an interrupted run) or done (nothing left to do)

    def __str__(self) -> str:
        if self.state == "done":
            return f"{self.out} is already complete ({self.paragraphs} paragraphs); pass --overwrite to label again"
        rate = self.paragraphs / self.seconds if self.seconds else 0.0
        themes = ", ".join(f"{k} {v}" for k, v in self.themes.items())
        skipped = f"; {len(self.errors)} input(s) skipped, see {self.errors_file}" if self.errors else ""
        resumed = " (resumed)" if self.state == "resume" else ""
        return (
            f"labeled {self.paragraphs} paragraphs of {self.documents} documents in {self.seconds:.1f}s{resumed} "
            f"({rate:,.0f} paragraphs/s); themes: {themes}; output: {self.out}{skipped}"
        )


def folder_sha256(folder: Path) -> str:
    """One hash over every file of a model folder (names and bytes), to tell models apart."""
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(folder)).encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _is_output(path: Path, out: Path) -> bool:
    """The output, its parts, manifest or error list: never read back as input (an output inside the corpus)."""
    path, out = path.resolve(), out.resolve()
    beside = path.parent == out.parent and path.name.lstrip(".").startswith(out.name + ".")  # errors, temporaries
    return path == out or beside or out.with_name(out.name + ".parts") in path.parents


CHUNK_CHARS = 1_000_000  # characters a chunk holds at most (besides its paragraph count): memory by characters
GROUP_CHARS = 200_000  # characters prepared for scoring at once
PIECE_CHARS = 50_000  # a longer paragraph is scored in windows of this many characters, its score the maximum


def _earlier_output(path: Path) -> bool:
    """A file another ``policytheme label`` wrote (it has its manifest beside it), or that one's error list:
    never read as a document when the output went into the input folder."""
    if path.with_name(path.name + ".manifest.json").is_file():
        return True
    base = path.name.removesuffix(".errors.jsonl")
    return base != path.name and path.with_name(base + ".manifest.json").is_file()


def chunks(
    stream: Iterator[Paragraph | Skipped], size: int, max_chars: int = CHUNK_CHARS
) -> Iterator[tuple[list[Paragraph], list[dict], Cursor]]:
    """Groups of ``size`` paragraphs or ``max_chars`` characters, whichever comes first (a longer paragraph
    is a group of its own), each with the errors met while reading it and the cursor after it."""
    rows: list[Paragraph] = []
    errors: list[dict] = []
    cursor: Cursor | None = None
    chars = 0
    for item in stream:
        if isinstance(item, Skipped):
            errors.append({"file": item.file, "path": item.path, "error": item.error})
            if item.ends_file:
                cursor = (item.file + 1, 0)
            continue
        if rows and chars + len(item.text) > max_chars:
            yield rows, errors, cursor
            rows, errors, chars = [], [], 0
        rows.append(item)
        chars += len(item.text)
        cursor = item.after()
        if len(rows) >= size or chars >= max_chars:
            yield rows, errors, cursor
            rows, errors, chars = [], [], 0
    if rows or errors:
        yield rows, errors, cursor


def windows(texts: list[str], limit: int = PIECE_CHARS) -> tuple[list[str], np.ndarray | None]:
    """The texts a model scores: each paragraph, or a paragraph over ``limit`` characters cut into windows of
    ``limit`` (what a model holds while scoring one is then bounded too); the owner of each window, or None
    when nothing was cut."""
    if all(len(t) <= limit for t in texts):
        return texts, None
    pieces, owner = [], []
    for i, t in enumerate(texts):
        for a in range(0, max(len(t), 1), limit):
            pieces.append(t[a : a + limit])
            owner.append(i)
    return pieces, np.asarray(owner)


def prepare_rows(model: ThemeModel, texts: list[str], group_chars: int = GROUP_CHARS):
    """What ``score_rows`` scores: the texts (windows of long paragraphs) prepared ``group_chars`` characters
    at a time, since preparing (a vectorizer's n-gram lists, a tokenizer's ids) holds several bytes per
    character until it is done, while what it returns is compact."""
    pieces, owner = windows([strip_invisible(t) for t in texts])
    if sum(map(len, pieces)) <= group_chars:
        return [model.prepare(pieces)], owner, len(texts)
    groups, start, chars = [], 0, 0
    for i, t in enumerate(pieces):
        if chars and chars + len(t) > group_chars:
            groups.append(model.prepare(pieces[start:i]))
            start, chars = i, 0
        chars += len(t)
    groups.append(model.prepare(pieces[start:]))
    return groups, owner, len(texts)


def score_rows(model: ThemeModel, prepared) -> np.ndarray:
    """Scores per paragraph: a paragraph cut into windows scores each theme as its best window does."""
    groups, owner, n = prepared
    scores = np.concatenate([np.asarray(model.score(g)) for g in groups]) if len(groups) > 1 else model.score(groups[0])
    if owner is None:
        return scores
    out = np.zeros((n, scores.shape[1]), dtype=scores.dtype)
    np.maximum.at(out, owner, scores)
    return out


def local_workers(model: ThemeModel, workers: int) -> int:
    """Processes that score for the local engine: ``workers``, or with 0 one per CPU core this process may
    use for a model that scores on the CPU in plain numpy and scipy (TF-IDF, keywords), else none (1)."""
    if workers > 0:
        return workers
    if not model.score_in_processes or sys.platform == "win32":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores)


_WORKER_MODEL: ThemeModel | None = None  # the model a scoring process uses (set before the processes fork)


def _start_worker(inherited: tuple[int, ...]) -> None:
    """In a new scoring process: close its copies of the labeler's files (the output's lock: a killed labeler
    must leave its output free at once), leave Ctrl-C to the labeler, which stops the pool, and end when the
    labeler is gone (killed, it cannot stop the pool)."""
    for fd in inherited:
        os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="policytheme-orphan-watch", daemon=True).start()


def _score_texts(texts: list[str]) -> np.ndarray:
    """In a scoring process: ``predict_proba`` of one chunk's paragraphs."""
    return score_rows(_WORKER_MODEL, prepare_rows(_WORKER_MODEL, texts))


def local_engine(
    model: ThemeModel, stream: Iterator, size: int, workers: int = 1, inherited: tuple[int, ...] = ()
) -> Iterator[tuple]:
    """(rows, scores, errors, cursor) per chunk, in order. A background thread reads the next chunks; with
    ``workers`` == 1 it also prepares them (features, tokens) while this thread scores, with more, that many
    forked processes each prepare and score whole chunks, ``workers`` + 1 chunks in flight at most. A chunk's
    scores do not depend on where it was scored, so the output is the same byte for byte.

    The processes are forked here, before any thread of the run starts; call it before starting threads.
    ``inherited``: descriptors the processes close at once (the output's lock)."""
    pool = None
    if workers > 1:
        import multiprocessing

        global _WORKER_MODEL
        _WORKER_MODEL = model  # inherited by the forked processes, not pickled
        model.score(model.prepare(["warm-up"]))  # lookup tables built once here, shared by the processes
        fork = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(workers, fork, initializer=_start_worker, initargs=(inherited,))
        for f in [pool.submit(time.sleep, 0.05) for _ in range(workers)]:
            f.result()  # every process forked now (the pool forks lazily)
    return _local_results(model, stream, size, pool, workers)


def _local_results(model: ThemeModel, stream: Iterator, size: int, pool, workers: int) -> Iterator[tuple]:
    ready: queue.Queue = queue.Queue(maxsize=2 if pool is None else workers + 1)
    stop = threading.Event()
    end = object()

    def offer(item) -> bool:
        """Hand ``item`` to the consumer; False once the consumer has stopped."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for rows, errors, cursor in chunks(stream, size):
                texts = [r.text for r in rows]
                if not rows:  # a chunk of only errors
                    prepared = None
                elif pool is not None:
                    prepared = pool.submit(_score_texts, texts)
                else:
                    prepared = prepare_rows(model, texts)
                if not offer((rows, prepared, errors, cursor)):
                    return
            offer(end)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
            offer(e)

    thread = threading.Thread(target=produce, name="policytheme-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            rows, prepared, errors, cursor = item
            if not rows:
                scores = np.zeros((0, len(model.labels)), dtype=np.float32)
            elif pool is not None:
                scores = prepared.result()
            else:
                scores = score_rows(model, prepared)
            yield rows, scores, errors, cursor
    finally:
        stop.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def label_corpus(
    model: str | Path,
    inputs: list[str],
    out: str | Path,
    batch_size: int = 0,
    overwrite: bool = False,
    engine: str = "local",
    workers: int = 0,
    progress: bool = True,
    evidence: bool = False,
) -> LabelSummary:
    """Label every paragraph of ``inputs`` with the model in ``model`` (a run or model folder) into ``out``.

    Run again after an interruption, the same call continues where it stopped. ``batch_size`` paragraphs
    are committed at a time (0: 4,096; 16,384 for a transformer on a GPU, to keep it busy). ``workers`` is
    the number of model replicas for the ray engine (0: one per GPU, else one per CPU), and for the local
    engine the number of scoring processes (0: one per CPU core for TF-IDF and keyword models, else 1; the
    output is the same for any number).
    """
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise DataError([f"{out}: output must end in {', '.join(FORMATS)}"])
    if out.is_dir():
        raise DataError([f"{out}: is a folder; --out names the output file"])
    if engine not in ENGINES:
        raise DataError([f"unknown engine {engine!r} (use {', '.join(ENGINES)})"])
    folder = model_dir(model)
    loaded = load_model(folder)  # before anything is written: a model that cannot load leaves nothing behind
    found, unreadable = find_inputs(inputs)
    files = [f for f in found if not _is_output(f, out) and not _earlier_output(f)]
    if not files:
        problems = [f"{path}: {reason}" for path, reason in unreadable]
        raise DataError(problems or [f"{' '.join(inputs)}: no documents to label besides the output itself"])
    identity = {
        "model": {"path": str(folder), "kind": loaded.kind, "sha256": folder_sha256(folder)},
        "inputs": input_identity(files),
        "evidence": evidence,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with OutputLock(out) as lock:
        store = PartStore(out, loaded.labels, identity)
        state = store.begin(overwrite)
        if state == "fresh" and unreadable:  # folders that could not be searched: in the error list
            store.add_errors([{"file": -1, "path": p, "error": f"{p}: {r}"} for p, r in unreadable])
        if state != "done":
            size = batch_size or loaded.chunk_size()
            _run(store, loaded, folder, files, size, engine, workers, progress, (lock.fd,))
    m = store.manifest
    errors = [{"path": e["path"], "error": e["error"]} for e in m["errors"]]
    return LabelSummary(
        documents=m["documents"],
        paragraphs=m["paragraphs"],
        seconds=m["seconds"],
        out=str(out),
        themes=m["themes"],
        errors=errors,
        errors_file=str(store.errors_file) if errors else "",
        state=state,
    )


def _run(
    store: PartStore,
    model: ThemeModel,
    folder: Path,
    files: list[Path],
    size: int,
    engine: str,
    workers: int,
    progress: bool,
    inherited: tuple[int, ...] = (),
) -> None:
    sizes = np.array([f["bytes"] for f in store.identity["inputs"]], dtype=np.int64)
    done_bytes = lambda cursor: int(sizes[: cursor[0]].sum())  # noqa: E731 - files wholly behind the cursor
    if engine == "ray":
        from policytheme.label.ray_engine import ray_engine

        scored = ray_engine(folder, files, store.cursor, size, workers)
    else:
        stream = read_stream(files, store.cursor)
        scored = local_engine(model, stream, size, local_workers(model, workers), inherited)
    bar = tqdm(
        total=int(sizes.sum()),
        initial=done_bytes(store.cursor),
        desc="labeling",
        bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
        disable=not progress,
        dynamic_ncols=True,
    )
    started = last = time.perf_counter()
    labeled = 0
    pending: deque = deque()  # commits handed to the writer thread, oldest first
    writer = ThreadPoolExecutor(1, thread_name_prefix="policytheme-writer")  # one thread: commits stay in order

    def settle(wait_all: bool) -> None:
        nonlocal labeled
        while pending and (wait_all or len(pending) > 1 or pending[0][0].done()):
            future, cursor, n = pending.popleft()
            future.result()  # a failed commit stops the run here
            labeled += n
            rate = labeled / (time.perf_counter() - started)
            bar.set_postfix_str(f"{store.manifest['paragraphs']:,} paragraphs, {rate:,.0f}/s")
            bar.update(done_bytes(cursor) - bar.n)

    try:
        for rows, scores, errors, cursor in scored:
            now = time.perf_counter()
            on = model.decide(scores, [r.text for r in rows])
            ev = (
                model.explain([strip_invisible(r.text[:PIECE_CHARS]) for r in rows])
                if store.evidence and rows
                else None
            )
            commit = writer.submit(store.commit, rows, scores, on, cursor, errors, now - last, ev)
            pending.append((commit, cursor, len(rows)))
            last = now
            settle(wait_all=False)  # the model goes on with the next chunk while this one is written
        settle(wait_all=True)
        if store.manifest["paragraphs"] == 0:
            errors = store.manifest["errors"]
            store.discard()
            where = str(files[0]) if len(files) == 1 else f"{len(files)} inputs"
            why = (
                f" ({errors[0]['error']}{f'; and {len(errors) - 1} more' if len(errors) > 1 else ''})" if errors else ""
            )
            raise DataError([f"{where}: no paragraphs to label{why}"])
        bar.update(bar.total - bar.n)
        scored.close()  # the scoring processes end here, so their peak memory is known
        store.manifest["peak_memory"] = peak_memory()  # of the process that finished the run
        if engine == "local" and local_workers(model, workers) > 1:
            import resource

            children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            store.manifest["peak_memory"]["worker_rss_bytes"] = children  # the largest scoring process
        store.finish()
    finally:
        writer.shutdown(wait=True, cancel_futures=True)  # a commit under way completes; queued ones are dropped
        scored.close()  # stops the reader thread or the Ray pipeline
        bar.close()
