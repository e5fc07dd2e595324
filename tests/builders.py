"""Builders of valid registry input for tests, which pass only what matters to them."""

from __future__ import annotations

from typing import Any

from haven.registry.schemas import IncidentIn, parse


def incident(**changes: Any) -> IncidentIn:
    """A valid incident: a day in 2023, with an origin, a host, one tactic and a label."""
    data: dict[str, Any] = {
        "title": "An incident",
        "occurred": {"start": "2023-05-01", "precision": "day"},
        "origin_state": "ru",
        "host_state": "de",
        "tactics": ["harassment"],
        "tlp": "green",
    }
    data.update(changes)
    return parse(IncidentIn, data)
