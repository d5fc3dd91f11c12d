"""Careless and hostile input through the command line: one line, exit 2, no traceback, nothing half-written.

The table holds every bad input found so far; the next one is a row, not a new mechanism. Each row builds
its case in a fresh folder and says what the one line must contain; the test checks the four promises.
"""

import errno
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import policytheme.data.formats
from policytheme.cli import main
from policytheme.label.parts import OutputLock
from tests.conftest import make_rows, write_jsonl
from tests.test_label import make_corpus, read_rows

LEFTOVERS = ("*.tmp", ".*.tmp", "*.parts", ".*partial*", ".*staging*", ".*.lock", "*.predictions.jsonl")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("model")
    data = write_jsonl(root / "tiny.jsonl", make_rows())
    assert (
        main(["train", "--model", "tfidf-logreg", "--data", str(data), "--out", str(root / "run"), "--n-boot", "10"])
        == 0
    )
    return root / "run"


def _copy_model(model: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(model, to)
    return to


def _docs(d: Path) -> Path:
    d.mkdir(exist_ok=True)
    (d / "a.txt").write_text("企业陷入价格战，利润下滑。\n\n加大研发投入。\n", encoding="utf-8")
    return d


# name -> (build(tmp, model) -> argv, what the one line must say)
CASES = {
    "only unreadable documents": (
        lambda t, m: ["label", "--model", m, _empty_pdf(t), "--out", t / "o.jsonl"],
        "no paragraphs to label",
    ),
    "a folder as --out, with --overwrite": (
        lambda t, m: ["label", "--model", m, _docs(t / "d"), "--out", _dir(t / "o.jsonl"), "--overwrite"],
        "is a folder",
    ),
    "a corrupt model.json": (
        lambda t, m: [
            "label",
            "--model",
            _spoil(t, m, "model/model.json", b"{"),
            _docs(t / "d"),
            "--out",
            t / "o.jsonl",
        ],
        "model.json:1: invalid JSON",
    ),
    "a model.json without thresholds": (
        lambda t, m: [
            "label",
            "--model",
            _spoil(t, m, "model/model.json", b'{"kind": "tfidf", "labels": ["x"]}'),
            _docs(t / "d"),
            "--out",
            t / "o.jsonl",
        ],
        "missing 'thresholds'",
    ),
    "a corrupt model.skops": (
        lambda t, m: [
            "label",
            "--model",
            _spoil(t, m, "model/model.skops", b"PK\x03\x04junk"),
            _docs(t / "d"),
            "--out",
            t / "o.jsonl",
        ],
        "not a readable skops file",
    ),
    "--param C=abc": (
        lambda t, m: ["train", "--model", "tfidf-logreg", "--data", _tiny(t), "--out", t / "r", "--param", "C=abc"],
        "C='abc': must be a number",
    ),
    "--param seed=1": (
        lambda t, m: ["train", "--model", "tfidf-logreg", "--data", _tiny(t), "--out", t / "r", "--param", "seed=1"],
        "use --seed",
    ),
    "--param classifier=svm2": (
        lambda t, m: [
            "train",
            "--model",
            "tfidf-logreg",
            "--data",
            _tiny(t),
            "--out",
            t / "r",
            "--param",
            "classifier=svm2",
        ],
        "the model name fixes it (logreg)",
    ),
    "--param clauses=maybe": (
        lambda t, m: ["train", "--model", "tfidf-nb", "--data", _tiny(t), "--out", t / "r", "--param", "clauses=maybe"],
        "must be true or false",
    ),
    "train --out naming a file": (
        lambda t, m: ["train", "--model", "tfidf-nb", "--data", _tiny(t), "--out", _file(t / "r.txt")],
        "is a file",
    ),
    "one training paragraph": (
        lambda t, m: ["train", "--model", "tfidf-nb", "--data", _one(t), "--out", t / "r"],
        "need at least 3 documents",
    ),
    "evaluate a model folder": (lambda t, m: ["evaluate", m / "model"], "is a model folder"),
    "evaluate --out a folder": (
        lambda t, m: ["evaluate", _copy_model(m, t / "run"), "--out", _dir(t / "runs")],
        "is a folder",
    ),
    "compare a non-UTF-8 metrics file": (
        lambda t, m: ["compare", _file(t / "metrics.json", b"\xff\xfe{")],
        "not UTF-8",
    ),
    "a jsonl training file with bad rows": (
        lambda t, m: [
            "train",
            "--model",
            "tfidf-nb",
            "--data",
            _file(t / "b.jsonl", b"not json\n"),
            "--out",
            t / "r",
        ],
        "b.jsonl:1: invalid JSON",
    ),
    "a symbolic link at the output's lock": (
        lambda t, m: ["label", "--model", m, _docs(t / "d"), "--out", _planted_lock(t, "o.jsonl")],
        "is a symbolic link",
    ),
    "a symbolic link at a run folder's lock": (
        lambda t, m: [
            "train",
            "--model",
            "tfidf-nb",
            "--data",
            _tiny(t),
            "--out",
            _planted_lock(t, "r"),
            "--n-boot",
            "5",
        ],
        "is a symbolic link",
    ),
    "train --overwrite of the folder holding its data": (
        lambda t, m: [
            "train",
            "--model",
            "tfidf-nb",
            "--data",
            _tiny(_dir(t / "r")),
            "--out",
            t / "r",
            "--overwrite",
        ],
        "an input of this command",
    ),
}

# bad numbers: each gives one line naming the flag or parameter, exit 2, and nothing left (no .r.work/ either)
TRAIN = ["train", "--model", "tfidf-logreg", "--n-boot", "5", "--out"]
for _flag, _expected in {
    ("--param", "C=0"): "C=0: must be > 0",
    ("--param", "C=-1"): "C=-1: must be > 0",
    ("--param", "C=NaN"): "must be a finite number",
    ("--param", "C=Infinity"): "must be a finite number",
    ("--param", "C=1e999"): "must be a finite number",
    ("--param", "cues=NaN"): "must be a finite number",
    ("--param", 'char_ngrams=["a","b"]'): "must be a list of integers",
    ("--param", "char_ngrams=[3,1]"): "low <= high",
    ("--dev-fraction", "1.5"): "--dev-fraction 1.5: must be at least 0 and below 1",
    ("--dev-fraction", "-0.2"): "--dev-fraction -0.2",
    ("--dev-fraction", "nan"): "--dev-fraction nan",
    ("--seed", "-1"): "--seed -1: must be an integer from 0",
    ("--seed", str(2**32)): f"--seed {2**32}",
    ("--n-boot", "0"): "--n-boot 0: must be at least 1",
}.items():
    CASES[f"train {' '.join(_flag)}"] = (
        lambda t, m, f=_flag: [*TRAIN, t / "r", "--data", _tiny(t), *f],
        _expected,
    )
for _param, _expected in {"alpha=0": "alpha=0: must be > 0", "alpha=NaN": "must be a finite number"}.items():
    CASES[f"train tfidf-nb --param {_param}"] = (
        lambda t, m, p=_param: ["train", "--model", "tfidf-nb", "--out", t / "r", "--data", _tiny(t), "--param", p],
        _expected,
    )
for _flag, _expected in {
    ("--max-length", "0"): "max_length=0: must be >= 8",
    ("--max-length", "1"): "max_length=1: must be >= 8",
    ("--learning-rate", "nan"): "learning_rate=nan: must be a finite number",
    ("--grad-accum", "0"): "grad_accum=0: must be >= 1",
}.items():
    CASES[f"transformer {' '.join(_flag)}"] = (
        lambda t, m, f=_flag: ["train", "--model", "transformer", "--out", t / "r", "--data", _tiny(t), *f],
        _expected,
    )
# damaged model folders: one line naming the folder, never a traceback
for _name, (_file_name, _data, _expected) in {
    "model.json with labels of the wrong type": ("model/model.json", "LABELS", "'labels' must be a list"),
    "model.json with a NaN threshold": ("model/model.json", "NAN", "must be a number from 0 to 1"),
    "model.json with a boolean threshold": ("model/model.json", "BOOL", "must be a number from 0 to 1"),
    "model.json with params of the wrong type": ("model/model.json", "PARAMS", "'params' has the wrong type"),
    "a skops file of the wrong structure": ("model/model.skops", "SKOPS", "damaged model files"),
}.items():
    CASES[_name] = (
        lambda t, m, f=_file_name, d=_data: [
            "label",
            "--model",
            _damaged(t, m, f, d),
            _docs(t / "d"),
            "--out",
            t / "o.jsonl",
        ],
        _expected,
    )
# compare inputs
for _name, (_edit, _expected) in {
    "compare a string macro_f1": ({"macro_f1": "0.9"}, "'macro_f1' must be a number"),
    "compare per_label of the wrong shape": ({"per_label": {"innovation": 0.5}}, "'per_label' must map"),
    "compare runs with different themes": ({"per_label": {"x": {"f1": 0.5}}}, "with different themes"),
}.items():
    CASES[_name] = (
        lambda t, m, e=_edit: ["compare", _copy_model(m, t / "a"), _edited_run(t, m, "b", e)],
        _expected,
    )


def _damaged(t: Path, model: Path, name: str, how: str) -> Path:
    run = _copy_model(model, t / "spoiled")
    card = json.loads((run / "model/model.json").read_text())
    lab = card["labels"][0]
    if how == "LABELS":
        card["labels"] = [1, 2, 3]
    elif how == "NAN":
        card["thresholds"][lab] = float("nan")
    elif how == "BOOL":
        card["thresholds"][lab] = True
    elif how == "PARAMS":
        card["params"] = ["C", 4]
    if how == "SKOPS":
        import skops.io as sio

        sio.dump({"vectorizer": [1, 2], "estimators": "x", "constant": 0, "terms": []}, run / name)
    else:
        (run / name).write_text(json.dumps(card))
    return run


def _edited_run(t: Path, model: Path, name: str, edit: dict) -> Path:
    run = _copy_model(model, t / name)
    m = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**m, **edit}))
    return run


