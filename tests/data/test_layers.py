"""Data flows down (DESIGN.md): the data layer imports no layer above it, and the one MATLAB
reader imports nothing of kgzsl but its errors. Function-level imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

import kgzsl

PACKAGE = Path(kgzsl.__file__).parent
ABOVE_DATA = ("kgzsl.semantics", "kgzsl.methods", "kgzsl.classifier", "kgzsl.pipeline", "kgzsl.evaluation")


def _kgzsl_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return {name for name in out if name == "kgzsl" or name.startswith("kgzsl.")}


def test_the_data_layer_imports_no_layer_above_it():
    files = sorted((PACKAGE / "data").glob("*.py"))
    assert len(files) >= 8
    for path in files:
        bad = sorted(m for m in _kgzsl_imports(path) if m.startswith(ABOVE_DATA))
        assert not bad, f"{path.name} imports {bad}"


def test_the_matlab_reader_is_the_bottom_of_the_stack():
    assert _kgzsl_imports(PACKAGE / "matlab.py") == {"kgzsl.errors"}
