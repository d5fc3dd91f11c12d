"""Fine-tuning a ``TransformerModel`` with transformers' ``Trainer``.

What the Trainer brings: warm-up and linear decay, gradient accumulation, mixed precision on a GPU,
checkpoints that ``--resume`` continues from, early stopping, best-checkpoint selection, and
data-parallel training under ``torchrun`` (gloo on CPUs, NCCL on GPUs). What is added here: windows
through ``datasets.map`` (tokenized once, cached in the work folder), a loss that weighs the positives
of rare themes up, and dev scoring per paragraph (windows max-pooled, thresholds tuned per theme).

Two ways to learn from a paragraph of several windows (``mil``): each window learns its paragraph's labels,
even the windows that never name the theme; or the paragraph is trained as it is scored, its logit per
theme the maximum over its windows, and the loss taken on that (multiple-instance learning: the positive
paragraph's best window is pushed up, every window of a negative one down).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from policytheme.models.quiet import quiet_trainer
from policytheme.models.thresholds import tuned_macro_f1


def _windows_dataset(model, texts: list[str], y: np.ndarray, cache_dir: Path, name: str, bags: bool = False):
    """A ``datasets.Dataset`` of tokenized windows, each with its paragraph's labels and index; with ``bags``,
    one row per paragraph instead: the token ids of its windows (``windows``) and its labels."""
    from datasets import Dataset

    tok = model.tokenizer_
    p = model.params
    key = json.dumps([texts, y.tolist(), tok.name_or_path, len(tok), p["max_length"], p["stride"], p["truncate"], bags])
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    rank = os.environ.get("RANK", "0")  # each process of a distributed run writes its own cache file
    raw = Dataset.from_dict(
        {"text": texts, "labels": y.astype(np.float32).tolist(), "paragraph": list(range(len(texts)))}
    )

    def tokenize(batch):
        enc, mapping = model.windows(tok, batch["text"])
        if bags:
            windows = [[] for _ in batch["text"]]
            for ids, i in zip(enc["input_ids"], mapping):
                windows[i].append(ids)
            return {"windows": windows, "labels": batch["labels"]}
        enc["labels"] = [batch["labels"][i] for i in mapping]
        enc["paragraph"] = [batch["paragraph"][i] for i in mapping]
        return enc

    cache_dir.mkdir(parents=True, exist_ok=True)
    return raw.map(
        tokenize,
        batched=True,
        remove_columns=["text", "labels", "paragraph"],
        cache_file_name=str(cache_dir / f"{name}-{fingerprint}-rank{rank}.arrow"),
        new_fingerprint=f"{name}-{fingerprint}",
        desc=f"tokenizing {name}",
    )


def _pos_weight(y: np.ndarray, cap: float) -> np.ndarray:
    """Loss weight of each theme's positives: negatives per positive, capped, never below 1."""
    pos = y.sum(axis=0)
    neg = len(y) - pos
    return np.clip(neg / np.maximum(pos, 1), 1.0, cap).astype(np.float32)


class BagCollator:
    """Rows of ``_windows_dataset(bags=True)`` to one padded batch of all their windows, with ``bag``: for each
    window, the row (paragraph) it belongs to."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        windows = [w for row in rows for w in row["windows"]]
        ids = torch.full((len(windows), max(map(len, windows))), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for k, w in enumerate(windows):
            ids[k, : len(w)] = torch.tensor(w)
            mask[k, : len(w)] = 1
        bag = [i for i, row in enumerate(rows) for _ in row["windows"]]
        labels = torch.tensor([row["labels"] for row in rows], dtype=torch.float32)
        return {"input_ids": ids, "attention_mask": mask, "bag": torch.tensor(bag), "labels": labels}


def bag_max(logits, bag, n_bags: int):
    """Per bag (paragraph) and theme, the largest logit of its windows: ``logits`` (windows, themes), ``bag``
    (windows,) the bag of each window. The gradient reaches only each bag's best window."""
    import torch

    out = torch.full((n_bags, logits.shape[1]), float("-inf"), dtype=logits.dtype, device=logits.device)
    return out.scatter_reduce(0, bag[:, None].expand_as(logits), logits, reduce="amax")


def _trainer_class():
    import torch
    from transformers import Trainer

    class WeightedTrainer(Trainer):
        """BCE-with-logits with per-theme positive weights; a per-batch mean, scaled by the Trainer for GA.
        Given ``bag`` (``BagCollator``), the loss is on each paragraph's maximum over its windows."""

        loss_is_scaled_for_ga = False

        def __init__(self, *args, pos_weight: np.ndarray, **kwargs):
            super().__init__(*args, **kwargs)
            self.pos_weight = torch.tensor(pos_weight)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            bag = inputs.pop("bag", None)
            outputs = model(**inputs)
            logits = outputs.logits.float()
            if bag is not None:
                logits = bag_max(logits, bag, len(labels))
                outputs = {"logits": logits}
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=self.pos_weight.to(logits.device)
            )
            return (loss, outputs) if return_outputs else loss

    return WeightedTrainer


