"""Labeling speed and memory: the project's labeler against the plain way, side by side, same paragraphs.

    python -m policytheme.eval.benchmarks.label_speed [--corpus ../shared/corpus] [--paragraphs N] [--repeat 3]
        [--memory-scale 10] [--skip transformer]

Transformer: a model shaped like MiniLM-L12-H384 (12 layers, hidden 384, 12 heads, feed-forward 1536,
250,002-token vocabulary) is built here with random weights and saved as a policytheme model (window of
512 tokens, truncated, as the pipeline does). ``policytheme label`` (files in, labeled file out) is timed
against ``transformers.pipeline("text-classification", batch_size=64)`` over the same paragraphs (reading
them is not counted for the pipeline). Baseline: ``policytheme label`` with the default model
(tfidf-logreg trained on the default data), the whole process timed (start-up, loading, reading, scoring,
writing), on every paragraph of the corpus ``--repeat`` times over (one JSON-lines file), against the plain
way a user writes in ten lines: scikit-learn's ``TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))``
and a one-vs-rest ``LogisticRegression`` fitted on the training splits of the same data, timing only
``transform`` and ``predict_proba`` on the same paragraphs. Each side runs in its own process, so peak
memory is its own. ``--memory-scale K`` labels the corpus once and K times over (as JSON lines) to show
that peak memory does not grow with the corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from policytheme.data.documents import expand_inputs, iter_documents
from policytheme.eval.benchmarks.finetune_speed import E5_SMALL, build_backbone
from policytheme.models.base import peak_memory

LABELS = ["price_competition", "industrial_upgrading", "innovation"]
PHASES = ("labeler", "pipeline", "tfidf-labeler", "tfidf-sklearn", "tfidf-plain", "memory")


def select_files(corpus: str, paragraphs: int) -> list[Path]:
    """Whole documents of the corpus, a fixed pseudo-random sample of them, up to ``paragraphs`` (0: all)."""
    docs = [p for p in expand_inputs([corpus]) if not p.stem.isupper()]  # the documents, not README/PROVENANCE
    if not paragraphs:
        return docs
    chosen, total = [], 0
    for path in sorted(docs, key=lambda p: hashlib.sha256(p.name.encode()).hexdigest()):
        chosen.append(path)
        total += sum(len(d.paragraphs) for d in iter_documents([str(path)]))
        if total >= paragraphs:
            break
    return sorted(chosen)


def paragraphs_of(files: list[Path]) -> list[str]:
    return [p for d in iter_documents([str(f) for f in files]) for p in d.paragraphs]


def build_transformer(folder: Path, sample: list[str]) -> None:
    """A MiniLM-L12-H384-sized classifier with random weights, saved as a policytheme model.

    The head is scaled so scores spread over (0, 1), and thresholds sit at each theme's 80th percentile on a
    sample: labels then depend on the numbers, which is what the agreement check needs."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from policytheme.models.transformer import TransformerModel

    backbone = folder.with_name(folder.name + "-backbone")
    if not (backbone / "config.json").exists():
        build_backbone(backbone)
    torch.manual_seed(0)
    model = TransformerModel(LABELS, backbone=str(backbone), max_length=512, truncate=True)
    model.tokenizer_ = AutoTokenizer.from_pretrained(backbone)
    model.model_ = AutoModelForSequenceClassification.from_pretrained(
        backbone, num_labels=3, problem_type="multi_label_classification", id2label=dict(enumerate(LABELS)),
        label2id={lab: i for i, lab in enumerate(LABELS)}, use_safetensors=True,
    )  # fmt: skip
    model.model_.classifier.weight.data *= 40
    scores = model.predict_proba(sample)
    model.thresholds_ = np.quantile(scores, 0.8, axis=0)
    model.save(folder)


def build_tfidf(folder: Path) -> None:
    """The default model (tfidf-logreg on the default data), unless ``folder`` holds one from an earlier run."""
    if (folder / "model").is_dir():
        return
    subprocess.run(
        [sys.executable, "-m", "policytheme.cli", "train", "--model", "tfidf-logreg", "--out", str(folder),
         "--overwrite", "--n-boot", "10"], check=True, capture_output=True,
    )  # fmt: skip


