"""The transformer path on tiny models built here (no downloads): fine-tuning, the saved checkpoint,
sliding windows, resume, pretraining, cross-lingual flags, distributed training and the errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from policytheme.cli import main
from policytheme.models import ModelError, load_model, make_model
from tests.conftest import make_rows, write_jsonl

LABELS = ["price_competition", "industrial_upgrading", "innovation"]
TINY = ["--batch-size", "8", "--max-length", "32", "--n-boot", "20"]


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """A tiny BERT encoder and WordPiece tokenizer, built and saved locally."""
    from transformers import BertConfig, BertModel

    from policytheme.train.pretrain import train_tokenizer

    folder = tmp_path_factory.mktemp("backbone")
    tok = train_tokenizer([r["text"] for r in make_rows()], vocab_size=300)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
    )
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def trained(backbone, tmp_path_factory):
    root = tmp_path_factory.mktemp("tr")
    data = write_jsonl(root / "tiny.jsonl", make_rows())
    assert (
        run(
            "train",
            "--model",
            "transformer",
            "--backbone",
            backbone,
            "--data",
            data,
            "--out",
            root / "run",
            "--epochs",
            "2",
            *TINY,
        )
        == 0
    )
    return root / "run", data


def test_run_folder_and_standard_checkpoint(trained):
    run_dir, _ = trained
    names = {p.name for p in run_dir.iterdir()}
    assert {"model", "metrics.json", "predictions.jsonl", "history.json", "run.json"} <= names
    model_files = {p.name for p in (run_dir / "model").iterdir()}
    assert {"model.safetensors", "config.json", "model.json"} <= model_files
    assert not any(f.endswith((".bin", ".pt", ".pkl")) for f in model_files)
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["id2label"] == {str(i): lab for i, lab in enumerate(LABELS)}
    history = json.loads((run_dir / "history.json").read_text())
    assert [round(h["epoch"]) for h in history] == [1, 2] and all("macro_f1" in h for h in history)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"] == "transformer" and set(metrics["per_language"]) == {"en", "zh"}
    assert not list(run_dir.parent.glob(".run.work"))  # checkpoints are removed once the run is complete


def test_pipeline_loads_the_checkpoint_as_is_and_thresholds_apply(trained):
    from transformers import pipeline

    run_dir, _ = trained
    model = load_model(run_dir)
    texts = ["企业陷入价格战，利润持续下滑。", "R&D spending rose and patents doubled."]
    ours = model.predict_proba(texts)
    out = pipeline("text-classification", model=str(run_dir / "model"), top_k=None)(texts)
    theirs = np.array([[{d["label"]: d["score"] for d in o}[lab] for lab in LABELS] for o in out])
    assert np.allclose(ours, theirs, atol=1e-5)
    thresholds = json.loads((run_dir / "model" / "model.json").read_text())["thresholds"]
    assert model.thresholds_.tolist() == [thresholds[lab] for lab in LABELS]
    assert (model.predict(texts) == (ours >= model.thresholds_)).all()


def test_long_paragraph_is_scored_by_sliding_windows(trained):
    import torch

    run_dir, _ = trained
    model = load_model(run_dir)
    model.params["max_length"], model.params["stride"] = 16, 4
    long_text = " ".join(r["text"] for r in make_rows(n_docs=2))
    enc, mapping = model.windows(model.tokenizer_, [long_text])
    assert len(mapping) > 3 and set(mapping) == {0}
    with torch.no_grad():
        per_window = [
            torch.sigmoid(model.model_(input_ids=torch.tensor([ids])).logits)[0].numpy() for ids in enc["input_ids"]
        ]
    assert np.allclose(model.predict_proba([long_text])[0], np.max(per_window, axis=0), atol=1e-5)
    model.params["truncate"] = True
    assert np.allclose(model.predict_proba([long_text])[0], per_window[0], atol=1e-5)


def test_cpu_training_is_repeatable(backbone):
    rows = make_rows(n_docs=8)
    y = np.array([[lab in r["labels"] for lab in LABELS] for r in rows], dtype=int)
    texts = [r["text"] for r in rows]
    scores = []
    for _ in range(2):
        m = make_model("transformer", LABELS, backbone=str(backbone), max_steps=3, batch_size=4, max_length=32)
        scores.append(m.fit(texts, y, progress=False).predict_proba(texts))
    assert np.array_equal(scores[0], scores[1])


def test_interrupted_training_resumes_from_its_last_checkpoint(backbone, tmp_path, monkeypatch):
    import transformers

    data = write_jsonl(tmp_path / "d.jsonl", make_rows())
    out = tmp_path / "run"
    original_step = transformers.Trainer.training_step
    calls = {"n": 0}

    def dies_after_first_checkpoint(self, *a, **k):
        calls["n"] += 1
        if self.state.global_step == 3:
            raise KeyboardInterrupt
        return original_step(self, *a, **k)

    monkeypatch.setattr(transformers.Trainer, "training_step", dies_after_first_checkpoint)
    args = [
        "train",
        "--model",
        "transformer",
        "--backbone",
        backbone,
        "--data",
        data,
        "--out",
        out,
        "--max-steps",
        "4",
        *TINY,
    ]
    assert run(*args) == 130
    assert not out.exists() and (tmp_path / ".run.work" / "checkpoints" / "checkpoint-2").is_dir()
    monkeypatch.setattr(transformers.Trainer, "training_step", original_step)
    resumed_from = {}
    original_train = transformers.Trainer.train

    def spy(self, resume_from_checkpoint=None, **k):
        resumed_from["path"] = resume_from_checkpoint
        return original_train(self, resume_from_checkpoint=resume_from_checkpoint, **k)

    monkeypatch.setattr(transformers.Trainer, "train", spy)
    assert run(*args, "--resume") == 0
    assert str(resumed_from["path"]).endswith("checkpoint-2")
    history = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in history] == [2, 4]  # the evaluation before the interruption is kept


def test_pretrain_from_scratch_then_continue_then_fine_tune(docs_dir, tmp_path, capsys):
    scratch, cont = tmp_path / "scratch", tmp_path / "cont"
    small = [
        "--vocab-size",
        "200",
        "--hidden-size",
        "32",
        "--layers",
        "1",
        "--heads",
        "2",
        "--intermediate-size",
        "64",
        "--max-length",
        "32",
        "--batch-size",
        "4",
    ]
    assert run("pretrain", "--corpus", docs_dir, "--out", scratch, "--max-steps", "3", *small) == 0
    record = json.loads((scratch / "pretrain.json").read_text())
    # 5 paragraphs, of which 2 are shorter than 8 characters and teach little
    assert record["steps"] == 3 and record["paragraphs"] == 3 and (scratch / "model.safetensors").is_file()
    assert (
        run("pretrain", "--corpus", docs_dir, "--out", cont, "--from", scratch, "--max-steps", "2", "--batch-size", "4")
        == 0
    )
    assert json.loads((cont / "pretrain.json").read_text())["config"]["from_"] == str(scratch)
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(n_docs=8))
    assert (
        run(
            "train",
            "--model",
            "transformer",
            "--backbone",
            cont,
            "--data",
            data,
            "--out",
            tmp_path / "r",
            "--max-steps",
            "2",
            *TINY,
        )
        == 0
    )
    assert "checkpoint:" in capsys.readouterr().out


def test_cross_lingual_flags(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(n_docs=40))
    out = tmp_path / "xl"
    assert (
        run(
            "train",
            "--model",
            "tfidf-logreg",
            "--data",
            data,
            "--out",
            out,
            "--train-langs",
            "en",
            "--eval-langs",
            "zh",
            "--n-boot",
            "20",
        )
        == 0
    )
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert preds and {p["lang"] for p in preds} == {"zh"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["per_language"]) == {"zh"} and metrics["data"]["langs"] == ["zh"]
    assert run("evaluate", out, "--n-boot", "20") == 0  # re-scoring the run keeps its evaluation languages
    assert set(json.loads((out / "metrics.json").read_text())["per_language"]) == {"zh"}
    splits = json.loads((out / "run.json").read_text())["splits"]
    assert splits["train"]["paragraphs"] == 90  # the 18 English train and dev documents of 40 (cross-fitted)
    assert (
        run("train", "--model", "tfidf-logreg", "--data", data, "--out", tmp_path / "none", "--train-langs", "ko") == 2
    )


def test_backbone_that_cannot_be_loaded_gives_one_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(n_docs=8))
    assert (
        run(
            "train",
            "--model",
            "transformer",
            "--backbone",
            "no-such-org/no-such-model",
            "--data",
            data,
            "--out",
            tmp_path / "r",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--backbone PATH" in err and "policytheme pretrain" in err
    (tmp_path / "empty").mkdir()
    assert (
        run(
            "train", "--model", "transformer", "--backbone", tmp_path / "empty", "--data", data, "--out", tmp_path / "r"
        )
        == 2
    )
    assert "cannot load a transformer checkpoint" in capsys.readouterr().err
    with pytest.raises(ModelError, match="unknown transformer parameter"):
        make_model("transformer", LABELS, epoch=3)


def test_data_parallel_training_with_two_cpu_processes(backbone, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", make_rows())
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "policytheme.cli",
            "train",
            "--model",
            "transformer",
            "--backbone",
            str(backbone),
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-steps",
            "4",
            *TINY,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "metrics.json").is_file() and (out / "model" / "model.safetensors").is_file()
    assert "world_size" in proc.stderr or "trained transformer" in proc.stdout
    assert not list(tmp_path.glob(".ddp.*"))
    shutil.rmtree(out)


def test_clause_scores_are_the_best_clause(trained):
    """With ``clauses`` a paragraph scores as its best clause, each clause scored as a text of its own."""
    model = load_model(trained[0] / "model")
    clauses = ["加大研发投入，突破关键核心技术。", "居民消费价格涨幅保持稳定。", "Prices fell; margins are thin."]
    paragraphs = ["".join(clauses[:2]), clauses[2], ""]
    model.params["clauses"] = True
    per_clause = model.predict_proba([*clauses, "Prices fell;", "margins are thin.", ""])
    pooled = model.predict_proba(paragraphs)
    assert pooled.shape == (3, len(model.labels))
    assert np.allclose(pooled[0], per_clause[:2].max(axis=0), atol=1e-5)
    assert np.allclose(pooled[1], per_clause[3:5].max(axis=0), atol=1e-5)
    assert np.allclose(pooled[2], per_clause[5], atol=1e-5)
    model.params["clauses"] = False
    assert (model.predict_proba(paragraphs[:1]) != pooled[:1]).any()  # whole, the paragraph scores otherwise


def test_bucketed_inference_equals_one_text_at_a_time(trained):
    """Length-sorted token-budget batches (padding, many batch shapes) give each text's unpadded scores."""
    import torch

    model = load_model(trained[0] / "model")
    texts = [r["text"] for r in make_rows()][:40] + ["短", "a much longer paragraph " * 30]
    model.params["token_budget"] = 100  # many small batches of mixed widths
    bucketed = model.predict_proba(texts)
    plain = []
    with torch.inference_mode():
        for t in texts:
            enc, mapping = model.windows(model.tokenizer_, [t])
            windows = [torch.tensor([ids]) for ids in enc["input_ids"]]
            plain.append(np.max([torch.sigmoid(model.model_(input_ids=w).logits)[0].numpy() for w in windows], 0))
    assert np.abs(bucketed - np.array(plain)).max() < 1e-5
    assert (model.score(model.prepare(texts)) == bucketed).all()


