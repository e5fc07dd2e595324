"""The dashboard's figures as JSON for an API token's reader."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi.testclient import TestClient

import builders
from haven.domain.enums import Role
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

_incident = partial(
    builders.incident,
    origin_state="ir",
    host_state="se",
    tactics=["surveillance", "hacking"],
    tlp="amber",
)


def test_an_analyst_token_reads_the_figures_of_its_organisation(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., tuple[str, dict[str, str]]],
) -> None:
    own, other = organisation("Exile Legal Aid"), organisation("Other NGO")
    with runtime.transaction() as session:
        for contributor, rows in (
            (own, [_incident(), _incident(occurred={"start": "2021-01-01"})]),
            (other, [_incident(), _incident(tlp="green", origin_state="cn")]),
        ):
            writer = RegistryWriter(session, runtime.cipher(), Actor(contributor, "test"))
            for row in rows:
                writer.add_incident(row)
            writer.flush()
    _, headers = member(own, Role.ANALYST, scopes=frozenset({"read"}))

    figures = client.get("/api/v1/insight/figures", headers=headers).json()
    assert figures["total"] == 3
    assert figures["tables"]["method"]["rows"] == [
        {"method": "threats-from-a-distance", "method_label": "Threats from a distance", "count": 3}
    ]
    assert figures["concentration"]["states"] == [
        {"origin": "IR", "count": 2},
        {"origin": "CN", "count": 1},
    ]
    assert figures["response"] == []
    filtered = client.get("/api/v1/insight/figures?from=2022", headers=headers).json()
    assert filtered["total"] == 2  # the 2021 incident is left out
    assert filtered["filters"] == "from 2022"

    bad = client.get("/api/v1/insight/figures?to=soon", headers=headers)
    assert bad.status_code == 422
    assert "to must be a year" in bad.text


def test_the_figures_api_needs_a_token_with_a_reading_role(
    client: TestClient,
    organisation: Callable[..., str],
    member: Callable[..., tuple[str, dict[str, str]]],
) -> None:
    assert client.get("/api/v1/insight/figures").status_code == 403
    _, headers = member(organisation("Exile Legal Aid"), Role.AUDITOR)
    assert client.get("/api/v1/insight/figures", headers=headers).status_code == 403