def phase(name: str, work: Path, files: list[Path]) -> dict:
    """One side of one comparison, in this process: seconds, paragraphs, labels, peak memory."""
    if name in ("labeler", "tfidf-labeler", "memory"):  # the command a user runs
        model = work / ("transformer" if name == "labeler" else "tfidf-logreg")
        out = work / f"{name}.jsonl"
        cmd = [sys.executable, "-m", "policytheme.cli", "label", "--model", str(model), *map(str, files)]
        started = time.perf_counter()
        subprocess.run(cmd + ["--out", str(out), "--overwrite", "--quiet"], check=True, capture_output=True)
        whole = time.perf_counter() - started
        manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text(encoding="utf-8"))
        with open(out, encoding="utf-8") as f:
            labels = [sorted(json.loads(line)["labels"]) for line in f] if name == "labeler" else []
        out.unlink()
        # seconds: the whole command for the TF-IDF model (start-up and loading too); for the transformer,
        # reading, scoring and writing, not loading (as for its peer); labeling: without start-up and loading
        seconds = manifest["seconds"] if name == "labeler" else whole
        return {"seconds": seconds, "labeling_seconds": manifest["seconds"], "paragraphs": manifest["paragraphs"],
                "labels": labels, **manifest["peak_memory"]}  # fmt: skip
    texts = paragraphs_of(files)
    if name == "pipeline":
        import torch
        from transformers import pipeline

        from policytheme.models.base import read_meta

        folder = work / "transformer"
        thresholds = read_meta(folder)["thresholds"]
        pipe = pipeline("text-classification", model=str(folder), device=0 if torch.cuda.is_available() else -1)
        started = time.perf_counter()
        results = pipe(texts, batch_size=64, truncation=True, max_length=512, top_k=None, function_to_apply="sigmoid")
        seconds = time.perf_counter() - started
        labels = [sorted(r["label"] for r in res if r["score"] >= thresholds[r["label"]]) for res in results]
        return {"seconds": seconds, "paragraphs": len(texts), "labels": labels, **peak_memory()}
    if name == "tfidf-plain":
        return plain_sklearn(texts)
    from policytheme.models import load_model

    model = load_model(work / "tfidf-logreg")
    started = time.perf_counter()
    x = model.vectorizer_.transform(texts)  # scikit-learn's own path, as a user of the estimator would
    scores = np.column_stack([clf.predict_proba(x)[:, 1] for clf in model.estimators_])
    seconds = time.perf_counter() - started
    labels = [sorted(lab for lab, on in zip(model.labels, row) if on) for row in model.decide(scores)]
    return {"seconds": seconds, "paragraphs": len(texts), "labels": labels, **peak_memory()}


