"""/api/v1/people through the API: labels, consent, identities for the roles that may read them,
audited identity reads, pages, and who may create."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from haven.access.accounts import NewGroup, create_sharing_group
from haven.access.consent import set_consent
from haven.audit.chain import verify
from haven.audit.models import AuditEntry
from haven.db.values import new_id
from haven.domain.enums import ContributorKind, RecipientKind, Role
from haven.registry.sealed import find_people
from haven.runtime import Runtime

Member = tuple[str, dict[str, str]]
NAME = "Gulnara Sadykova"


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    body = {"identity": {"names": [{"value": NAME}]}, **fields}
    response = client.post("/api/v1/people", json=body, headers=headers)
    assert response.status_code == 201, response.text
    person_id: str = response.json()["id"]
    assert response.headers["Location"] == f"/api/v1/people/{person_id}"
    return person_id


def _ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = client.get("/api/v1/people", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _reads(runtime: Runtime, person_id: str) -> list[AuditEntry]:
    with runtime.reading() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity_id == person_id, AuditEntry.action == "read"
                )
            )
        )


def test_an_amber_strict_person_is_invisible_to_another_organisation(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    _, author = member(organisation("NGO A"), Role.CASEWORKER)
    _, outsider = member(organisation("NGO B"), Role.CASEWORKER)
    person_id = _create(client, author, tlp="amber+strict")

    assert _ids(client, author) == [person_id]
    assert _ids(client, outsider) == []
    hidden = client.get(f"/api/v1/people/{person_id}", headers=outsider)
    missing = client.get(f"/api/v1/people/{new_id()}", headers=outsider)
    malformed = client.get("/api/v1/people/not-an-id", headers=outsider)
    assert hidden.status_code == missing.status_code == malformed.status_code == 404
    assert hidden.json() == missing.json() == malformed.json()
    assert client.get(f"/api/v1/people/{person_id}", headers=author).status_code == 200


def test_amber_reaches_the_groups_named_and_red_only_its_recipients(
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
    _, colleague = member(a, Role.CASEWORKER)
    _, in_group = member(b, Role.ANALYST)
    recipient_id, recipient = member(c, Role.CASEWORKER)
    _, outsider = member(c, Role.COORDINATOR)

    amber = _create(client, author, tlp="amber", share_with=[group])
    red = _create(client, author, tlp="red", recipients=[recipient_id])

    assert _ids(client, in_group) == [amber]
    assert _ids(client, colleague) == [amber]
    assert _ids(client, recipient) == [red]
    assert _ids(client, outsider) == []
    assert _ids(client, author) == [red, amber]
    assert client.get(f"/api/v1/people/{red}", headers=colleague).status_code == 404


def test_sharing_with_a_group_the_organisation_is_not_in_writes_nothing(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Member],
) -> None:
    a, b = organisation("NGO A"), organisation("NGO B")
    with runtime.transaction() as session:
        foreign = create_sharing_group(session, runtime.cipher(), NewGroup("theirs", b), actor="t")
    _, author = member(a, Role.CASEWORKER)
    body = {"tlp": "amber", "share_with": [foreign]}
    response = client.post("/api/v1/people", json=body, headers=author)
    assert response.status_code == 422
    assert _ids(client, author) == []


def test_an_authority_sees_a_person_only_with_consent_for_authorities(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Member],
) -> None:
    _, author = member(organisation("NGO A"), Role.CASEWORKER)
    _, authority = member(organisation("BKA", ContributorKind.AUTHORITY, "DE"), Role.CASEWORKER)
    person_id = _create(client, author, tlp="green")
    url = f"/api/v1/people/{person_id}"
    assert client.get(url, headers=authority).status_code == 200  # no statement: labels alone

    def consent(kind: RecipientKind, granted: bool, state: str | None = None) -> None:
        with runtime.transaction() as session:
            set_consent(session, person_id, kind, granted, actor="t", member_state=state)

    consent(RecipientKind.NGO, True)
    assert client.get(url, headers=authority).status_code == 404
    assert _ids(client, authority) == []
    consent(RecipientKind.AUTHORITY, True, "FR")
    assert client.get(url, headers=authority).status_code == 404
    consent(RecipientKind.AUTHORITY, True, "DE")
    assert client.get(url, headers=authority).status_code == 200
    assert _ids(client, authority) == [person_id]

    consent(RecipientKind.AUTHORITY, False, "DE")
    assert client.get(url, headers=authority).status_code == 404
    assert _ids(client, authority) == []
    assert client.get(url, headers=author).status_code == 200  # its own organisation still does


def test_identity_only_for_caseworkers_and_coordinators_and_only_in_the_detail(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    a, b = organisation("NGO A"), organisation("NGO B")
    _, author = member(a, Role.CASEWORKER)
    person_id = _create(client, author, tlp="clear", nationality="kz", profile="journalist")
    url = f"/api/v1/people/{person_id}"
    for roles in ((Role.CASEWORKER,), (Role.COORDINATOR,), (Role.ANALYST, Role.COORDINATOR)):
        _, headers = member(b, *roles)
        body = client.get(url, headers=headers).json()
        assert body["identity"]["names"][0]["value"] == NAME
        listed = client.get("/api/v1/people", headers=headers)
        assert listed.json()["items"][0]["identity"] is None
        assert NAME not in listed.text
    _, analyst = member(b, Role.ANALYST)
    for headers in (analyst, {}):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert response.json()["identity"] is None
        assert response.json()["nationality"] == "KZ"
        assert NAME not in response.text


def test_identity_reads_are_audited_with_the_api_surface(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Member],
) -> None:
    a = organisation("NGO A")
    _, author = member(a, Role.CASEWORKER)
    reader_id, caseworker = member(a, Role.CASEWORKER)
    _, analyst = member(a, Role.ANALYST)
    person_id = _create(client, author, tlp="amber")

    client.get("/api/v1/people", headers=caseworker)
    client.get(f"/api/v1/people/{person_id}", headers=analyst)
    client.get(f"/api/v1/people/{person_id}", headers={})
    assert _reads(runtime, person_id) == []

    assert client.get(f"/api/v1/people/{person_id}", headers=caseworker).status_code == 200
    reads = _reads(runtime, person_id)
    assert [(e.actor, e.entity, e.surface) for e in reads] == [
        (f"user:{reader_id}", "people", "api")
    ]


def test_the_list_pages_with_a_cursor_and_filters(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    _, author = member(organisation("NGO A"), Role.CASEWORKER)
    _, reader = member(organisation("NGO B"), Role.ANALYST)
    created = [
        _create(
            client,
            author,
            tlp="clear" if n == 0 else "green",
            nationality="TJ" if n % 2 else "KZ",
            profile="lawyer" if n < 2 else "activist",
        )
        for n in range(5)
    ]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/people", params=params, headers=reader).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (created[::-1], 3)

    assert _ids(client, reader, nationality="tj") == [created[3], created[1]]
    assert _ids(client, reader, profile="lawyer") == [created[1], created[0]]
    assert _ids(client, reader, label="clear") == [created[0]]
    assert _ids(client, {}) == [created[0]]
    for bad in ({"cursor": "garbage"}, {"limit": 0}, {"label": "purple"}, {"colour": "red"}):
        assert client.get("/api/v1/people", params=bad, headers=reader).status_code == 422


def test_only_caseworkers_and_coordinators_with_a_write_token_create(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    a = organisation("NGO A")
    _, analyst = member(a, Role.ANALYST)
    _, read_only = member(a, Role.CASEWORKER, scopes=frozenset({"read"}))
    _, coordinator = member(a, Role.COORDINATOR)
    body = {"identity": {"names": [{"value": NAME}]}, "tlp": "green"}
    for headers in (analyst, read_only):
        assert client.post("/api/v1/people", json=body, headers=headers).status_code == 403
    assert client.post("/api/v1/people", json=body).status_code == 401  # no token: refused unread
    assert _ids(client, coordinator) == []
    assert client.post("/api/v1/people", json=body, headers=coordinator).status_code == 201
    bad = {"nationality": "XX", "identity": {"names": [{"value": NAME}]}}
    assert client.post("/api/v1/people", json=bad, headers=coordinator).status_code == 422


def test_a_bad_token_is_refused(client: TestClient) -> None:
    for headers in ({"Authorization": "Bearer hvn_nope"}, {"Authorization": "Basic abc"}):
        assert client.get("/api/v1/people", headers=headers).status_code == 401
        assert client.get(f"/api/v1/people/{new_id()}", headers=headers).status_code == 401
        response = client.post("/api/v1/people", json={"tlp": "green"}, headers=headers)
        assert response.status_code == 401


def test_the_contributor_replaces_a_person_and_lookups_follow_the_new_identity(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Member],
) -> None:
    _, author = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    _, outsider = member(organisation("Other NGO"), Role.CASEWORKER)
    person_id = _create(client, author, tlp="green")
    renamed = {"identity": {"names": [{"value": "Gulnara Karimova"}]}, "tlp": "green"}

    response = client.put(f"/api/v1/people/{person_id}", json=renamed, headers=author)

    assert response.status_code == 200, response.text
    assert response.json()["identity"]["names"][0]["value"] == "Gulnara Karimova"
    assert (
        client.put(f"/api/v1/people/{person_id}", json=renamed, headers=outsider).status_code == 403
    )
    cipher = runtime.cipher()
    with runtime.reading() as session:
        assert find_people(session, cipher, "name", "gulnara karimova") == [person_id]
        assert find_people(session, cipher, "name", NAME) == []
        update = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == person_id, AuditEntry.action == "update"
            )
        ).one()
        create = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == person_id, AuditEntry.action == "create"
            )
        ).one()
        assert update.before_digest == create.after_digest
        assert update.after_digest != update.before_digest
        assert verify(session).ok
