"""The folders are pipeline stages and imports flow one way (see STYLE): walk them and fail on a back-edge.
Below them all is the ground floor, ``policytheme/files.py`` (atomic files, staged folders, one writer at a
time), which every stage may import and which imports none."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "models", "train", "eval", "label", "policytheme")
GROUND = "files"  # policytheme/files.py
ALLOWED = {
    GROUND: set(),
    "data": {GROUND},
    "models": {GROUND},
    "train": {GROUND, "data", "models"},
    "eval": {GROUND, "data", "models"},
    "label": {GROUND, "data", "models"},
    "policytheme": {GROUND, *STAGES},
}


def _stage(module: str) -> str | None:
    """The stage a module belongs to: ``policytheme.data.records`` -> ``data``; ``policytheme.cli`` ->
    ``policytheme``; anything else (other packages) -> None."""
    parts = module.split(".")
    if parts[0] != "policytheme":
        return None
    if parts[1:2] == [GROUND]:
        return GROUND
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else "policytheme"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {_stage(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(_stage(node.module))
            if node.module == "policytheme":
                names |= {_stage(f"policytheme.{a.name}") for a in node.names}
    return names & {*STAGES, GROUND}


def test_no_back_edges():
    bad = []
    for folder in STAGES:
        for path in (ROOT / folder).rglob("*.py"):
            stage = GROUND if path == ROOT / "policytheme" / f"{GROUND}.py" else folder
            for target in _imports(path) - ALLOWED[stage] - {stage}:
                bad.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not bad, "imports against the pipeline's direction:\n" + "\n".join(bad)


def test_every_stage_is_a_package_installed_under_the_projects_name():
    for stage in STAGES:
        assert (ROOT / stage / "__init__.py").is_file()
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert {p.split(".")[0] for p in setup["packages"]} == {"policytheme"}  # one top-level package
    assert setup["package-dir"] == {f"policytheme.{s}": s for s in STAGES if s != "policytheme"}


def test_a_back_edge_is_caught(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text(
        "from policytheme.train.run import train\nimport policytheme.eval.metrics\nimport numpy\n"
        "from policytheme.files import write_file\n"
    )
    assert _imports(bad) == {"train", "eval", GROUND}
