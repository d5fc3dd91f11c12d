"""Installed models: the default model, and run folders a user installs under a name.

    policytheme label reports/ --out labels.csv        # no --model: the default model
    policytheme models                                  # what is installed
    policytheme models --build-default                  # build the default now (it is built on first use)
    policytheme models --install runs/my-run --name mine   # then: policytheme label --model mine ...

Models live in ``$POLICYTHEME_HOME/models`` (default ``~/.cache/policytheme/models``), one run folder each,
with its ``MODEL_CARD.md``. The default model is trained once from the data shipped in the package (no
download: the package holds everything), in a folder named after what made it (model, data and library
versions), so new shipped data or a new scikit-learn gives a new default rather than a stale one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from policytheme.data.records import DEFAULT_DATA, file_sha256
from policytheme.files import FolderError, read_json, write_file
from policytheme.models.folders import ModelCard, RunFolder, model_dir

# The default model: the best model on real paragraphs that labels over 1,000 paragraphs/s on 2 CPU cores
# (docs/quality.md). Trained on the default data with these settings.
DEFAULT_MODEL = {"model": "tfidf-logreg", "params": {}}


def home() -> Path:
    root = os.environ.get("POLICYTHEME_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "policytheme"
    )
    return Path(root) / "models"


def default_name() -> str:
    """``default-<fingerprint>``: the model with every parameter resolved, its data (sha256), scikit-learn's
    version and the package's: what would change the model changes the name."""
    from policytheme.data.records import label_ids
    from policytheme.models import make_model

    params = make_model(DEFAULT_MODEL["model"], label_ids(), **DEFAULT_MODEL["params"]).params
    versions = [metadata.version("scikit-learn"), metadata.version("policytheme")]
    key = json.dumps([DEFAULT_MODEL["model"], params, [file_sha256(p) for p in DEFAULT_DATA], versions], sort_keys=True)
    return "default-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class Installed:
    name: str
    path: Path
    card: ModelCard
    metrics: dict | None  # the run's own test split, when it is a run folder

    def row(self) -> list[str]:
        """The model's line in ``policytheme models``; a damaged folder gets a line saying so, never an error."""
        try:
            return self._row()
        except Exception as e:  # noqa: BLE001 - one broken model must not hide the others
            return [self.name, "damaged", f"({type(e).__name__}; install it again)", "?", "–", "?", str(self.path)]

    def _row(self) -> list[str]:
        m = self.metrics
        score = "–" if not m else f"{m['macro_f1']:.3f} on {Path(m['data'].get('path', '?')).stem} test"
        data = ", ".join(Path(d["path"]).name for d in self.card.provenance.get("data", [])) or "?"
        size = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file()) / 1e6
        return [
            self.name,
            self.card.provenance.get("model", self.card.kind),
            ", ".join(self.card.labels),
            data,
            score,
            f"{size:,.1f} MB",
            str(self.path),
        ]


def installed() -> list[Installed]:
    """Every model folder under :func:`home`, by name."""
    out = []
    root = home()
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            card = ModelCard.read(model_dir(path))
        except FolderError:
            continue
        try:
            metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else None
        except FolderError:
            metrics = None
        out.append(Installed(path.name, path, card, metrics))
    return out


def resolve(spec: str | None, progress: bool = True) -> Path:
    """The model folder ``--model`` names: a path, an installed name, or (None / ``default``) the default."""
    if spec in (None, "", "default"):
        return build_default(progress=progress)
    if Path(spec).exists():
        return Path(spec)
    named = home() / spec
    if named.is_dir():
        return named
    names = ", ".join(m.name for m in installed()) or "none yet"
    raise FolderError(f"{spec}: no such model or run folder, and no installed model by that name (installed: {names})")


def build_default(progress: bool = True, rebuild: bool = False) -> Path:
    """The default model's run folder, trained from the shipped data the first time it is needed."""
    from policytheme.label.parts import OutputLock
    from policytheme.runs import train_and_score
    from policytheme.train.run import TrainConfig

    target = home() / default_name()
    if (target / "model" / "model.json").is_file() and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # one build at a time; a second waits for nothing and is told (train_and_score locks the folder itself)
    with OutputLock(target.with_name(target.name + ".build")):
        if (target / "model" / "model.json").is_file() and not rebuild:
            return target
        if progress:
            print(f"building the default model once from the shipped data (about 30 s): {target}", file=sys.stderr)
        config = TrainConfig(
            model=DEFAULT_MODEL["model"], out=str(target), data=list(DEFAULT_DATA), params=DEFAULT_MODEL["params"]
        )
        train_and_score(config, overwrite=True, progress=False)
    return target


def install(run: str | Path, name: str, overwrite: bool = False) -> Path:
    """Copy a run folder into :func:`home` under ``name`` (with a model card), for ``--model NAME``."""
    from policytheme.eval.card import model_card
    from policytheme.files import staged

    folder = RunFolder.open(run)
    target = home() / name
    if name.startswith(".") or "/" in name or name == "default":
        raise FolderError(f"{name}: not a usable model name (no '/', no leading '.', not 'default')")
    with staged(target, overwrite=overwrite) as staging:
        shutil.copytree(folder.path, staging, dirs_exist_ok=True)
        card = model_card(staging, title=name)
        write_file(staging / "MODEL_CARD.md", card)
        write_file(staging / "model" / "MODEL_CARD.md", card)
    return target
