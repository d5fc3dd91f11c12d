"""The folders are pipeline stages and imports flow one way (see STYLE): walk them and fail on a back-edge."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "models", "train", "eval", "label", "policytheme")
ALLOWED = {
    "data": set(),
    "models": set(),
    "train": {"data", "models"},
    "eval": {"data", "models"},
    "label": {"data", "models"},
    "policytheme": set(STAGES),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(STAGES)


def test_no_back_edges():
    bad = []
    for stage in STAGES:
        for path in (ROOT / stage).rglob("*.py"):
            for target in _imports(path) - ALLOWED[stage] - {stage}:
                bad.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not bad, "imports against the pipeline's direction:\n" + "\n".join(bad)


def test_every_stage_is_a_package():
    for stage in STAGES:
        assert (ROOT / stage / "__init__.py").is_file()