def finetune(
    model, texts: list[str], y: np.ndarray, dev: tuple | None, work_dir: str | Path | None, resume: bool, progress: bool
) -> list[dict]:
    """Train ``model.model_`` in place; returns the dev metrics of each epoch."""
    import torch
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    p = model.params
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="policytheme-"))
    cuda = torch.cuda.is_available()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    batch = p["batch_size"] or (64 if cuda else 16)

    bags = p["mil"]
    train_ds = _windows_dataset(model, texts, y, work / "cache", "train", bags)
    dev_ds = dev_map = None
    if dev is not None and len(dev[0]):
        dev_ds = _windows_dataset(model, list(dev[0]), np.asarray(dev[1]), work / "cache", "dev", bags)
        dev_map = np.arange(len(dev_ds)) if bags else np.asarray(dev_ds["paragraph"])
        dev_y = np.asarray(dev[1])

    def compute_metrics(pred):  # predictions per window (per paragraph with bags), pooled per paragraph
        probs = 1 / (1 + np.exp(-np.asarray(pred.predictions, dtype=np.float64)))
        pooled = np.zeros((len(dev_y), probs.shape[1]))
        np.maximum.at(pooled, dev_map[: len(probs)], probs)
        return {"macro_f1": tuned_macro_f1(dev_y, pooled)}

    steps_per_epoch = max(1, -(-len(train_ds) // (batch * p["grad_accum"] * world)))
    total = p["max_steps"] if p["max_steps"] > 0 else steps_per_epoch * p["epochs"]
    strategy = "epoch" if p["max_steps"] <= 0 else "steps"
    eval_every = steps_per_epoch if strategy == "epoch" else max(1, total // 2)
    args = TrainingArguments(
        output_dir=str(work / "checkpoints"),
        num_train_epochs=p["epochs"],
        max_steps=p["max_steps"],
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=batch * 2,
        gradient_accumulation_steps=p["grad_accum"],
        learning_rate=p["learning_rate"],
        weight_decay=p["weight_decay"],
        lr_scheduler_type="linear",
        warmup_steps=int(p["warmup_ratio"] * total),
        eval_strategy=strategy if dev_ds is not None else "no",
        save_strategy=strategy,
        eval_steps=eval_every,
        save_steps=eval_every,
        logging_steps=eval_every,
        load_best_model_at_end=dev_ds is not None,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        save_total_limit=2,
        seed=p["seed"],
        data_seed=p["seed"],
        bf16=cuda and torch.cuda.is_bf16_supported(),
        fp16=cuda and not torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        ddp_backend=None if cuda or world == 1 else "gloo",
        ddp_find_unused_parameters=False,
        report_to="none",
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        remove_unused_columns=not bags,  # a bag's "windows" are unpacked by BagCollator, not the model
    )
    collator = BagCollator(model.tokenizer_.pad_token_id or 0) if bags else DataCollatorWithPadding(model.tokenizer_)
    callbacks = [EarlyStoppingCallback(early_stopping_patience=p["patience"])] if dev_ds is not None else []
    trainer = _trainer_class()(
        model=model.model_,
        args=args,
        train_dataset=train_ds,
        eval_dataset=dev_ds,
        data_collator=collator,
        processing_class=model.tokenizer_,
        compute_metrics=compute_metrics if dev_ds is not None else None,
        callbacks=callbacks,
        pos_weight=_pos_weight(y, p["max_pos_weight"]),
    )
    quiet_trainer(trainer, progress)
    last = get_last_checkpoint(args.output_dir) if resume and Path(args.output_dir).is_dir() else None
    result = trainer.train(resume_from_checkpoint=last)
    model.model_ = trainer.model
    # the trainer's log survives a resume (it is part of each checkpoint): dev figures of every evaluation
    history = [
        {k.removeprefix("eval_"): v for k, v in entry.items()}
        for entry in trainer.state.log_history
        if "eval_macro_f1" in entry
    ]
    figures = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
    figures.update(
        windows=sum(map(len, train_ds["windows"])) if bags else len(train_ds),
        batch_size=batch,
        world_size=world,
        precision="bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
        device=torch.cuda.get_device_name() if cuda else "cpu",
    )
    return history, figures
