"""The ground floor: writing files and folders so that a reader never sees half of one, one writer at a time.

Every stage writes through these: :func:`write_file` (a temporary file beside the target, flushed, renamed
into place), :func:`staged` (a whole folder built beside its target and renamed into place when complete),
and :func:`exclusive` (one process at a time writes a target: an advisory lock the system drops when the
process ends, however it ends). Readers get a :class:`FolderError` naming the file and the problem, never a
traceback. This module imports nothing of the project's stages, and every stage may import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path


class FolderError(RuntimeError):
    """A run or model folder (or one of its files) that cannot be written or read as one; says which and why."""


def write_file(path: str | Path, data: str | bytes) -> Path:
    """Replace ``path`` by ``data`` atomically: written beside it under a temporary name, flushed, renamed.

    A failure (disk full, no permission) leaves the old file as it was and no temporary file behind.
    """
    path = Path(path)
    if path.is_dir():
        raise FolderError(f"{path}: is a folder; name a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: str | Path, obj) -> Path:
    return write_file(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> dict:
    """A JSON object from ``path``; FolderError with ``path[:line]: problem`` otherwise."""
    path = Path(path)
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise FolderError(f"{path}: missing") from None
    except IsADirectoryError:
        raise FolderError(f"{path}: is a folder, not a JSON file") from None
    except UnicodeDecodeError as e:
        raise FolderError(f"{path}: not UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise FolderError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(obj, dict):
        raise FolderError(f"{path}: expected a JSON object")
    return obj


@contextlib.contextmanager
def exclusive(out: str | Path) -> Iterator[int]:
    """``with exclusive(out) as fd:`` the only process writing ``out`` (``fd``: the lock's descriptor, which a
    forked helper process closes); FolderError naming the other one otherwise.

    ``fcntl.flock`` on ``.OUT.lock`` beside it, opened without following a symbolic link (a link planted there
    never has its target truncated); the system releases it when the process ends, and the holder removes it.
    """
    import errno
    import fcntl

    out = Path(out)
    path = out.parent / f".{out.name}.lock"
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError as e:
            why = "is a symbolic link" if e.errno == errno.ELOOP else e.strerror
            raise FolderError(f"{path}: {why}; remove it") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            os.close(fd)
            raise FolderError(f"{path}: not a lock file of ours (a special file or a hard link); remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            try:
                holder = path.read_text().strip() or "?"
            except OSError:
                holder = "?"
            raise FolderError(f"{out}: another run is writing it (pid {holder}); wait for it") from None
        try:  # the holder before us may have removed the file after we opened it: lock the one in place
            same = os.stat(path, follow_symlinks=False).st_ino == st.st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    try:
        yield fd
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def check_removable(out: str | Path, inputs: Iterable[str | Path | None] = ()) -> None:
    """FolderError unless replacing the folder ``out`` is safe: it is not the working directory nor holds it,
    and it holds none of ``inputs`` (the files the same command reads)."""
    out = Path(out)
    real, cwd = out.resolve(), Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise FolderError(f"{out}: is the working directory or holds it; name a folder of its own")
    for p in inputs:
        if p is None:
            continue
        q = Path(p).resolve()
        if q == real or real in q.parents:
            raise FolderError(f"{out}: holds {p}, an input of this command; --overwrite would remove it")


@contextlib.contextmanager
def staged(out: str | Path, overwrite: bool = False, inputs: Iterable[str | Path | None] = ()) -> Iterator[Path]:
    """Yield an empty staging folder beside ``out``; it becomes ``out`` only if the block succeeds.

    An existing ``out`` is replaced only with ``overwrite``, and stays until the new folder is complete; never
    the working directory or a folder that holds one of ``inputs``. Two processes never stage one ``out`` at
    once (the second gets FolderError).
    """
    out = Path(out)
    check_removable(out, inputs)
    if out.exists() and not out.is_dir():
        raise FolderError(f"{out}: is a file; name a folder")
    with exclusive(out):
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise FolderError(f"{out}: folder exists and is not empty; pass --overwrite to replace it")
        staging = out.parent / f".{out.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)


def folder_bytes(path: Path) -> int:
    """The bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