def test_two_pretraining_runs_give_identical_checkpoints(tmp_path):
    """Separate processes (each with its own hash seed): same corpus and settings, same bytes."""
    corpus = write_jsonl(tmp_path / "c.jsonl", make_rows(n_docs=16))
    small = ["--vocab-size", "300", "--hidden-size", "32", "--layers", "1", "--heads", "2"]
    small += ["--intermediate-size", "64", "--max-length", "32", "--batch-size", "4", "--max-steps", "3"]
    outs = []
    for i, seed in enumerate(("1", "2")):  # different PYTHONHASHSEED: set and dict orders differ
        out = tmp_path / f"enc{i}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        cmd = [sys.executable, "-m", "policytheme.cli", "pretrain", "--corpus", str(corpus), "--out", str(out), *small]
        assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
        outs.append(out)
    for name in ("model.safetensors", "tokenizer.json", "vocab.txt"):
        if (outs[0] / name).exists():
            assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    records = [json.loads((o / "pretrain.json").read_text()) for o in outs]
    assert records[0]["tokens"] == records[1]["tokens"] and records[0]["final_loss"] == records[1]["final_loss"]


def test_multiple_instance_loss_reaches_only_each_paragraphs_best_window():
    """``bag_max``: per paragraph and theme the largest window logit; the gradient flows to that window alone."""
    import torch

    from policytheme.models.finetune import BagCollator, bag_max

    batch = BagCollator(pad_id=0)(
        [{"windows": [[5, 6, 7], [8]], "labels": [1, 0]}, {"windows": [[9]], "labels": [0, 1]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0], [9, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 0, 0]]
    assert batch["bag"].tolist() == [0, 0, 1] and batch["labels"].tolist() == [[1, 0], [0, 1]]
    logits = torch.tensor([[0.2, 3.0], [1.5, -1.0], [-2.0, 0.5]], requires_grad=True)
    pooled = bag_max(logits, batch["bag"], 2)
    assert pooled.tolist() == [[1.5, 3.0], [-2.0, 0.5]]
    pooled.sum().backward()
    assert logits.grad.tolist() == [[0, 1], [1, 0], [1, 1]]


def test_multiple_instance_fine_tuning_end_to_end(backbone, tmp_path):
    """``--param mil=true`` trains on paragraphs of several windows and saves a model scored as before."""
    rows = make_rows()
    for r in rows[::4]:  # a quarter of the paragraphs span several 32-token windows
        r["text"] = " ".join([r["text"]] * 6)
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    out = tmp_path / "mil"
    argv = ["train", "--model", "transformer", "--backbone", backbone, "--data", data, "--epochs", "2", *TINY]
    assert run(*argv, "--out", out, "--param", "mil=true") == 0
    record = json.loads((out / "run.json").read_text())
    assert record["training"]["windows"] > len(rows)  # train paragraphs' windows, the long ones' several each
    model = load_model(out)
    assert model.params["mil"] is True and len(json.loads((out / "history.json").read_text())) == 2
    assert run(*argv, "--out", tmp_path / "plain") == 0  # the same run without it learns other weights
    texts = [r["text"] for r in rows[::4]]
    assert not np.allclose(model.predict_proba(texts), load_model(tmp_path / "plain").predict_proba(texts))


def test_a_truncated_safetensors_file_is_one_line_and_exit_2(trained, tmp_path, capsys):
    """A damaged transformer folder (the weights file cut short, as by a failed copy) is refused with one line
    naming the folder, exit 2, no traceback, and no output written."""
    import shutil

    run_dir, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    weights = broken / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("加大研发投入。\n\n企业陷入价格战。\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert run("label", "--model", broken, docs, "--out", out, "--quiet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(broken / "model") in err[0] and "Traceback" not in err[0], err
    assert not out.exists()
