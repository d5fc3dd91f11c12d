"""The import graph of the package at a git revision: imports between stages, two-module cycles, fan-in.

python docs/import_graph.py REV    # e.g. HEAD, or c973ac7 (the layout before one namespace)
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "models", "train", "eval", "label", "policytheme")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, check=True).stdout


def modules(rev: str) -> dict[str, ast.Module]:
    """Every module of the stages at ``rev``, by its installed name (``policytheme.data.records``)."""
    out = {}
    for f in git("ls-tree", "-r", "--name-only", rev).split():
        if f.endswith(".py") and f.split("/")[0] in STAGES:
            name = f[:-3].replace("/", ".").removesuffix(".__init__")
            name = name if name.startswith("policytheme") else f"policytheme.{name}"
            out[name] = ast.parse(git("show", f"{rev}:{f}"))
    return out


def edges(mods: dict[str, ast.Module]) -> set[tuple[str, str]]:
    """(importer, imported module) pairs within the package; old top-level names mapped into it."""
    out = set()
    for name, tree in mods.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            else:
                continue
            for t in targets:
                t = f"policytheme.{t}" if t.split(".")[0] in STAGES[:-1] else t
                parent = t.rsplit(".", 1)[0]
                t = t if t in mods else parent if parent in mods else t
                if t.startswith("policytheme") and t != name:
                    out.add((name, t))
    return out


def stage(module: str) -> str:
    parts = module.split(".")
    if parts[1:2] == ["files"]:
        return "files (ground)"
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else "policytheme (top)"


def main(rev: str) -> None:
    mods = modules(rev)
    pairs = edges(mods)
    print(f"{rev}: {len(mods)} modules, {len(pairs)} imports between them")
    between = Counter((stage(a), stage(b)) for a, b in pairs if stage(a) != stage(b))
    for (a, b), n in sorted(between.items()):
        print(f"  {a:18s} -> {b:18s} {n}")
    cycles = sorted({tuple(sorted(p)) for p in pairs if (p[1], p[0]) in pairs})
    print("  two-module cycles:", ", ".join(" <-> ".join(c) for c in cycles) or "none")
    fan_in = Counter(b for a, b in pairs if stage(a) != stage(b))
    print("  most imported from other stages:", ", ".join(f"{m} ({n})" for m, n in fan_in.most_common(5)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "HEAD")
