"""GET /api/v1/incidents/{id}/history and /api/v1/people/{id}/history: earlier versions newest
first, as far as each reader may read them, and nothing at all for readers who may not see the
record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.access.accounts import NewGroup, create_sharing_group
from haven.audit.models import AuditEntry
from haven.db.values import new_id
from haven.domain.enums import Role
from haven.runtime import Runtime

Member = tuple[str, dict[str, str]]
INCIDENT: dict[str, Any] = {
    "title": "Threats to the family of an exiled journalist",
    "narrative": "Gulnara Yusupova was told her brother would be arrested.",
    "occurred": {"start": "2024-02-01", "precision": "month"},
    "origin_state": "uz",
    "host_state": "de",
    "tactics": ["coercion-by-proxy"],
    "tlp": "amber",
}
OLD_NAME = "Gulnara Yusupova"


def _post(client: TestClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    record_id: str = response.json()["id"]
    return record_id


def _put(client: TestClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    response = client.put(url, json=body, headers=headers)
    assert response.status_code == 200, response.text


def _history(client: TestClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(f"{url}/history", headers=headers)
    assert response.status_code == 200, response.text
    versions: list[dict[str, Any]] = response.json()["versions"]
    return versions


def _reads(runtime: Runtime, record_id: str) -> list[str]:
    with runtime.reading() as session:
        return list(
            session.scalars(
                select(AuditEntry.actor).where(
                    AuditEntry.entity_id == record_id, AuditEntry.action == "read"
                )
            )
        )


def test_an_incident_history_keeps_the_earlier_label_and_host_newest_first(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    author_id, author = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    incident_id = _post(client, "/api/v1/incidents", INCIDENT, author)
    url = f"/api/v1/incidents/{incident_id}"
    _put(client, url, {**INCIDENT, "tlp": "green", "host_state": "fr"}, author)
    _put(
        client, url, {**INCIDENT, "tlp": "green", "host_state": "fr", "status": "verified"}, author
    )

    newer, older = _history(client, url, author)

    assert (newer["version"], older["version"]) == (2, 1)
    assert older["changed"] == ["host_state", "tlp"]
    assert (older["values"]["tlp"], older["values"]["host_state"]) == ("amber", "DE")
    assert older["values"]["tactics"] == ["coercion-by-proxy"]
    assert older["values"]["narrative"] == INCIDENT["narrative"]
    assert newer["changed"] == ["status"]
    assert (newer["values"]["tlp"], newer["values"]["status"]) == ("green", "reported")
    assert newer["changed_by"] == older["changed_by"] == f"user:{author_id}"
    assert newer["changed_at"] >= older["changed_at"]
    assert older["withheld"] == []
    assert client.get(url, headers=author).json()["host_state"] == "FR"


def test_a_person_history_shows_the_earlier_name_to_caseworkers_only(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Member],
) -> None:
    ngo = organisation("Exile Legal Aid")
    _, author = member(ngo, Role.CASEWORKER)
    caseworker_id, caseworker = member(ngo, Role.CASEWORKER)
    _, analyst = member(ngo, Role.ANALYST)
    body = {"identity": {"names": [{"value": OLD_NAME}]}, "profile": "journalist"}
    person_id = _post(client, "/api/v1/people", body, author)
    url = f"/api/v1/people/{person_id}"
    _put(client, url, {**body, "identity": {"names": [{"value": "G. Yusupova"}]}}, author)

    before = _reads(runtime, person_id)  # the author's, of the answers to the writes

    (seen,) = _history(client, url, caseworker)
    assert _reads(runtime, person_id) == [*before, f"user:{caseworker_id}"]
    (withheld,) = _history(client, url, analyst)

    assert seen["values"]["identity"]["names"] == [{"value": OLD_NAME}]
    assert seen["changed"] == ["identity"]
    assert "identity" not in withheld["values"]
    assert "identity" in withheld["withheld"]
    assert withheld["values"]["profile"] == "journalist"
    assert withheld["changed"] == ["identity"]
    assert _reads(runtime, person_id) == [*before, f"user:{caseworker_id}"]  # the analyst: none


def test_readers_who_may_not_see_the_record_get_the_answer_of_a_missing_one(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    _, author = member(organisation("NGO A"), Role.CASEWORKER)
    _, outsider = member(organisation("NGO B"), Role.COORDINATOR)
    strict = {**INCIDENT, "tlp": "amber+strict"}
    incident_id = _post(client, "/api/v1/incidents", strict, author)
    _put(client, f"/api/v1/incidents/{incident_id}", {**strict, "title": "Changed"}, author)
    person = {"identity": {"names": [{"value": OLD_NAME}]}, "tlp": "amber+strict"}
    person_id = _post(client, "/api/v1/people", person, author)

    for kind, record_id in (("incidents", incident_id), ("people", person_id)):
        hidden = client.get(f"/api/v1/{kind}/{record_id}/history", headers=outsider)
        missing = client.get(f"/api/v1/{kind}/{new_id()}/history", headers=outsider)
        malformed = client.get(f"/api/v1/{kind}/not-an-id/history", headers=outsider)
        assert hidden.status_code == missing.status_code == malformed.status_code == 404
        assert hidden.json() == missing.json() == malformed.json()
    assert len(_history(client, f"/api/v1/incidents/{incident_id}", author)) == 1
    assert client.get(f"/api/v1/incidents/{incident_id}/history").status_code == 404


def test_a_version_shared_with_a_group_reaches_that_group_alone_after_a_relabel(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Member],
) -> None:
    a, b, c = organisation("NGO A"), organisation("NGO B"), organisation("NGO C")
    with runtime.transaction() as session:
        group = create_sharing_group(
            session, runtime.cipher(), NewGroup("Central Asia", a, [b]), actor="t"
        )
    _, author = member(a, Role.CASEWORKER)
    _, in_group = member(b, Role.ANALYST)
    _, outside = member(c, Role.ANALYST)
    incident_id = _post(client, "/api/v1/incidents", {**INCIDENT, "share_with": [group]}, author)
    url = f"/api/v1/incidents/{incident_id}"
    _put(client, url, {**INCIDENT, "title": "Threats to a family", "tlp": "green"}, author)

    (shared,) = _history(client, url, in_group)
    (restricted,) = _history(client, url, outside)

    assert not shared["restricted"]
    assert shared["values"]["title"] == INCIDENT["title"]
    assert "narrative" in shared["withheld"]
    assert restricted["restricted"]
    assert restricted["values"] == {}
    assert "title" in restricted["withheld"]
    assert restricted["changed"] == ["title", "tlp"]


def test_the_history_endpoints_are_documented(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/incidents/{incident_id}/history", "/api/v1/people/{person_id}/history"):
        operation = document["paths"][path]["get"]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/HistoryOut"}
        assert "404" in operation["responses"]
    version = document["components"]["schemas"]["VersionOut"]
    assert {"version", "changed_at", "changed_by", "changed", "values", "withheld"} <= set(
        version["properties"]
    )
    assert all("description" in field for field in version["properties"].values())
