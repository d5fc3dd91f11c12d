"""Originality checks for the shipped corpus.

Two checks keep the corpus honest: no two paragraphs are near-duplicates (more than half of their
character 5-grams shared, Jaccard), and no paragraph shares a copied run with the real documents of
``../shared/corpus`` (which the project must never copy). A copied run is one of about a clause's worth of
words: 30 characters of Chinese or Japanese (15 to 20 words), 60 characters of a space-separated script
(about 10 words). 30 characters of English are five words, and stock phrases of that length (" in
research and development, ") recur in any two texts on one subject.

    python -m policytheme.data.quality data/corpus.jsonl [more.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def near_duplicates(texts: list[str], threshold: float = 0.5, n: int = 5) -> list[tuple[int, int, float]]:
    """Pairs (i, j, jaccard) of texts whose character n-gram sets overlap above ``threshold``."""
    vec = CountVectorizer(analyzer="char", ngram_range=(n, n), binary=True, lowercase=False)
    x = vec.fit_transform(texts).astype(np.int32).tocsr()
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = (x @ x.T).tocoo()
    pairs = []
    for i, j, k in zip(inter.row, inter.col, inter.data):
        if i < j:
            union = sizes[i] + sizes[j] - k
            jac = k / union if union else 0.0
            if jac > threshold:
                pairs.append((int(i), int(j), float(jac)))
    return sorted(pairs)


RUN_CJK, RUN_SPACED = 30, 60


def _cjk(text: str) -> bool:
    """Whether most letters of ``text`` are CJK ideographs or kana (a script written without spaces)."""
    letters = [ch for ch in text if ch.isalpha()]
    cjk = sum(1 for ch in letters if "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff")
    return bool(letters) and cjk * 2 > len(letters)


def copied_runs(texts: list[str], corpus_texts: list[str]) -> dict[int, str]:
    """For each text that shares a copied run (``RUN_CJK`` or ``RUN_SPACED`` characters, by its script)
    with any corpus text, one such run."""
    cjk = [i for i, t in enumerate(texts) if _cjk(t)]
    spaced = [i for i, t in enumerate(texts) if not _cjk(t)]
    hits = {}
    for idx, n in ((cjk, RUN_CJK), (spaced, RUN_SPACED)):
        found = shared_runs([texts[i] for i in idx], corpus_texts, n)
        hits.update({idx[k]: run for k, run in found.items()})
    return dict(sorted(hits.items()))


def shared_runs(texts: list[str], corpus_texts: list[str], n: int = 30) -> dict[int, str]:
    """For each text that shares an ``n``-character run with any corpus text, one such run."""
    owner: dict[str, int] = {}
    for i, t in enumerate(texts):
        for k in range(len(t) - n + 1):
            owner.setdefault(t[k : k + n], i)
    hits: dict[int, str] = {}
    for doc in corpus_texts:
        for k in range(len(doc) - n + 1):
            i = owner.get(doc[k : k + n])
            if i is not None and i not in hits:
                hits[i] = doc[k : k + n]
    return hits


def read_shared_corpus(root: Path = SHARED_CORPUS) -> list[str]:
    """The real documents, one string per file (empty when the folder is absent)."""
    if not root.is_dir():
        return []
    return [p.read_text(encoding="utf-8") for p in sorted(root.glob("*.txt"))]


def _load(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{lineno}: invalid JSON: {e.msg}")
                row["_where"] = f"{path.name}:{lineno}"
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--no-shared", action="store_true", help="skip the ../shared/corpus check")
    args = ap.parse_args(argv)
    rows = _load(args.files)
    texts = [r.get("text", "") for r in rows]
    bad = 0
    for i, j, jac in near_duplicates(texts):
        bad += 1
        print(f"NEAR-DUPLICATE {jac:.2f}: {rows[i]['_where']} ~ {rows[j]['_where']}")
    if not args.no_shared:
        for i, run in copied_runs(texts, read_shared_corpus()).items():
            bad += 1
            print(f"SHARED-RUN: {rows[i]['_where']} shares {run!r} with ../shared/corpus")
    n = len(rows)
    langs = Counter(r.get("lang") for r in rows)
    labels = Counter(tuple(sorted(r.get("labels", []))) for r in rows)
    singles = Counter(lab for r in rows for lab in r.get("labels", []))
    print(f"{n} paragraphs, {len({r.get('doc_id') for r in rows})} documents")
    print("languages: " + ", ".join(f"{k}={v} ({v / n:.0%})" for k, v in langs.most_common()))
    print("themes: " + ", ".join(f"{k}={v} ({v / n:.0%})" for k, v in singles.most_common()))
    for combo, v in sorted(labels.items(), key=lambda kv: (len(kv[0]), kv[0])):
        print(f"  {'+'.join(combo) or '(none)'}: {v} ({v / n:.1%})")
    hard = sum(1 for r in rows if r.get("hard_negative"))
    print(f"hard negatives: {hard} ({hard / max(n, 1):.0%})")
    print(f"{bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
