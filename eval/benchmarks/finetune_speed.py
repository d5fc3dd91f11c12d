"""Fine-tuning speed and memory of a transformer the size of the default backbone, built locally.

    python -m policytheme.eval.benchmarks.finetune_speed [--epochs 1] [--max-steps N] [--work DIR]

Builds an encoder shaped like intfloat/multilingual-e5-small (12 layers, hidden 384, 12 heads,
feed-forward 1536, 250,002-token vocabulary) with random weights (timing does not need trained ones), then
runs the same `policytheme train --model transformer` command a user runs, on the shipped corpus, and
prints wall time, training samples/s and peak memory (GPU when there is one). The same command runs on a
CPU and on CUDA (bf16) unchanged.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

E5_SMALL = {"hidden_size": 384, "layers": 12, "heads": 12, "intermediate_size": 1536, "vocab": 250_002}


def build_backbone(folder: Path) -> None:
    """A random-weight encoder of the default's shape (tokenizer trained on the shipped corpus)."""
    from transformers import AutoModelForMaskedLM

    cli = [sys.executable, "-m", "policytheme.cli"]
    subprocess.run(
        [
            *cli,
            "pretrain",
            "--corpus",
            "data/corpus.jsonl",
            "--out",
            str(folder),
            "--overwrite",
            "--vocab-size",
            "30000",
            "--hidden-size",
            str(E5_SMALL["hidden_size"]),
            "--layers",
            str(E5_SMALL["layers"]),
            "--heads",
            str(E5_SMALL["heads"]),
            "--intermediate-size",
            str(E5_SMALL["intermediate_size"]),
            "--max-steps",
            "1",
            "--batch-size",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    model = AutoModelForMaskedLM.from_pretrained(folder, use_safetensors=True)
    model.resize_token_embeddings(E5_SMALL["vocab"])  # the embedding table of the real backbone
    model.save_pretrained(folder)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, help="bound the run (CPU); default: whole epochs")
    ap.add_argument("--batch-size", type=int, help="default: 16 on CPU, 64 on a GPU")
    ap.add_argument("--work", type=Path, help="folder for the backbone and the run (default: temporary)")
    ap.add_argument("--backbone", type=Path, help="a real encoder folder (e.g. from import-encoder) instead")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--param", action="append", default=[], help="model parameter, e.g. freeze_embeddings=false")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="ft-bench-"))
    backbone, run = args.backbone or work / "backbone", work / "run"
    if not args.backbone:
        build_backbone(backbone)
    cmd = [
        sys.executable,
        "-m",
        "policytheme.cli",
        "train",
        "--model",
        "transformer",
        "--backbone",
        str(backbone),
        "--out",
        str(run),
        "--overwrite",
        "--epochs",
        str(args.epochs),
        "--n-boot",
        "100",
        "--max-length",
        str(args.max_length),
    ]
    cmd += [x for p in args.param for x in ("--param", p)]
    cmd += ["--max-steps", str(args.max_steps)] if args.max_steps else []
    cmd += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - started
    record = json.loads((run / "run.json").read_text())
    t, mem = record["training"], record["peak_memory"]
    print(f"\ncommand: {' '.join(cmd[1:])}")
    print(f"device: {t['device']} ({t['precision']}), world size {t['world_size']}, batch {t['batch_size']}")
    print(f"windows per epoch: {t['windows']}; steps: {t.get('train_steps_per_second', 0) * t['train_runtime']:.0f}")
    print(f"wall time (whole command): {wall:.1f}s; training: {t['train_runtime']:.1f}s")
    print(f"training samples/s: {t['train_samples_per_second']:.1f}")
    print(
        f"peak memory: process RSS {mem['rss_bytes'] / 2**30:.2f} GiB"
        + (f", GPU {mem['gpu_bytes'] / 2**30:.2f} GiB" if "gpu_bytes" in mem else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
