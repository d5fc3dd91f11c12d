"""Masked-language-model pretraining on the user's own documents, for machines that cannot reach the Hub.

- From scratch: a WordPiece tokenizer suited to Chinese and alphabetic languages (every CJK character is
  its own token, as in multilingual BERT; words of alphabetic scripts are split into word pieces) and a
  small BERT encoder sized by the arguments.
- ``from_``: continue pretraining an existing checkpoint (hub id or folder) on the domain text.

The output folder is a standard checkpoint that ``train --backbone DIR`` takes, plus ``pretrain.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from policytheme.data.documents import iter_documents
from policytheme.data.records import DataError
from policytheme.models import ModelError
from policytheme.models.quiet import quiet_libraries, quiet_trainer

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass
class PretrainConfig:
    corpus: list[str]
    out: str
    from_: str | None = None
    vocab_size: int = 32000
    hidden_size: int = 256
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 1024
    max_length: int = 128
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 32
    learning_rate: float = 0.0  # 0: 5e-4 from scratch, 5e-5 when continuing
    mlm_probability: float = 0.15
    min_chars: int = 8  # shorter paragraphs (page numbers, stray headings) teach little
    seed: int = 0


def corpus_paragraphs(inputs: list[str], min_chars: int = 8) -> Iterator[str]:
    for doc in iter_documents(inputs):
        for p in doc.paragraphs:
            if len(p) >= min_chars:
                yield p


def wordpiece_vocabulary(words: Counter, vocab_size: int, max_piece: int = 12) -> list[str]:
    """A WordPiece vocabulary chosen deterministically from word counts.

    Every character seen (word-initial and ``##`` continuation) is kept, so any text of the corpus's
    scripts can be spelled; the rest of the room goes to the word pieces that save the most tokens
    (occurrences x (length - 1)), ties broken by the piece itself. Unlike the ``tokenizers`` trainer, whose
    merges break ties in hash order, the same corpus always gives the same vocabulary.
    """
    gain: Counter = Counter()
    alphabet: set[str] = set()
    for word, n in words.items():
        for i in range(len(word)):
            alphabet.add(word[i] if i == 0 else "##" + word[i])
            for j in range(i + 2, min(len(word), i + max_piece) + 1):
                gain[word[i:j] if i == 0 else "##" + word[i:j]] += n * (j - i - 1)
    chars = sorted(alphabet)
    room = max(0, vocab_size - len(SPECIAL_TOKENS) - len(chars))
    pieces = sorted((p for p, g in gain.items() if g >= 2), key=lambda p: (-gain[p], p))[:room]
    return SPECIAL_TOKENS + chars + sorted(pieces)


def train_tokenizer(texts, vocab_size: int, model_max_length: int = 512):
    """A WordPiece tokenizer (lower-cased, CJK characters split), its vocabulary chosen from ``texts``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words: Counter = Counter()
    for text in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    vocab = wordpiece_vocabulary(words, vocab_size)
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=model_max_length,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def _from_scratch(config: PretrainConfig, texts: list[str]):
    from transformers import BertConfig, BertForMaskedLM

    tokenizer = train_tokenizer(texts, config.vocab_size, model_max_length=max(512, config.max_length))
    bert = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=max(512, config.max_length),
        pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer, BertForMaskedLM(bert)


def _continued(config: PretrainConfig):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.from_, local_files_only=True)
        model = AutoModelForMaskedLM.from_pretrained(config.from_, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"--from {config.from_}: cannot load a masked-language-model checkpoint from the local "
            f"cache or folder ({str(e).splitlines()[0]}); pass a local folder"
        ) from None
    return tokenizer, model


def pretrain(config: PretrainConfig, out_dir: Path, progress: bool = True) -> dict:
    """Pretrain and save a checkpoint into ``out_dir``; returns the record written as ``pretrain.json``."""
    import transformers
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments, set_seed

    quiet_libraries()
    set_seed(config.seed)
    texts = list(corpus_paragraphs(config.corpus, config.min_chars))
    if not texts:
        raise DataError([f"{' '.join(config.corpus)}: no paragraphs to pretrain on"])
    started = time.perf_counter()
    tokenizer, model = _continued(config) if config.from_ else _from_scratch(config, texts)
    dataset = Dataset.from_dict({"text": texts}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=config.max_length, return_special_tokens_mask=True),
        batched=True,
        remove_columns=["text"],
        desc="tokenizing",
    )
    import torch

    cuda = torch.cuda.is_available()
    steps = config.max_steps if config.max_steps > 0 else int(-(-len(dataset) // config.batch_size) * config.epochs)
    args = TrainingArguments(
        output_dir=str(out_dir / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate or (5e-5 if config.from_ else 5e-4),
        warmup_steps=int(0.06 * steps),
        weight_decay=0.01,
        lr_scheduler_type="linear",
        save_strategy="no",
        logging_steps=50,
        seed=config.seed,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        report_to="none",
        disable_tqdm=not progress,
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mlm_probability)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
    quiet_trainer(trainer, progress)
    result = trainer.train()
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    trainer.model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    record = {
        "config": asdict(config),
        "paragraphs": len(texts),
        "tokens": int(sum(len(ids) for ids in dataset["input_ids"])),
        "parameters": int(sum(p.numel() for p in trainer.model.parameters())),
        "steps": int(result.global_step),
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else float(result.training_loss),
        "seconds": round(time.perf_counter() - started, 1),
        "transformers": transformers.__version__,
    }
    (out_dir / "pretrain.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record
