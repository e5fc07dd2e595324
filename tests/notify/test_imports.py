"""Notification sits right of casework in the feature order: casework raises notices through it,
so nothing in haven.notify may import casework (or any feature to its left, or the surfaces)."""

from __future__ import annotations

import ast
from pathlib import Path

import haven.notify

# What haven.notify may import: itself, the one feature to its right, and the layers below.
ALLOWED = {
    "notify",
    "intake",
    "access",
    "registry",
    "audit",
    "runtime",
    "settings",
    "db",
    "domain",
    "crypto",
    "errors",
}


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "haven" or name.startswith("haven.")}


def test_notification_imports_only_what_lies_to_its_right() -> None:
    package = Path(haven.notify.__file__).parent
    modules = sorted(package.rglob("*.py"))
    assert len(modules) > 5
    against = {
        (str(path.relative_to(package)), name)
        for path in modules
        for name in _imported(path)
        if name.split(".")[1:2] and name.split(".")[1] not in ALLOWED
    }
    assert against == set()


def test_the_check_would_see_an_import_of_casework(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from haven.casework.notices import escalate_late\n")
    assert _imported(module) == {"haven.casework.notices"}
