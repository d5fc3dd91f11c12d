"""The fast labeling path changes nothing: the same scores as the unoptimised path, the same bytes in parallel.

``reference_scores`` below is the TF-IDF model's scoring as it was before it was made fast (each clause's
cues counted by the regular expressions, one clause at a time); the model's own path must give the very
same numbers on the shipped real and written test splits.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from policytheme.data.records import CORPUS_PATH, GENRES_PATH, REAL_PATH, label_ids, read_examples, to_matrix
from policytheme.label.labeler import label_corpus
from policytheme.models import make_model
from policytheme.models.clauses import explode, max_pool
from policytheme.models.keywords import CueCounter, KeywordModel, _alternatives, _pattern
from tests.conftest import write_jsonl
from tests.test_label import make_corpus, models  # noqa: F401 - the module's trained tiny models

LABELS = label_ids()


def split(path: Path, name: str) -> list[str]:
    return [e.text for e in read_examples(path, LABELS) if e.extra.get("split") == name]


@pytest.fixture(scope="module")
def trained():
    """tfidf-logreg with the default settings (clauses, cue features) on part of the real training split."""
    examples = [e for e in read_examples(REAL_PATH, LABELS) if e.extra.get("split") == "train"][::3]
    examples += [e for e in read_examples(CORPUS_PATH, LABELS) if e.extra.get("split") == "train"][::6]
    model = make_model("tfidf-logreg", LABELS, max_features=50_000)
    return model.fit([e.text for e in examples], to_matrix(examples, LABELS))


def reference_scores(model, texts: list[str]) -> np.ndarray:
    """The unoptimised path: clauses, TF-IDF, each clause's cues found by the regular expressions."""
    pieces, owner = explode(texts, model.params["whole"])
    model.features(pieces[:1])  # builds the n-gram transformers and the keyword model
    blocks = [vec.transform(pieces) for vec in model.fast_]
    counts = [[len(m) for m in model.keywords_.matches(t)] for t in pieces]
    blocks.append(sp.csr_matrix(np.asarray(counts, dtype=np.float32).reshape(len(pieces), -1) * model.params["cues"]))
    x = sp.hstack(blocks, format="csr")
    out = np.empty((x.shape[0], len(model.labels)), dtype=np.float32)
    for j, clf in enumerate(model.estimators_):
        out[:, j] = model.constant_[j] if clf is None else clf.predict_proba(x)[:, 1]
    return max_pool(out, owner, len(texts))


@pytest.mark.parametrize("path", [REAL_PATH, CORPUS_PATH, GENRES_PATH], ids=["real", "written", "genres"])
def test_scores_equal_the_unoptimised_path_on_the_test_splits(trained, path):
    texts = split(path, "test")
    assert len(texts) > 200
    want = reference_scores(trained, texts)
    got = trained.predict_proba(texts)
    assert np.array_equal(got, want)  # not close: equal, so not one label can change
    assert (trained.decide(got) == trained.decide(want)).all() and trained.decide(want).any()


def test_cue_counts_equal_the_regular_expressions_on_every_test_paragraph_and_clause():
    model = KeywordModel(LABELS)
    texts = [t for path in (REAL_PATH, CORPUS_PATH, GENRES_PATH) for t in split(path, "test")]
    texts += explode(texts)[0]
    want = np.array([[len(m) for m in model.matches(t)] for t in texts])
    got = model.counts(texts)
    assert np.array_equal(got, want) and want.sum() > 1000


def test_cue_counts_replay_the_regular_expressions_choice():
    """Overlapping cues, the longest-first order, Latin cues at word starts only, case, empty texts."""
    themes = [["price war", "war", "price", "ar"], ["ai", "AI chip", "chip"]]
    themes.append(["创新", "技术创新", "创新型", "型", "技术"])
    counter = CueCounter([_alternatives(c) for c in themes])
    texts = [
        "Price wars: a price war, a warship.",  # "price war" (twice: one cue) beats "price"; "war" of "warship"
        "xAI said AI chips; ai.",  # "ai" not after a letter (xAI, said); "AI chip" lower-cased, then "ai"
        "技术创新型企业，创新。",  # 技术创新 first, then 型 (创新型 overlaps it), then 创新
        "",
        "ar ar",
        "技术创新",  # one cue, the longest: not 技术 then 创新
    ]
    model = KeywordModel(["a", "b", "c"], lexicon=None, partial=True)
    model.patterns_ = [_pattern(c) for c in themes]
    want = np.array([[len(m) for m in model.matches(t)] for t in texts])
    assert np.array_equal(counter.counts(texts), want)
    assert want.tolist() == [[2, 0, 0], [0, 2, 0], [0, 0, 3], [0, 0, 0], [1, 0, 0], [0, 0, 1]]


def test_a_parallel_run_writes_the_same_bytes_as_one_process(models, tmp_path):  # noqa: F811
    corpus = make_corpus(tmp_path / "c", 30, 20)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    label_corpus(models / "tfidf-logreg", [str(corpus)], one, batch_size=32, workers=1, progress=False)
    label_corpus(models / "tfidf-logreg", [str(corpus)], two, batch_size=32, workers=2, progress=False)
    assert one.read_bytes() == two.read_bytes() and len(one.read_text().splitlines()) == 600
    manifest = json.loads((tmp_path / "two.jsonl.manifest.json").read_text())
    assert manifest["peak_memory"]["worker_rss_bytes"] > 0  # the scoring processes ran


def test_a_parallel_run_killed_resumes_to_the_same_bytes(models, tmp_path):  # noqa: F811
    corpus = make_corpus(tmp_path / "c", 40, 30)
    reference = tmp_path / "reference.jsonl"
    label_corpus(models / "tfidf-logreg", [str(corpus)], reference, batch_size=16, workers=1, progress=False)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "policytheme.cli", "label", "--model", str(models / "tfidf-logreg"), str(corpus)]
    cmd += ["--out", str(out), "--batch-size", "16", "--workers", "2", "--quiet"]
    manifest = out.with_name("out.jsonl.parts") / "manifest.json"

    def committed() -> int:
        return len(json.loads(manifest.read_text())["parts"]) if manifest.exists() else 0

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while proc.poll() is None and committed() < 3:
        time.sleep(0.005)
    assert proc.poll() is None, "finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)  # the labeler alone: its scoring processes must not hold the output
    proc.wait()
    assert 3 <= committed() < 75 and not out.exists()
    done = subprocess.run(cmd, capture_output=True, text=True)  # at once: not "another run is writing it"
    assert done.returncode == 0, done.stderr
    assert "(resumed)" in done.stdout
    assert out.read_bytes() == reference.read_bytes()


def test_the_tfidf_labeling_path_does_not_import_torch(models, tmp_path):  # noqa: F811
    out = tmp_path / "out.jsonl"
    docs = write_jsonl(tmp_path / "docs.jsonl", [{"id": "d", "text": "加大研发投入。\n\n企业陷入价格战。"}])
    code = (
        "import sys; from policytheme.cli import main; "
        f"rc = main(['label', '--model', {str(models / 'tfidf-logreg')!r}, {str(docs)!r}, '--out', {str(out)!r}, "
        "'--quiet']); print('torch' in sys.modules); sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert len(out.read_text().splitlines()) == 2
