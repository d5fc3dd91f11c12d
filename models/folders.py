"""The run and model folders: what is in them, how they are written, and reading them back with one clear error.

    runs/NAME/                      a run folder (``policytheme train``)
      model/                        a model folder: model.json (ModelCard) + weights; it travels alone
      labels.json                   the label schema the model was trained on
      config.json                   the resolved configuration (TrainConfig + the model's parameters)
      run.json                      data, splits, timings, memory, library versions, git revision
      history.json                  dev figures per epoch (models that train in epochs)
      metrics*.json, predictions*.jsonl   written by eval

Every file here is written by :func:`write_file` (a temporary file, flushed, renamed into place), so a
reader sees the old file or the new one, never half of one. A whole folder is built by :func:`staged`
and renamed into place when complete. Readers get a :class:`FolderError` naming the file and the
problem, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

MODEL_CARD = "model.json"


class FolderError(RuntimeError):
    """A run or model folder (or one of its files) that cannot be written or read as one; says which and why."""


# --- writing -------------------------------------------------------------------------------------------
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
def folder_lock(out: str | Path) -> Iterator[None]:
    """``with folder_lock(out):`` the only process writing ``out``; FolderError naming the other one otherwise.

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
        yield
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
    with folder_lock(out):
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


# --- the records -----------------------------------------------------------------------------------------
def _check(where: Path, obj: dict, required: dict[str, type | tuple]) -> None:
    for key, kind in required.items():
        if key not in obj:
            raise FolderError(f"{where}: missing {key!r}")
        if not isinstance(obj[key], kind):
            raise FolderError(f"{where}: {key!r} has the wrong type ({type(obj[key]).__name__})")


@dataclass
class ModelCard:
    """``model.json``: what a model is and how it decides; enough to load it from its folder alone."""

    kind: str
    labels: list[str]
    params: dict = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)  # library versions, label schema, training data
    script_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)  # per script, where tuned

    @classmethod
    def read(cls, directory: str | Path) -> ModelCard:
        path = Path(directory) / MODEL_CARD
        if not path.is_file():
            raise FolderError(f"{directory}: not a saved policytheme model (no {MODEL_CARD})")
        obj = read_json(path)
        _check(path, obj, {"kind": str, "labels": list, "thresholds": dict})
        for key in ("params", "provenance"):
            if key in obj and not isinstance(obj[key], dict):
                raise FolderError(f"{path}: {key!r} has the wrong type ({type(obj[key]).__name__})")
        labels = obj["labels"]
        if not labels or not all(isinstance(lab, str) for lab in labels) or len(set(labels)) != len(labels):
            raise FolderError(f"{path}: 'labels' must be a list of distinct theme ids")
        missing = [lab for lab in labels if not isinstance(obj["thresholds"].get(lab), (int, float))]
        if missing:
            raise FolderError(f"{path}: no threshold for {', '.join(map(str, missing))}")
        bad = [
            lab for lab in labels if isinstance(obj["thresholds"][lab], bool) or not 0 <= obj["thresholds"][lab] <= 1
        ]
        if bad:  # a boolean, NaN or a number outside [0, 1] is no threshold of a probability
            raise FolderError(f"{path}: the threshold of {', '.join(bad)} must be a number from 0 to 1")
        scripts = obj.get("script_thresholds", {})
        if not isinstance(scripts, dict) or not all(
            isinstance(ts, dict)
            and all(isinstance(ts.get(lab), (int, float)) and not isinstance(ts[lab], bool) for lab in labels)
            and all(0 <= ts[lab] <= 1 for lab in labels)
            for ts in scripts.values()
        ):
            raise FolderError(f"{path}: 'script_thresholds' must give every theme a number for each script")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})

    def write(self, directory: str | Path) -> Path:
        return write_json(Path(directory) / MODEL_CARD, asdict(self))


@dataclass
class TrainConfig:
    """``config.json``: what a run was asked to do; the same config trains the same model again."""

    model: str
    out: str
    data: list[str] = field(default_factory=list)  # labeled files; the first one leads (data.splits.combine)
    seed: int = 0
    dev_fraction: float = 0.1
    test_fraction: float = 0.1
    params: dict = field(default_factory=dict)
    tune_with: list[str] | None = None  # --data files whose dev splits tune (None: the default data's rule)
    train_langs: list[str] | None = None  # train and tune on these languages only
    eval_langs: list[str] | None = None  # report the test split of these languages only
    resume: bool = False
    model_params: dict = field(default_factory=dict)  # every parameter of the model, defaults resolved
    codebook: str | None = None  # the themes (a labels.json-style file); None: the shipped three

    @classmethod
    def read(cls, path: str | Path) -> TrainConfig:
        obj = read_json(path)
        _check(Path(path), obj, {"model": str, "data": (str, list)})
        if isinstance(obj["data"], str):  # runs written before several data files were allowed
            obj["data"] = [obj["data"]]
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})


@dataclass
class RunFolder:
    """A run folder and its files (see the module's docstring)."""

    path: Path

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """The run folder at ``path``; FolderError saying what it is instead, when it is not one."""
        path = Path(path)
        if not path.exists():
            raise FolderError(f"{path}: no such run folder")
        if (path / MODEL_CARD).is_file() and not (path / "run.json").is_file():
            raise FolderError(f"{path}: is a model folder; name the run folder it is in (here: {path.parent})")
        if not (path / "run.json").is_file() or not (path / "config.json").is_file():
            raise FolderError(f"{path}: not a policytheme run folder (no run.json and config.json)")
        return cls(path)

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def config(self) -> TrainConfig:
        return TrainConfig.read(self.path / "config.json")

    def record(self) -> dict:
        path = self.path / "run.json"
        obj = read_json(path)
        _check(path, obj, {"data": dict})
        return obj

    def labels(self) -> list[str]:
        """The theme ids of the run's label schema (``labels.json``; else the model's own)."""
        path = self.path / "labels.json"
        if path.is_file():
            return [lab["id"] for lab in read_json(path).get("labels", [])]
        return ModelCard.read(self.model_dir).labels


def model_dir(path: str | Path) -> Path:
    """The saved model a path names: a run folder's ``model/`` or the model folder itself."""
    directory = Path(path)
    if not directory.exists():
        raise FolderError(f"{directory}: no such model or run folder")
    return directory / "model" if (directory / "model").is_dir() else directory


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
