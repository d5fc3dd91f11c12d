"""Fast batched inference for a sequence-classification encoder: no padding wasted, the device kept busy.

- Windows are sorted by length and cut into batches by a **token budget** (rows x padded length), so a
  batch of short paragraphs holds many rows and a batch of long ones few, and padding is a few percent.
- Batches are built with numpy from one flat array of token ids (no per-row Python padding), copied from
  pinned memory without blocking, and run under bf16 autocast on a GPU; logits stay on the device until
  the whole chunk is done, so the host prepares batch k+1 while the GPU runs batch k.
- Tokenizing (``encode``) is separate from scoring so a caller can tokenize the next chunk in another
  thread while the model scores this one (the Rust tokenizer releases the GIL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CPU_TOKEN_BUDGET = 8_192
GPU_TOKEN_BUDGET = 131_072


@dataclass
class Encoded:
    """Token windows of a list of texts, flat: window i is ``ids[starts[i] : starts[i] + lengths[i]]``."""

    ids: np.ndarray  # int64, all windows concatenated
    starts: np.ndarray
    lengths: np.ndarray
    text_of_window: np.ndarray  # index of the text each window came from
    n_texts: int


def encode(tokenizer, texts: Sequence[str], max_length: int, stride: int, truncate: bool) -> Encoded:
    """Tokenize into windows of at most ``max_length`` tokens, overlapping by ``stride`` (or the first only)."""
    if not texts:
        empty = np.zeros(0, dtype=np.int64)
        return Encoded(empty, empty, empty, empty, 0)
    enc = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        stride=0 if truncate else stride,
        return_overflowing_tokens=not truncate,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    windows = enc["input_ids"]
    mapping = enc.get("overflow_to_sample_mapping")
    lengths = np.fromiter(map(len, windows), dtype=np.int64, count=len(windows))
    starts = np.zeros(len(windows), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    ids = np.fromiter((t for w in windows for t in w), dtype=np.int64, count=int(lengths.sum()))
    text_of_window = np.arange(len(texts)) if mapping is None else np.asarray(mapping, dtype=np.int64)
    return Encoded(ids, starts, lengths, text_of_window, len(texts))


def token_budget_batches(sorted_lengths: np.ndarray, budget: int) -> list[slice]:
    """Consecutive slices of length-sorted (longest first) windows whose padded size fits ``budget`` tokens."""
    batches, start, n = [], 0, len(sorted_lengths)
    while start < n:
        rows = max(1, budget // max(1, int(sorted_lengths[start])))  # the first window is the longest
        batches.append(slice(start, min(n, start + rows)))
        start += rows
    return batches


def score(model, enc: Encoded, n_labels: int, pad_id: int, token_budget: int = 0) -> np.ndarray:
    """Sigmoid scores per text (max over its windows), shape (n_texts, n_labels)."""
    import torch

    pooled = np.zeros((enc.n_texts, n_labels), dtype=np.float32)
    if enc.n_texts == 0:
        return pooled
    device = next(model.parameters()).device
    cuda = device.type == "cuda"
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    budget = token_budget or (GPU_TOKEN_BUDGET if cuda else CPU_TOKEN_BUDGET)
    order = np.argsort(-enc.lengths, kind="stable")
    sorted_lengths = enc.lengths[order]
    outputs, keep = [], []  # logits stay on the device; pinned inputs stay alive until the copy is done
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=cuda):
        for part in token_budget_batches(sorted_lengths, budget):
            rows, lengths = order[part], sorted_lengths[part]
            width = int(lengths[0])
            cols = np.arange(width)
            mask = cols[None, :] < lengths[:, None]
            positions = np.where(mask, enc.starts[rows][:, None] + cols[None, :], 0)
            ids = np.where(mask, enc.ids[positions], pad_id)
            ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask.astype(np.int64))
            if cuda:
                ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
                keep.append((ids_t, mask_t))
                ids_t, mask_t = ids_t.to(device, non_blocking=True), mask_t.to(device, non_blocking=True)
            outputs.append(model(input_ids=ids_t, attention_mask=mask_t).logits.float())
        probs_sorted = torch.sigmoid(torch.cat(outputs)).cpu().numpy()
    probs = np.empty_like(probs_sorted)
    probs[order] = probs_sorted
    np.maximum.at(pooled, enc.text_of_window, probs)
    return pooled