def _planted_lock(t: Path, name: str) -> Path:
    """A symbolic link where the lock of ``name`` goes, to a file that must not change."""
    (t / "victim.txt").write_text("precious\n")
    (t / f".{name}.lock").symlink_to(t / "victim.txt")
    return t / name


def _dir(p: Path) -> Path:
    p.mkdir()
    return p


def _file(p: Path, data: bytes = b"x\n") -> Path:
    p.write_bytes(data)
    return p


def _empty_pdf(t: Path) -> Path:
    return _file(t / "zero.pdf", b"")


def _tiny(t: Path) -> Path:
    return write_jsonl(t / "tiny.jsonl", make_rows())


def _one(t: Path) -> Path:
    return write_jsonl(t / "one.jsonl", make_rows(n_docs=1, per_doc=1))


def _spoil(t: Path, model: Path, name: str, data: bytes) -> Path:
    run = _copy_model(model, t / "spoiled")
    (run / name).write_bytes(data)
    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_line_exit_2_and_leaves_nothing(case, model, tmp_path, capsys):
    build, expected = CASES[case]
    argv = [str(a) for a in build(tmp_path, model)]
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("labeling ")]  # the progress bar
    assert len(lines) == 1 and lines[0].startswith("policytheme: error: "), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err
    after = _snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing that was there changed
    new = set(after) - set(before)
    assert not new, f"left behind: {sorted(new)}"
    assert not [p for pat in LEFTOVERS for p in tmp_path.rglob(pat) if str(p.relative_to(tmp_path)) not in before]


