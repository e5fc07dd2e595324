"""The audit chain sits below the registry and the gate: it imports neither, nor any feature."""

from __future__ import annotations

import ast
from pathlib import Path

import haven.audit

# What haven.audit may build on: itself and the layers beneath it.
ALLOWED = (
    "haven.audit",
    "haven.runtime",
    "haven.settings",
    "haven.db",
    "haven.domain",
    "haven.crypto",
    "haven.errors",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name == "haven" or name.startswith("haven.")}


def test_haven_audit_imports_only_the_layers_beneath_it() -> None:
    package = Path(haven.audit.__file__).parent
    modules = sorted(package.rglob("*.py"))
    assert modules
    found = {
        (path.name, name)
        for path in modules
        for name in _imports(path)
        if not any(name == a or name.startswith(f"{a}.") for a in ALLOWED)
    }
    assert found == set()