def plain_sklearn(texts: list[str]) -> dict:
    """The plain way: char_wb 1-3 TF-IDF and one-vs-rest logistic regression fitted on the training splits of
    the default data (not timed), then ``transform`` and ``predict_proba`` on ``texts`` (timed)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from policytheme.data.records import DEFAULT_DATA, label_ids, read_examples, to_matrix

    labels = label_ids()
    train = [e for path in DEFAULT_DATA for e in read_examples(path, labels) if e.extra.get("split") == "train"]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))
    clf = OneVsRestClassifier(LogisticRegression(max_iter=1000))
    clf.fit(vec.fit_transform([e.text for e in train]), to_matrix(train, labels))
    started = time.perf_counter()
    scores = clf.predict_proba(vec.transform(texts))
    seconds = time.perf_counter() - started
    on = scores >= 0.5
    return {"seconds": seconds, "paragraphs": len(texts), "labels": [], "positive": on.sum(0).tolist(), **peak_memory()}


def repeated(work: Path, files: list[Path], k: int) -> Path:
    """The documents of ``files`` ``k`` times over, as one JSON-lines file in ``work`` (never the project)."""
    path = work / f"corpus-x{k}.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for copy in range(k):
            for doc in iter_documents([str(x) for x in files]):
                f.write(json.dumps({"id": f"{copy}:{doc.doc_id}", "text": "\n\n".join(doc.paragraphs)}) + "\n")
    return path


def run_phase(name: str, work: Path, files: list[Path]) -> dict:
    listing = work / f"{name}.files"
    listing.write_text("\n".join(map(str, files)), encoding="utf-8")
    cmd = [sys.executable, "-m", "policytheme.eval.benchmarks.label_speed", "--phase", name, "--work", str(work)]
    result = subprocess.run(cmd + ["--files", str(listing)], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def compare(title: str, ours: dict, peer: dict, peer_name: str) -> list[str]:
    agree = "n/a (another model)"
    if ours["labels"] and peer["labels"]:
        agree = f"{np.mean([a == b for a, b in zip(ours['labels'], peer['labels'])]):.2%}"
    rate = lambda r: r["paragraphs"] / r["seconds"]  # noqa: E731

    def mem(r: dict) -> str:
        out = gib(r["rss_bytes"]) + (f", GPU {gib(r['gpu_bytes'])}" if "gpu_bytes" in r else "")
        return out + (f" (+ each scoring process {gib(r['worker_rss_bytes'])})" if "worker_rss_bytes" in r else "")

    return [
        f"| {title}: policytheme label | {ours['paragraphs']:,} | {ours['seconds']:.1f} | {rate(ours):,.0f} "
        f"| {rate(ours) / rate(peer):.2f}x | {agree} | {mem(ours)} |",
        f"| {title}: {peer_name} | {peer['paragraphs']:,} | {peer['seconds']:.1f} | {rate(peer):,.0f} | 1.00x | | {mem(peer)} |",  # noqa: E501
    ]


def memory_scaling(work: Path, files: list[Path], scale: int) -> list[str]:
    """Peak memory labeling the corpus once and ``scale`` times over, as one JSON-lines file each."""
    lines = []
    for k in (1, scale):
        path = repeated(work, files, k)
        r = run_phase("memory", work, [path])
        workers = gib(r["worker_rss_bytes"]) if "worker_rss_bytes" in r else "-"
        lines.append(f"| x{k} | {r['paragraphs']:,} | {r['seconds']:.1f} | {r['paragraphs'] / r['seconds']:,.0f} "
                     f"| {gib(r['rss_bytes'])} | {workers} |")  # fmt: skip
        path.unlink()
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="../shared/corpus" if Path("../shared/corpus").is_dir() else "data/samples")
    ap.add_argument(
        "--paragraphs", type=int, default=0, help="transformer: a sample of documents of about N paragraphs (0: all)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="tfidf: the corpus this many times over (default 3)")
    ap.add_argument("--memory-scale", type=int, default=10, help="label the corpus 1x and Kx over (0: skip)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["transformer", "tfidf"], help="comparisons to leave out")
    ap.add_argument("--work", type=Path, help="folder for the models and outputs (default: temporary)")
    ap.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    ap.add_argument("--files", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="label-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.phase:  # a child process: one side of one comparison
        files = [Path(x) for x in args.files.read_text(encoding="utf-8").splitlines()]
        print(json.dumps(phase(args.phase, work, files)))
        return 0
    everything = select_files(args.corpus, 0)
    files = select_files(args.corpus, args.paragraphs)  # for the transformer (slow on a CPU)
    texts = paragraphs_of(files)
    device = "cpu"
    import torch

    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    print(f"corpus: {args.corpus}, {len(everything)} documents; transformer sample: {len(files)} documents, "
          f"{len(texts):,} paragraphs; device: {device}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}", flush=True)  # fmt: skip
    rows = [
        "| comparison | paragraphs | seconds | paragraphs/s | speed-up | same labels | peak memory |",
        "|---|---|---|---|---|---|---|",
    ]  # noqa: E501
    if "tfidf" not in args.skip:
        build_tfidf(work / "tfidf-logreg")
        corpus = repeated(work, everything, args.repeat)
        ours, peer = run_phase("tfidf-labeler", work, [corpus]), run_phase("tfidf-plain", work, [corpus])
        corpus.unlink()
        rows += compare("tfidf-logreg (default model), whole command", ours, peer, "plain scikit-learn")
        print("\n".join(rows), flush=True)
        print(f"(labeling alone, without start-up and loading: {ours['labeling_seconds']:.1f} s, "
              f"{ours['paragraphs'] / ours['labeling_seconds']:,.0f} paragraphs/s; plain scikit-learn labeled "
              f"{peer['positive']} paragraphs per theme)", flush=True)  # fmt: skip
    if "transformer" not in args.skip:
        if not (work / "transformer" / "model.json").exists():
            build_transformer(work / "transformer", texts[:256])
        ours, peer = run_phase("labeler", work, files), run_phase("pipeline", work, files)
        rows += compare(f"MiniLM-L12-H384 ({E5_SMALL['vocab']:,} vocab)", ours, peer, "transformers.pipeline, batch 64")
    print("\n" + "\n".join(rows))
    if args.memory_scale:
        build_tfidf(work / "tfidf-logreg")
        print("\nPeak memory of `policytheme label` (tfidf-logreg) by corpus size:\n")
        print("| corpus | paragraphs | seconds | paragraphs/s | peak RSS | each scoring process |")
        print("|---|---|---|---|---|---|")
        print("\n".join(memory_scaling(work, everything, args.memory_scale)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