def test_disk_full_while_labeling_is_one_line_and_keeps_the_old_output(model, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o.jsonl"
    assert main(["label", "--model", str(model), str(_docs(tmp_path / "d")), "--out", str(out), "--quiet"]) == 0
    old = out.read_bytes()

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("policytheme.label.parts.write_file", full)
    capsys.readouterr()
    argv = ["label", "--model", str(model), str(tmp_path / "d"), "--out", str(out), "--overwrite", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0]
    assert out.read_bytes() == old


def test_a_second_run_on_the_same_output_is_refused_with_the_first_ones_pid(model, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    with OutputLock(out):
        assert main(["label", "--model", str(model), str(_docs(tmp_path / "d")), "--out", str(out), "--quiet"]) == 2
    assert f"another run is writing it (pid {os.getpid()})" in capsys.readouterr().err
    assert not out.exists() and not out.with_name("o.jsonl.parts").exists()
    assert main(["label", "--model", str(model), str(tmp_path / "d"), "--out", str(out), "--quiet"]) == 0  # lock gone


def test_two_processes_on_one_output_are_refused_or_serialized_never_mixed(model, tmp_path):
    corpus = make_corpus(tmp_path / "c", 60, 30)  # 1,800 paragraphs, 50 per part
    reference = tmp_path / "ref.jsonl"
    base = [sys.executable, "-m", "policytheme.cli", "label", "--model", str(model), str(corpus), "--quiet"]
    assert subprocess.run([*base, "--out", str(reference), "--batch-size", "50"], capture_output=True).returncode == 0
    out = tmp_path / "o.jsonl"
    procs = [
        subprocess.Popen(
            [*base, "--out", str(out), "--batch-size", size], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for size in ("50", "75")
    ]
    results = [(p.wait(), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    assert all(code in (0, 2) for code, _, _ in results), results
    assert any(code == 0 for code, _, _ in results)
    for code, _, err in results:
        if code == 2:
            assert "another run is writing it" in err and "Traceback" not in err
    rows = read_rows(out)
    assert [r["text"] for r in rows] == [r["text"] for r in read_rows(reference)]  # each paragraph once, in order


def test_a_chunk_of_only_unreadable_files_and_its_resume(model, tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a-good.txt").write_text("\n\n".join(f"价格战 {i}" for i in range(30)), encoding="utf-8")
    (tmp_path / "d" / "b-zero.pdf").write_bytes(b"")
    out = tmp_path / "o.jsonl"
    argv = ["label", "--model", str(model), str(tmp_path / "d"), "--out", str(out), "--batch-size", "30", "--quiet"]
    assert main(argv) == 0
    assert len(read_rows(out)) == 30
    errors = [json.loads(x) for x in out.with_name("o.jsonl.errors.jsonl").read_text().splitlines()]
    assert len(errors) == 1 and errors[0]["path"].endswith("b-zero.pdf")
    assert main(argv) == 0 and "already complete" in capsys.readouterr().out


def test_documents_are_bounded_in_what_they_expand_to(model, tmp_path, monkeypatch):
    import docx

    d = tmp_path / "d"
    d.mkdir()
    bomb = d / "bomb.docx"
    document = docx.Document()
    document.add_paragraph("价格战")
    document.save(bomb)
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/media/pad.bin", b"\0" * (20 * 2**20))  # 20 MiB of zeros in about 20 KiB
    (d / "long.txt").write_text("研发" * 200, encoding="utf-8")
    (d / "ok.txt").write_text("加大研发投入。", encoding="utf-8")
    monkeypatch.setattr(policytheme.data.formats, "MAX_TEXT_CHARS", 300)
    out = tmp_path / "o.jsonl"
    assert main(["label", "--model", str(model), str(d), "--out", str(out), "--quiet"]) == 0
    assert [r["text"] for r in read_rows(out)] == ["加大研发投入。"]
    errors = {Path(e["path"]).name: e["error"] for e in map(json.loads, out.with_name("o.jsonl.errors.jsonl").open())}
    assert "MiB" in errors["bomb.docx"] and "x its size; limits" in errors["bomb.docx"]
    assert "more than 300 characters" in errors["long.txt"]


def test_globs_and_folders_do_not_follow_symlink_loops(model, tmp_path):
    d = _docs(tmp_path / "d")
    (d / "sub").mkdir()
    (d / "sub" / "b.txt").write_text("推动产业升级。", encoding="utf-8")
    os.symlink(".", d / "self")
    os.symlink("..", d / "sub" / "up")
    for inputs in ([f"{d}/**/*.txt"], [str(d)]):
        out = tmp_path / "o.jsonl"
        assert main(["label", "--model", str(model), *inputs, "--out", str(out), "--quiet", "--overwrite"]) == 0
        assert sorted({Path(r["source"]).name for r in read_rows(out)}) == ["a.txt", "b.txt"]
        assert len(read_rows(out)) == 3


def test_an_unreadable_folder_is_reported(model, tmp_path, monkeypatch, capsys):
    d = _docs(tmp_path / "d")
    (d / "locked").mkdir()
    (d / "locked" / "x.txt").write_text("研发。", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path="."):  # as for a folder without read permission (the tests may run as root)
        if isinstance(path, str | os.PathLike) and Path(path).name == "locked":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = tmp_path / "o.jsonl"
    assert main(["label", "--model", str(model), str(d), "--out", str(out), "--quiet"]) == 0
    errors = [json.loads(x) for x in out.with_name("o.jsonl.errors.jsonl").read_text().splitlines()]
    assert len(errors) == 1 and errors[0]["path"].endswith("locked") and "Permission denied" in errors[0]["error"]
    capsys.readouterr()
    assert main(["label", "--model", str(model), str(d / "locked"), "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "locked: cannot read (Permission denied)" in capsys.readouterr().err


def test_relabeling_with_a_retrained_model_names_it(model, tmp_path, capsys):
    run = _copy_model(model, tmp_path / "run")
    out = tmp_path / "o.jsonl"
    assert main(["label", "--model", str(run), str(_docs(tmp_path / "d")), "--out", str(out), "--quiet"]) == 0
    card = json.loads((run / "model" / "model.json").read_text())
    card["thresholds"]["innovation"] = 0.9
    (run / "model" / "model.json").write_text(json.dumps(card))
    capsys.readouterr()
    assert main(["label", "--model", str(run), str(tmp_path / "d"), "--out", str(out), "--quiet"]) == 2
    assert "an earlier version of the model in" in capsys.readouterr().err


def test_training_data_with_one_theme_warns_that_macro_f1_covers_it_alone(tmp_path, capsys):
    rows = [dict(r, labels=["innovation"] if r["labels"] else []) for r in make_rows()]
    data = write_jsonl(tmp_path / "one-theme.jsonl", rows)
    assert (
        main(["train", "--model", "tfidf-nb", "--data", str(data), "--out", str(tmp_path / "r"), "--n-boot", "10"]) == 0
    )
    err = capsys.readouterr().err
    assert "price_competition, industrial_upgrading: no paragraph of the train split has it" in err


def test_overwrite_never_removes_the_working_directory(tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    data = _tiny(work)
    monkeypatch.chdir(work)
    argv = ["train", "--model", "tfidf-nb", "--data", str(data), "--n-boot", "5", "--overwrite", "--out"]
    for out in (".", str(tmp_path)):
        assert main([*argv, out]) == 2
        assert "working directory" in capsys.readouterr().err
    assert sorted(p.name for p in work.iterdir()) == ["tiny.jsonl"]  # no staging folder left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_a_second_train_into_one_out_is_refused(tmp_path, capsys):
    from policytheme.files import exclusive

    out = tmp_path / "r"
    argv = ["train", "--model", "tfidf-nb", "--data", str(_tiny(tmp_path)), "--out", str(out), "--n-boot", "5"]
    with exclusive(out):  # another train is writing it
        assert main(argv) == 2
    assert f"another run is writing it (pid {os.getpid()})" in capsys.readouterr().err
    assert not out.exists()
    assert main(argv) == 0 and main(argv) == 2  # then: done; and a third is refused (no --overwrite)


def test_compare_reads_predictions_only_inside_each_run_folder(model, tmp_path, capsys):
    outside = _file(tmp_path / "secret.jsonl", b'{"id": "SECRET-ID", "labels": [], "predicted": [], "lang": "zh"}\n')
    runs = []
    for name, rel in (("a", "../secret.jsonl"), ("b", str(outside))):
        run = _copy_model(model, tmp_path / name)
        m = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**m, "run": name, "predictions": rel}))
        runs.append(str(run))
    assert main(["compare", *runs, "--out", str(tmp_path / "c.md")]) == 0
    text = (tmp_path / "c.md").read_text() + capsys.readouterr().out
    assert "SECRET-ID" not in text and "Not tested" in text


def test_csv_output_neutralises_formulas(model, tmp_path):
    import csv

    d = tmp_path / "d"
    d.mkdir()
    texts = ['=HYPERLINK("http://evil.example","价格战")', "+1 研发投入", "-2 研发", "@SUM(A1)", "加大研发投入。"]
    (d / "=doc.txt").write_text("\n\n".join(texts), encoding="utf-8")
    out = tmp_path / "o.csv"
    assert main(["label", "--model", str(model), str(d), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["text"] for r in rows] == ["'" + t for t in texts[:4]] + [texts[4]]
    assert all(not r[k].startswith(("=", "+", "-", "@")) for r in rows for k in ("doc_id", "source", "text"))


def test_one_broken_installed_model_does_not_break_the_listing(model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POLICYTHEME_HOME", str(tmp_path / "home"))
    home = tmp_path / "home" / "models"
    _copy_model(model, home / "good")
    broken = _copy_model(model, home / "broken")
    (broken / "metrics.json").write_text(json.dumps({"macro_f1": "high", "data": []}))
    worse = _copy_model(model, home / "worse")
    (worse / "metrics.json").write_text("{")
    card = json.loads((broken / "model/model.json").read_text())
    (broken / "model/model.json").write_text(json.dumps({**card, "provenance": {"data": "x"}}))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("good", "broken", "worse")) and "damaged" in out


def test_a_run_name_with_dollars_is_text_in_the_report(model, tmp_path):
    a = _copy_model(model, tmp_path / "a")
    b = _edited_run(tmp_path, model, "b", {"run": "$x^$"})
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "report.html")]) == 0
    assert "$x^$" in (tmp_path / "report.html").read_text()


def test_bad_table_rows_lose_no_good_rows(model, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    rows = [f"第{i}段 加大研发投入。" for i in range(3_100)]
    lines = ["id,text"] + [f"r{i},{t}" for i, t in enumerate(rows)]
    lines[5] = "r4,too,many,fields"  # one row of extra fields
    raw = "\n".join(lines).encode("utf-8").split(b"\n")
    raw[3_001] = b"r3000,\xff\xfe bad bytes"  # invalid UTF-8 at row 3,001
    (d / "t.csv").write_bytes(b"\n".join(raw) + b"\n")
    nested = "[" * 100_000 + "]" * 100_000
    (d / "n.jsonl").write_text("\n".join(['{"text": "价格战一"}', '{"text": ' + nested + "}", '{"text": "价格战二"}']))
    out = tmp_path / "o.jsonl"
    assert main(["label", "--model", str(model), str(d), "--out", str(out), "--quiet"]) == 0
    texts = [r["text"] for r in read_rows(out)]
    assert texts[:2] == ["价格战一", "价格战二"]  # the nested line is skipped, the rest of its file kept
    assert len(texts) == 2 + 3_100 - 2 and rows[4] not in texts and rows[3_000] not in texts
    errors = [json.loads(x)["path"] for x in out.with_name("o.jsonl.errors.jsonl").read_text().splitlines()]
    assert sorted(errors) == sorted([f"{d / 'n.jsonl'}:2", f"{d / 't.csv'}:6", f"{d / 't.csv'}:3002"]), errors


def test_label_holds_chunks_by_characters_and_scores_long_paragraphs_in_windows(model, tmp_path, monkeypatch):
    import policytheme.label.labeler as labeler
    from policytheme.label.stream import Paragraph as P
    from policytheme.models import load_model

    stream = [P(0, i, "d", i, "s", 0, n, "研" * n) for i, n in enumerate([10, 10, 2_000, 10, 5_000, 10])]
    sizes = [sum(len(r.text) for r in rows) for rows, _, _ in labeler.chunks(iter(stream), 4_096, max_chars=1_000)]
    assert sizes == [20, 2_000, 10, 5_000, 10]  # a long paragraph alone; never two past the budget together

    m = load_model(model)
    long = "企业陷入价格战，利润下滑。" + "中性文字" * 30_000 + "加大研发投入，突破核心技术。"
    rows = [P(0, 0, "d", 0, "s", 0, len(long), long), P(0, 1, "d", 1, "s", 0, 7, "加大研发投入。")]
    seen = []
    real_prepare = m.prepare
    monkeypatch.setattr(m, "prepare", lambda texts: seen.append(sum(map(len, texts))) or real_prepare(texts))
    scores = labeler.score_rows(m, labeler.prepare_rows(m, [r.text for r in rows], group_chars=60_000))
    assert max(seen) <= 60_000  # never more than a group's characters prepared at once
    windows = [long[a : a + labeler.PIECE_CHARS] for a in range(0, len(long), labeler.PIECE_CHARS)]
    assert np.allclose(scores[0], m.predict_proba(windows).max(axis=0), atol=1e-6)
    assert np.allclose(scores[1], m.predict_proba(["加大研发投入。"])[0], atol=1e-6)


def test_zero_width_characters_do_not_change_what_a_paragraph_scores(model, tmp_path):
    from policytheme.api import load

    zw = "加\u200b大\u200c研\u200d发\u2060投\ufeff入，突破核心技术。"
    clean = "加大研发投入，突破核心技术。"
    m = load(str(model))
    got = m.label([zw, clean])
    score_cols = [c for c in got.columns if c not in ("text", "labels")]
    assert np.allclose(got.iloc[0][score_cols].astype(float), got.iloc[1][score_cols].astype(float))
    assert got["text"][0] == zw  # the text written out is the text read
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.txt").write_text(zw + "\n\n" + clean, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["label", "--model", str(model), str(d), "--out", str(out), "--quiet"]) == 0
    rows = read_rows(out)
    assert rows[0]["scores"] == rows[1]["scores"] and rows[0]["text"] == zw


def test_temporary_files_of_a_killed_run_are_removed_on_the_next(model, tmp_path):
    out = tmp_path / "o.jsonl"
    argv = ["label", "--model", str(model), str(_docs(tmp_path / "d")), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    stale = [tmp_path / ".o.jsonl.manifest.json.999999.tmp", tmp_path / ".o.jsonl.999999.tmp"]
    for f in stale:
        f.write_text("{")  # a kill between writing and renaming
    keep = _file(tmp_path / ".other.jsonl.1.tmp")  # another output's: not ours to remove
    assert main([*argv, "--overwrite"]) == 0
    assert not any(f.exists() for f in stale) and keep.exists()


def test_html_nested_too_deep_is_an_error_entry_not_silence(model, tmp_path):
    d = _docs(tmp_path / "d")
    body = "<div>" * 5_000 + "<p>企业陷入价格战，利润下滑，加大研发投入。</p>" + "</div>" * 5_000
    (d / "deep.html").write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["label", "--model", str(model), str(d), "--out", str(out), "--quiet"]) == 0
    errors = [json.loads(x) for x in out.with_name("o.jsonl.errors.jsonl").read_text().splitlines()]
    assert len(errors) == 1 and "nested 5,003 elements deep" in errors[0]["error"]
    assert len(read_rows(out)) == 2  # the other document is labeled


def test_the_readmes_data_paths_work_outside_the_repository(tmp_path, monkeypatch):
    from policytheme.data.records import DEFAULT_DATA
    from policytheme.data.splits import data_paths

    monkeypatch.chdir(tmp_path)
    assert data_paths(["data/real.jsonl", "mine.jsonl"]) == [DEFAULT_DATA[0], "mine.jsonl"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "real.jsonl").write_text("")
    assert data_paths(["data/real.jsonl"]) == ["data/real.jsonl"]  # a file of the user's own comes first


def test_an_earlier_output_inside_the_input_folder_is_not_labeled_again(model, tmp_path):
    d = _docs(tmp_path / "d")
    (d / "b.txt").write_text("坏文件", encoding="utf-8")
    first = d / "old-labels.jsonl"
    assert main(["label", "--model", str(model), str(d), "--out", str(first), "--quiet"]) == 0
    first.with_name("old-labels.jsonl.errors.jsonl").write_text('{"path": "x", "error": "y"}\n')
    out = tmp_path / "new.jsonl"
    assert main(["label", "--model", str(model), str(d), "--out", str(out), "--quiet"]) == 0
    assert {r["doc_id"] for r in read_rows(out)} == {str(d / "a.txt"), str(d / "b.txt")}
