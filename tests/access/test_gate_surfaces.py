"""Nothing reads the registry around the gate: an AST check over ``src/haven``.

Outside ``registry/`` (which owns the tables) and ``access/`` (the gate and its reads), every
function that selects from a registry table, or loads a registry row with ``Session.get``, must
ask the gate in the same function (one of :data:`GATE`). The few that may not are listed in
:data:`ALLOWED` with the reason, and a listed function that no longer reads a registry table
fails the test too, so the list cannot outgrow the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import haven
import haven.models
from haven.registry import history, models

SOURCE = Path(haven.__file__).parent
OWNERS = ("registry/", "access/", "db/")
REGISTRY_MODELS = frozenset(
    name
    for module in (models, history)
    for name, value in vars(module).items()
    if isinstance(value, type)
    and getattr(value, "__tablename__", None)
    and value.__module__ == module.__name__
    and name != "Contributor"  # organisations that use Haven, not records about anyone
)
GATE = frozenset(
    {
        "visible",
        "visible_ids",
        "counted",
        "counted_in_bulk",
        "counted_plainly",
        "counted_otherwise",
        "consent_blocked",
        "load_facts",
        "sees",
        "counts",
        "require_own",
        # Cases through the gate (haven.intake.cases).
        "cases",
        "get_case",
        "handled",
    }
)
ALLOWED: dict[str, str] = {
    "cli/main.py:demo": "whether the registry is empty before loading demo data; nothing is read",
    "casework/audiences.py:members": "an audience of the gate: it loads what the gate judges",
    "casework/corrections.py:before": "the host state of a record about to be replaced by its "
    "contributor (require_own runs first); nothing is shown to the reader",
    "casework/corrections.py:after": "the same record after its contributor replaced it",
    "casework/notices.py:_incident": "builds an event; the outbox asks the gate per recipient",
    "casework/notices.py:_referral_event": "builds an event; the outbox asks the gate per "
    "recipient",
    "notify/outbox.py:report_event": "builds an event; emit() asks the gate per recipient",
    "notify/outbox.py:_approved_content": "content for an organisation's webhook that emit() "
    "let through the gate as that organisation (_sees) before building it",
    "intake/reports.py:report_files": "the reporter's own files (the receipt code proves it); "
    "staff read them through intake.cases, which passes visible(reader, Evidence)",
    "web/report_follow_up.py:follow_up_consent": "the reporter's own report (the receipt code "
    "proves it): the host state their consent to authorities is given for",
}


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _reads(function: ast.AST) -> set[str]:
    """The registry models this function selects from or gets."""
    found = set()
    for call in ast.walk(function):
        if not isinstance(call, ast.Call) or _name(call.func) not in {"select", "get", "query"}:
            continue
        for argument in call.args:
            for node in ast.walk(argument):
                name = _name(node) if isinstance(node, ast.Name) else None
                if name in REGISTRY_MODELS:
                    found.add(name)
    return found


def _functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative.startswith(OWNERS) or relative == "models.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{relative}:{node.name}", node


def _asks_the_gate(function: ast.AST) -> bool:
    return any(_name(node) in GATE for node in ast.walk(function))


def test_every_read_of_a_registry_table_outside_the_gate_asks_it() -> None:
    around = sorted(
        f"{where} reads {', '.join(sorted(reads))}"
        for where, function in _functions()
        if (reads := _reads(function)) and not _asks_the_gate(function) and where not in ALLOWED
    )
    assert around == []


def test_every_allowed_read_still_exists() -> None:
    reading = {where for where, function in _functions() if _reads(function)}
    assert sorted(set(ALLOWED) - reading) == []


def test_the_check_sees_a_read_around_the_gate() -> None:
    code = "def leak(session, i):\n    return session.get(Incident, i)\n"
    function = ast.parse(code).body[0]
    assert _reads(function) == {"Incident"}
    assert not _asks_the_gate(function)
    gated = "def fine(session, r):\n    return select(Incident.id).where(visible(r, Incident))\n"
    assert _asks_the_gate(ast.parse(gated).body[0])
    assert {"Incident", "Person", "Evidence", "IncidentPerson", "RecordVersion"} <= REGISTRY_MODELS
