"""/api/v1/incidents: creation, bad input and ids, and sharing rules at the door."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from haven.access.accounts import NewUser, TokenRequest, create_token, create_user
from haven.access.models import ApiToken
from haven.audit.models import AuditEntry
from haven.db.values import utcnow
from haven.domain.enums import Role
from haven.runtime import Runtime

INCIDENT = {
    "title": "Threats to the family of an exiled journalist",
    "narrative": "Gulnara Yusupova was told her brother would be arrested.",
    "occurred": {"start": "2024-02-01", "precision": "month"},
    "origin_state": "uz",
    "host_state": "de",
    "tactics": ["coercion-by-proxy", "intimidation"],
    "tlp": "amber",
}


def test_a_caseworker_creates_an_incident_and_reads_it_back(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Any]
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    created = client.post("/api/v1/incidents", json=INCIDENT, headers=headers)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    body = client.get(location, headers=headers).json()
    assert body["origin_state"] == "UZ"
    assert body["tactics"] == ["coercion-by-proxy", "intimidation"]
    assert body["narrative"] == INCIDENT["narrative"]


def test_bad_input_is_refused_without_repeating_it(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Any]
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    bad = {**INCIDENT, "tactics": ["mind-control"], "origin_state": "XX"}
    response = client.post("/api/v1/incidents", json=bad, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"].startswith("body.")
    assert "Gulnara" not in response.text


def test_an_unknown_label_in_a_filter_is_a_clear_error(client: TestClient) -> None:
    response = client.get("/api/v1/incidents", params={"label": "purple"})
    assert response.status_code == 422
    assert response.json()["error"].startswith("query.label:")


def test_malformed_ids_and_cursors_answer_like_missing_ones(client: TestClient) -> None:
    missing = client.get("/api/v1/incidents/01a00000-0000-7000-8000-000000000000")
    malformed = client.get("/api/v1/incidents/not-an-id")
    assert missing.status_code == malformed.status_code == 404
    assert missing.json() == malformed.json()
    assert client.get("/api/v1/incidents", params={"cursor": "x"}).status_code == 422


def test_only_caseworkers_and_coordinators_create_records(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Any]
) -> None:
    _, author = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    created = client.post("/api/v1/incidents", json=INCIDENT, headers=author)
    assert created.status_code == 201
    _, analyst = member(organisation("Other NGO"), Role.ANALYST)
    refused = client.post("/api/v1/incidents", json=INCIDENT, headers=analyst)
    assert refused.status_code == 403
    # No token at all: refused as unauthenticated, before the body is read.
    unsigned = client.post("/api/v1/incidents", json=INCIDENT)
    assert unsigned.status_code == 401


def test_the_contributing_organisation_replaces_an_incident_and_others_cannot(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Any]
) -> None:
    _, author = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    _, outsider = member(organisation("Other NGO"), Role.CASEWORKER)
    shared = {**INCIDENT, "tlp": "green"}
    incident_id = client.post("/api/v1/incidents", json=shared, headers=author).json()["id"]

    changed = {**shared, "status": "verified", "tactics": ["intimidation"]}
    response = client.put(f"/api/v1/incidents/{incident_id}", json=changed, headers=author)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "verified"
    assert response.json()["tactics"] == ["intimidation"]

    refused = client.put(f"/api/v1/incidents/{incident_id}", json=changed, headers=outsider)
    assert refused.status_code == 403
    strict = client.post(
        "/api/v1/incidents", json={**INCIDENT, "tlp": "amber+strict"}, headers=author
    ).json()["id"]
    hidden = client.put(f"/api/v1/incidents/{strict}", json=changed, headers=outsider)
    assert hidden.status_code == 404


def test_expired_and_revoked_tokens_are_refused_alike(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str]
) -> None:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        new = NewUser(
            organisation("Exile Legal Aid"), "t@example.org", "x" * 16, frozenset({Role.CASEWORKER})
        )
        user_id = create_user(session, cipher, new, actor="test")
        expired = create_token(
            session,
            cipher,
            TokenRequest(user_id, "old", frozenset({"read"}), timedelta(days=-1)),
            actor="t",
        )
        revoked = create_token(
            session,
            cipher,
            TokenRequest(user_id, "gone", frozenset({"read"}), timedelta(days=1)),
            actor="t",
        )
        session.execute(
            update(ApiToken).where(ApiToken.id == revoked.id).values(revoked_at=utcnow())
        )
    answers = [
        client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token.secret}"})
        for token in (expired, revoked)
    ]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    malformed = client.get("/api/v1/incidents", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401


def test_malformed_group_and_recipient_ids_are_refused_plainly(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Any]
) -> None:
    _, author = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    for field in ("share_with", "recipients"):
        response = client.post(
            "/api/v1/incidents", json={**INCIDENT, field: ["not-an-id"]}, headers=author
        )
        assert response.status_code == 422, response.text
        assert "named by their ids" in response.json()["error"]


def test_narrative_reads_are_audited_and_only_for_roles_that_get_them(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Any],
) -> None:
    ngo = organisation("Exile Legal Aid")
    caseworker_id, caseworker = member(ngo, Role.CASEWORKER)
    analyst_id, analyst = member(ngo, Role.ANALYST)
    incident_id = client.post("/api/v1/incidents", json=INCIDENT, headers=caseworker).json()["id"]

    listed = client.get("/api/v1/incidents", headers=caseworker).json()["items"]
    assert listed[0]["narrative"] == INCIDENT["narrative"]
    assert client.get("/api/v1/incidents", headers=analyst).json()["items"][0]["narrative"] is None
    client.get(f"/api/v1/incidents/{incident_id}", headers=analyst)

    with runtime.reading() as session:
        reads = session.execute(
            select(AuditEntry.actor, AuditEntry.surface).where(
                AuditEntry.entity == "incidents",
                AuditEntry.entity_id == incident_id,
                AuditEntry.action == "read",
            )
        ).all()
    assert reads == [(f"user:{caseworker_id}", "api")]
    assert analyst_id not in {actor for actor, _ in reads}
