"""The built wheel installs one top-level package, ``policytheme``, with the stages and shipped data inside."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_one_top_level_package_with_its_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("policytheme-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "policytheme",
        f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info",
    }
    for stage in ("data", "models", "train", "eval", "label"):
        assert f"policytheme/{stage}/__init__.py" in names
    for shipped in (
        "data/real.jsonl",
        "data/genres.jsonl",
        "data/translations.jsonl",
        "data/labels.json",
        "models/keywords.json",
        "label/annotate/page.html",
    ):
        assert f"policytheme/{shipped}" in names, shipped
