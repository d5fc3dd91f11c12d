"""Shared fixtures: a tiny labeled corpus and tiny documents, written fresh for each test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Short phrases per theme; fixture paragraphs combine them so every theme and several combinations occur.
PHRASES = {
    "price_competition": [
        "企业陷入价格战，利润持续下滑。",
        "Firms cut prices below cost in a price war.",
        "坚决遏制低价无序竞争。",
        "Dumping and thin margins hurt the sector.",
    ],
    "industrial_upgrading": [
        "推动传统产业转型升级。",
        "Move from assembly to advanced manufacturing.",
        "加快制造业高端化智能化。",
        "Upgrade the industrial structure toward high value.",
    ],
    "innovation": [
        "加大研发投入，突破关键核心技术。",
        "R&D spending rose and patents doubled.",
        "建设国家重点实验室。",
        "Firms invested in new technology and research.",
    ],
    None: [
        "居民消费价格涨幅保持稳定。",
        "GDP grew by five percent last year.",
        "深化行政体制改革。",
        "Roads and bridges were renovated.",
    ],
}
COMBOS = [
    [],
    ["price_competition"],
    ["industrial_upgrading"],
    ["innovation"],
    ["price_competition", "industrial_upgrading"],
    ["industrial_upgrading", "innovation"],
]


def make_rows(n_docs: int = 24, per_doc: int = 5, tag: str = "") -> list[dict]:
    """A tiny labeled corpus; ``tag`` makes another file's: ids and documents prefixed ``tag-``, texts end
    with `` (tag)``."""
    rows = []
    for d in range(n_docs):
        lang = "zh" if d % 2 == 0 else "en"
        offset = 0 if lang == "zh" else 1
        for p in range(per_doc):
            labels = COMBOS[(d + p) % len(COMBOS)]
            parts = [PHRASES[lab][(d + offset + 2 * p) % 2 * 2 + offset] for lab in labels] or [
                PHRASES[None][(d + p) % 2 * 2 + offset]
            ]
            text = " ".join(parts) + f" ({d}-{p})" + (f" ({tag})" if tag else "")
            pre = f"{tag}-" if tag else ""
            doc = f"{pre}d{d:02d}"
            rows.append({"id": f"{doc}-p{p}", "text": text, "labels": labels, "lang": lang, "doc_id": doc})
    return rows


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "tiny.jsonl", make_rows())


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "report.txt").write_text("一、工作回顾\n\n企业陷入价格战，利润下滑。\n\n加大研发投入。\n", encoding="utf-8")
    (d / "sub" / "notes.md").write_text("Upgrade manufacturing.\nCut prices in a price war.\n", encoding="utf-8")
    (d / "ignored.bin").write_bytes(b"\x00\x01")
    return d
