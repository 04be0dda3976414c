"""The rooms of spikepde import downward only, in the order docs/architecture.md writes down."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "spikepde"


def _layers() -> dict[str, int]:
    """Room → line of the ```layers block of docs/architecture.md (0 = lowest)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S).group(1)
    return {room: i for i, line in enumerate(block.strip().splitlines()) for room in line.split()}


def _imports(path: Path):
    """(line, imported spikepde module) for every import in a module, relative ones resolved."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1]                      # the package a relative import starts from
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            yield node.lineno, ".".join(base + ([node.module] if node.module else []))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] != "__init__" else "__init__"


def test_every_import_goes_down_the_layers():
    layers = _layers()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        room = _room(".".join(path.relative_to(ROOT).with_suffix("").parts))
        assert room in layers, f"{path}: room '{room}' is missing from docs/architecture.md's layers"
        for line, module in _imports(path):
            if module == "argparse" and room != "cli":
                wrong.append(f"{path.relative_to(ROOT)}:{line}: argparse outside cli")
            if not module.startswith("spikepde") or _room(module) == room:
                continue
            if layers[_room(module)] >= layers[room]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {room} imports {module}")
    assert not wrong, "\n".join(wrong)
