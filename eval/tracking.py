"""Log a run folder to an MLflow tracking store, for users who compare runs in MLflow's UI.

Optional (``pip install 'policytheme[tracking]'``) and off unless asked for with ``--tracking mlflow``.
The run folder stays the record; MLflow gets a copy: the configuration as parameters, every figure of
every ``metrics*.json`` (and learning-curve / cross-validation summaries) as metrics, and the files,
with a one-run HTML report, as artifacts.

The store is a local folder by default (``runs/mlflow``: an SQLite database and an ``artifacts/``
folder beside it), or any MLflow tracking URI (``--tracking-store http://host:5000``, or the
``MLFLOW_TRACKING_URI`` environment variable). Later calls on the same folder (``evaluate`` on more data)
add to the same MLflow run, whose id the folder keeps in ``tracking.json``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

DEFAULT_STORE = "runs/mlflow"
DEFAULT_EXPERIMENT = "policytheme"
TRACKING_FILE = "tracking.json"
ARTIFACTS = ("config.json", "run.json", "labels.json", "history.json", "curve.json", "cv.json")


class TrackingError(RuntimeError):
    """Tracking asked for but impossible (MLflow missing, store unreachable)."""


def store_uri(store: str | Path | None = None) -> tuple[str, str | None]:
    """(tracking URI, artifact location for a new experiment) for a folder or a URI."""
    store = str(store or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_STORE)
    if "://" in store or store.startswith("databricks"):
        return store, None
    folder = Path(store).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()


def _client(uri: str):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise TrackingError("MLflow is not installed: pip install 'policytheme[tracking]'") from None
    for name in ("mlflow", "alembic"):  # table creation on a new store is chatty at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(uri)


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", text)


def flat_params(config: dict, prefix: str = "") -> dict[str, str]:
    """Nested configuration as flat MLflow parameters (``model_params.C`` = ``4.0``)."""
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(flat_params(v, f"{prefix}{k}."))
        elif v is not None:
            out[_key(f"{prefix}{k}")] = json.dumps(v) if isinstance(v, list) else str(v)
    return out


def metrics_of(m: dict) -> dict[str, float]:
    """The figures of one metrics file, named ``<data>.<figure>`` (``test.macro_f1``, ``real-dev.f1.innovation``)."""
    d = m.get("data", {})
    prefix = "test" if d.get("split") == "test" else Path(d.get("path", "data")).stem
    out = {k: m.get(k) for k in ("macro_f1", "micro_f1", "samples_f1", "subset_accuracy", "hamming_loss", "macro_ece")}
    ci = m.get("ci", {}).get("macro_f1", {})
    out.update({"macro_f1.ci_low": ci.get("low"), "macro_f1.ci_high": ci.get("high")})
    for lab, v in m.get("per_label", {}).items():
        out.update({f"{name}.{lab}": v.get(name) for name in ("f1", "precision", "recall", "pr_auc", "ece")})
    for lang, v in m.get("per_language", {}).items():
        out[f"macro_f1.{lang}"] = v.get("macro_f1")
    out["paragraphs_per_second"] = m.get("paragraphs_per_second")
    return {_key(f"{prefix}.{k}"): float(v) for k, v in out.items() if isinstance(v, (int, float))}


def _summary_metrics(kind: str, doc: dict) -> list[tuple[str, float, int]]:
    """(key, value, step) for a learning curve (step = training paragraphs) or a cross-validation (fold)."""
    out = []
    if kind == "curve":
        for s in doc["summary"]:
            step = int(s["train_paragraphs"]["mean"]) if s["train_paragraphs"] else 0
            for stat in ("mean", "sd"):
                if s["macro_f1"]:
                    out.append((f"curve.macro_f1.{stat}", s["macro_f1"][stat], step))
    else:
        for f in doc["fold_results"]:
            out.append(("cv.macro_f1.fold", f["macro_f1"], f["fold"]))
        for stat in ("mean", "sd"):
            out.append((f"cv.macro_f1.{stat}", doc["summary"]["macro_f1"][stat], 0))
    return out


def log_run(run_dir: str | Path, store: str | Path | None = None, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Log ``run_dir`` (a run, learning-curve or cross-validation folder) to MLflow; returns the MLflow run id."""
    run_dir = Path(run_dir)
    uri, artifact_root = store_uri(store)
    client = _client(uri)  # fails with a clear message without MLflow
    from mlflow.entities import Metric, Param

    try:
        exp = client.get_experiment_by_name(experiment)
        exp_id = exp.experiment_id if exp else client.create_experiment(experiment, artifact_location=artifact_root)
        run_id = _existing_run(client, run_dir, uri) or client.create_run(exp_id, run_name=run_dir.name).info.run_id
        now = int(time.time() * 1000)
        params = [Param(k, v) for k, v in _params(run_dir).items()]
        metrics = [Metric(k, v, now, step) for k, v, step in _all_metrics(run_dir)]
        client.log_batch(run_id, metrics=metrics, params=params)
        _log_files(client, run_id, run_dir)
        client.set_terminated(run_id)
    except TrackingError:
        raise
    except Exception as e:  # noqa: BLE001 - any store failure ends as one line, not a traceback
        first = str(e).splitlines()[0] if str(e) else ""
        raise TrackingError(f"MLflow store {uri}: {type(e).__name__}: {first}") from None
    (run_dir / TRACKING_FILE).write_text(
        json.dumps({"uri": uri, "experiment": experiment, "run_id": run_id}, indent=2) + "\n", encoding="utf-8"
    )
    return run_id


def _all_metrics(run_dir: Path) -> list[tuple[str, float, int]]:
    out = [(k, v, 0) for f in sorted(run_dir.glob("metrics*.json")) for k, v in metrics_of(_read(f)).items()]
    record = _read(run_dir / "run.json")
    out += [(k, float(record[k]), 0) for k in ("fit_seconds", "model_bytes") if k in record]
    for kind, name in (("curve", "curve.json"), ("cv", "cv.json")):
        if (run_dir / name).is_file():
            out += [(k, float(v), step) for k, v, step in _summary_metrics(kind, _read(run_dir / name))]
    return out


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _params(run_dir: Path) -> dict[str, str]:
    config = _read(run_dir / "config.json")
    record = _read(run_dir / "run.json")
    params = flat_params(config)
    if record.get("data", {}).get("sha256"):
        params["data_sha256"] = record["data"]["sha256"]
    if record.get("git"):
        params["git_commit"] = record["git"].get("commit", "")
    return params


def _existing_run(client, run_dir: Path, uri: str) -> str | None:
    """The MLflow run this folder was logged to before, if it is in the same store and still there."""
    previous = _read(run_dir / TRACKING_FILE)
    if previous.get("uri") != uri:
        return None
    try:
        return client.get_run(previous["run_id"]).info.run_id
    except Exception:  # noqa: BLE001 - deleted or unknown: start a new run
        return None


def _log_files(client, run_id: str, run_dir: Path) -> None:
    """The folder's JSON files, predictions and a one-run HTML report."""
    from policytheme.eval.compare import boards, collect
    from policytheme.eval.report import render

    files = [run_dir / f for f in ARTIFACTS if (run_dir / f).is_file()]
    files += sorted(run_dir.glob("metrics*.json")) + sorted(run_dir.glob("predictions*.jsonl"))
    for f in files:
        client.log_artifact(run_id, str(f))
    col = collect([run_dir])
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        report.write_text(render(col, boards(col.metrics, n_boot=200), title=f"policytheme: {run_dir.name}"), "utf-8")
        client.log_artifact(run_id, str(report))
