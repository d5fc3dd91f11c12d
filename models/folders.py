"""The run and model folders: what is in them, how they are written, and reading them back with one clear error.

    runs/NAME/                      a run folder (``policytheme train``)
      model/                        a model folder: model.json (ModelCard) + weights; it travels alone
      labels.json                   the label schema the model was trained on
      config.json                   the resolved configuration (TrainConfig + the model's parameters)
      run.json                      data, splits, timings, memory, library versions, git revision
      history.json                  dev figures per epoch (models that train in epochs)
      metrics*.json, predictions*.jsonl   written by eval

Every file here is written through the ground floor, ``policytheme.files`` (atomic files, staged folders,
one writer at a time); readers get a :class:`FolderError` naming the file and the problem.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from policytheme.files import FolderError, read_json, write_json

MODEL_CARD = "model.json"


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
    tune_folds: int | None = None  # cross-fitted folds whose out-of-fold scores tune (None: the model's own; 0: dev)
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
