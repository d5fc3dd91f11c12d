"""Batch labeling: resume after SIGKILL and failures, one row per paragraph in order, outputs never clobbered."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policytheme.cli import main
from policytheme.label.labeler import label_corpus
from policytheme.label.parts import PartStore
from tests.conftest import PHRASES, make_rows, write_jsonl


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    data = write_jsonl(root / "tiny.jsonl", make_rows())
    for name in ("tfidf-logreg", "tfidf-nb"):
        assert run("train", "--model", name, "--data", data, "--out", root / name, "--n-boot", 10) == 0
    return root


def make_corpus(folder: Path, n_files: int, per_file: int) -> Path:
    """Text files of numbered paragraphs made from the fixture phrases (every paragraph distinct)."""
    folder.mkdir(parents=True, exist_ok=True)
    phrases = [p for group in PHRASES.values() for p in group]
    for f in range(n_files):
        pick = [(phrases[(f + i) % len(phrases)], phrases[(f * 7 + i) % len(phrases)]) for i in range(per_file)]
        paras = [f"{a} {b} [{f}.{i}]" for i, (a, b) in enumerate(pick)]
        (folder / f"doc{f:04d}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    return folder


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def interrupt_after(monkeypatch, commits: int) -> None:
    """Make the next labeling stop as Ctrl-C would, right after its ``commits``-th committed part."""
    real_commit, calls = PartStore.commit, {"n": 0}

    def commit(self, *a, **k):
        real_commit(self, *a, **k)
        calls["n"] += 1
        if calls["n"] == commits:
            raise KeyboardInterrupt

    monkeypatch.setattr(PartStore, "commit", commit)


def test_rows_carry_source_offsets_and_scores(models, tmp_path):
    corpus = make_corpus(tmp_path / "c", 3, 4)
    summary = label_corpus(models / "tfidf-logreg", [str(corpus)], tmp_path / "out.jsonl", batch_size=5, progress=False)
    rows = read_rows(tmp_path / "out.jsonl")
    assert summary.paragraphs == len(rows) == 12 and summary.documents == 3
    assert [r["text"].rsplit("[", 1)[1] for r in rows] == [f"{f}.{i}]" for f in range(3) for i in range(4)]
    assert {"doc_id", "paragraph", "source", "start", "end", "text", "labels", "scores"} <= set(rows[0])
    assert rows[5]["source"].endswith("doc0001.txt") and rows[5]["paragraph"] == 1
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["complete"] and manifest["parts"] == [5, 5, 2] and manifest["paragraphs"] == 12
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_sigkill_at_random_points_then_resume_gives_every_paragraph_once_in_order(models, tmp_path):
    corpus = make_corpus(tmp_path / "c", 40, 30)  # 1,200 paragraphs, committed 16 at a time
    reference = tmp_path / "reference.jsonl"
    label_corpus(models / "tfidf-nb", [str(corpus)], reference, batch_size=16, progress=False)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "policytheme.cli", "label", "--model", str(models / "tfidf-nb"), str(corpus)]
    cmd += ["--out", str(out), "--batch-size", "16", "--quiet"]
    rng, kills = random.Random(7), 0
    manifest = out.with_name("out.jsonl.parts") / "manifest.json"

    def committed() -> int:
        return len(json.loads(manifest.read_text())["parts"]) if manifest.exists() else 0

    for attempt in range(5):  # four runs killed at a random moment of their labeling, the fifth finishes
        proc, start = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), committed()
        while proc.poll() is None and committed() == start:  # this process is labeling
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.2))
        if proc.poll() is not None or attempt == 4:
            proc.wait()
            assert proc.returncode == 0, proc.stderr.read().decode()
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    assert kills >= 1 and out.exists()
    assert out.read_bytes() == reference.read_bytes()  # each paragraph once, in order, no torn row
    assert not out.with_name("out.jsonl.parts").exists()


def test_death_between_part_and_manifest_rewrites_the_unlisted_part(models, tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "c", 4, 10)
    out = tmp_path / "out.csv"
    saves = {"n": 0}
    real_save = PartStore._save

    def dying_save(self, manifest=None):
        saves["n"] += 1
        if saves["n"] == 4:  # the third part is on disk, the manifest does not list it yet
            raise KeyboardInterrupt
        real_save(self, manifest)

    monkeypatch.setattr(PartStore, "_save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=7, progress=False)
    parts = out.with_name("out.csv.parts")
    assert (parts / "part-000002.csv").exists()
    assert json.loads((parts / "manifest.json").read_text())["parts"] == [7, 7]
    monkeypatch.setattr(PartStore, "_save", real_save)
    summary = label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=7, progress=False)
    assert summary.state == "resume" and summary.paragraphs == 40
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("doc_id,paragraph,source,start,end,text,labels,score_")
    assert [ln.split("[")[1].split("]")[0] for ln in lines[1:]] == [f"{f}.{i}" for f in range(4) for i in range(10)]


def test_output_of_another_model_or_corpus_is_refused(models, tmp_path, capsys):
    corpus = make_corpus(tmp_path / "c", 2, 3)
    out = tmp_path / "labels.parquet"
    assert run("label", "--model", models / "tfidf-logreg", corpus, "--out", out, "--quiet") == 0
    before = out.read_bytes()
    assert run("label", "--model", models / "tfidf-logreg", corpus, "--out", out, "--quiet") == 0
    assert "already complete" in capsys.readouterr().out and out.read_bytes() == before
    assert run("label", "--model", models / "tfidf-nb", corpus, "--out", out, "--quiet") == 2
    err = capsys.readouterr().err
    assert "labeled by another model" in err and "--overwrite" in err and "Traceback" not in err
    make_corpus(corpus, 3, 3)  # a new file joins the corpus
    assert run("label", "--model", models / "tfidf-logreg", corpus, "--out", out, "--quiet") == 2
    assert "other inputs (2 files then, 3 now" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert run("label", "--model", models / "tfidf-nb", corpus, "--out", out, "--quiet", "--overwrite") == 0
    assert out.read_bytes() != before


def test_interrupted_run_of_another_model_is_not_continued(models, tmp_path, monkeypatch, capsys):
    corpus = make_corpus(tmp_path / "c", 3, 10)
    out = tmp_path / "labels.jsonl"
    interrupt_after(monkeypatch, 1)
    assert run("label", "--model", models / "tfidf-logreg", corpus, "--out", out, "--batch-size", 5, "--quiet") == 130
    monkeypatch.undo()
    assert run("label", "--model", models / "tfidf-nb", corpus, "--out", out, "--quiet") == 2
    assert "an interrupted run in" in capsys.readouterr().err
    assert run("label", "--model", models / "tfidf-logreg", corpus, "--out", out, "--batch-size", 5, "--quiet") == 0
    assert "(resumed)" in capsys.readouterr().out and len(read_rows(out)) == 30


def test_corrupt_file_in_the_middle_is_skipped_once_even_across_a_resume(models, tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "c", 4, 5)
    (corpus / "doc0001.txt").write_bytes(b"\x00\x01\x02" + bytes(range(128, 256)) * 4)
    out = tmp_path / "labels.jsonl"
    interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=4, progress=False)
    summary = label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=4, progress=False)
    assert summary.paragraphs == 15 and len(summary.errors) == 1
    assert "doc0001.txt" in summary.errors[0]["path"] and "input(s) skipped" in str(summary)
    errors = read_rows(tmp_path / "labels.jsonl.errors.jsonl")
    assert len(errors) == 1 and errors[0]["path"].endswith("doc0001.txt")
    assert [r["source"].rsplit("/", 1)[1] for r in read_rows(out)][::5] == ["doc0000.txt", "doc0002.txt", "doc0003.txt"]


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance started for these tests (2 CPU slots), shut down after."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_writes_the_same_output_and_resumes(models, tmp_path, local_ray, monkeypatch):
    corpus = make_corpus(tmp_path / "c", 6, 9)
    (corpus / "doc0003.txt").write_bytes(b"\x00\x01\x02" + bytes(range(128, 256)) * 4)
    local = tmp_path / "local.jsonl"
    label_corpus(models / "tfidf-logreg", [str(corpus)], local, batch_size=10, progress=False)
    out = tmp_path / "ray.jsonl"
    interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        label_corpus(models / "tfidf-logreg", [str(corpus)], out, batch_size=10, engine="ray", progress=False)
    summary = label_corpus(
        models / "tfidf-logreg", [str(corpus)], out, batch_size=10, engine="ray", workers=2, progress=False
    )
    assert summary.state == "resume" and summary.paragraphs == 45 and len(summary.errors) == 1
    assert out.read_bytes() == local.read_bytes()
    assert (tmp_path / "ray.jsonl.errors.jsonl").read_bytes() == (tmp_path / "local.jsonl.errors.jsonl").read_bytes()


def test_death_while_cleaning_up_leaves_a_finished_output(models, tmp_path, monkeypatch):
    import shutil

    corpus = make_corpus(tmp_path / "c", 3, 6)
    out = tmp_path / "out.jsonl"
    real_rmtree = shutil.rmtree

    def dying_rmtree(path, *a, **k):
        if str(path).endswith(".parts") and out.exists():  # killed after the output and its manifest are in place
            (Path(path) / "part-000000.jsonl").unlink()
            raise KeyboardInterrupt
        real_rmtree(path, *a, **k)

    monkeypatch.setattr(shutil, "rmtree", dying_rmtree)
    with pytest.raises(KeyboardInterrupt):
        label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=5, progress=False)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert not (tmp_path / "out.jsonl.parts" / "manifest.json").exists()
    summary = label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=5, progress=False)
    assert summary.state == "done" and summary.paragraphs == 18 and len(read_rows(out)) == 18
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_output_inside_the_corpus_is_not_read_back(models, tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path / "c", 3, 4)
    out = corpus / "labels.jsonl"
    (corpus / "doc0002.txt").write_bytes(b"\x00\x01\x02" + bytes(range(128, 256)) * 4)  # an errors file too
    interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=3, progress=False)
    monkeypatch.undo()
    summary = label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=3, progress=False)
    assert summary.state == "resume" and summary.paragraphs == 8 and len(summary.errors) == 1
    again = label_corpus(models / "tfidf-nb", [str(corpus)], out, batch_size=3, progress=False)
    assert again.state == "done" and len(read_rows(out)) == 8
