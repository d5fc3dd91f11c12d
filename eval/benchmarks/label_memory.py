"""Peak memory of ``policytheme label`` on inputs of very long rows and paragraphs (issue 22's audit cases).

    python -m policytheme.eval.benchmarks.label_memory [--scale 1.0] [--out FILE.json]

The cases (at ``--scale 1``, the audit's sizes): a Parquet file of 6 rows x 15M characters (one paragraph
each, no paragraph breaks, highly compressible: a few tens of KB on disk), a JSON Lines file of 8 rows x 5M
characters, and one .txt file of a single 19M-character paragraph. Each is labeled by a TF-IDF + logistic
regression model (trained here on the shipped real paragraphs) in a process of its own, whose peak resident
memory is read from the operating system (``ru_maxrss`` of the child). A small corpus of ordinary paragraphs
is the reference. ``--scale 0.2`` runs the same shapes at a fifth of the characters, in about a minute.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); "
    "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024); "
    "sys.stderr.write(r.stderr.decode()[-400:])"
)
WORDS = "价格战 利润下滑 加大研发投入 产业升级 高端化 智能化 绿色化 核心技术 企业 市场 政策 firms cut prices".split()


def text(chars: int, seed: int) -> str:
    """``chars`` characters of policy-like words with no paragraph break and no clause punctuation (the
    worst case: nothing splits it before the labeler does)."""
    rng = random.Random(seed)
    out, n = [], 0
    while n < chars:
        w = rng.choice(WORDS)
        out.append(w)
        n += len(w)
    return "".join(out)[:chars]


def make_cases(root: Path, scale: float) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cases = {}
    (root / "ordinary").mkdir()
    for d in range(20):
        paras = [text(200, d * 100 + i) + "。" for i in range(50)]
        (root / "ordinary" / f"doc{d}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    cases["reference: 20 documents x 50 paragraphs of 200 characters"] = root / "ordinary"
    n = int(15_000_000 * scale)
    long = ("价格战研发投入产业升级" * (n // 11 + 1))[:n]
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(6)], "text": [long] * 6}), root / "long.parquet")
    cases[f"Parquet: 6 rows x {n:,} characters"] = root / "long.parquet"
    n = int(5_000_000 * scale)
    with open(root / "long.jsonl", "w", encoding="utf-8") as f:
        for i in range(8):
            f.write(json.dumps({"id": f"j{i}", "text": text(n, i)}, ensure_ascii=False) + "\n")
    cases[f"JSON Lines: 8 rows x {n:,} characters"] = root / "long.jsonl"
    n = int(19_000_000 * scale)
    (root / "one.txt").write_text(text(n, 99), encoding="utf-8")
    cases[f".txt: one paragraph of {n:,} characters"] = root / "one.txt"
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="characters of each case, as a share of the audit's")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    cli = [sys.executable, "-m", "policytheme.cli"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = root / "model"
        subprocess.run(
            [*cli, "train", "--model", "tfidf-logreg", "--data", "data/real.jsonl", "--out", str(model)]
            + ["--n-boot", "10"],
            check=True,
            capture_output=True,
        )
        for name, path in make_cases(root, args.scale).items():
            out = root / f"{path.name}-labels.jsonl"
            started = time.perf_counter()
            probe = [*cli, "label", "--model", str(model), str(path), "--out", str(out), "--quiet"]
            r = subprocess.run([sys.executable, "-c", PROBE, *probe], capture_output=True, text=True)
            code, rss = map(int, r.stdout.split())
            rows = sum(1 for _ in open(out, encoding="utf-8")) if out.exists() else 0
            seconds = time.perf_counter() - started
            chars = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())
            results.append(
                {
                    "case": name,
                    "exit": code,
                    "rows": rows,
                    "peak_rss_mib": round(rss / 2**20),
                    "seconds": round(seconds, 1),
                    "input_bytes": chars,
                }
            )
            print(
                f"{name:<55} exit {code}  rows {rows:>5}  peak RSS {rss / 2**20:7,.0f} MiB  {seconds:6.1f} s",
                flush=True,
            )
            if code != 0:
                print(r.stderr, file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps({"scale": args.scale, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
