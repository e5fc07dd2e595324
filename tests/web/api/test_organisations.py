"""/api/v1/organisations through the API: the registry's actors, by label, paged, and who may
create them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from haven.access.accounts import NewGroup, create_sharing_group
from haven.db.values import new_id
from haven.domain.enums import Role
from haven.runtime import Runtime

Member = tuple[str, dict[str, str]]
URL = "/api/v1/organisations"


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    body = {"name": "Ministry of State Security", "kind": "state-agency", **fields}
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    organisation_id: str = response.json()["id"]
    assert response.headers["Location"] == f"{URL}/{organisation_id}"
    return organisation_id


def _ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_labels_decide_who_sees_an_organisation(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Callable[..., Member],
) -> None:
    a, b, c = organisation("NGO A"), organisation("NGO B"), organisation("NGO C")
    with runtime.transaction() as session:
        group = create_sharing_group(session, runtime.cipher(), NewGroup("g", a, [b]), actor="t")
    _, author = member(a, Role.CASEWORKER)
    _, in_group = member(b, Role.ANALYST)
    recipient_id, recipient = member(c, Role.CASEWORKER)
    _, outsider = member(c, Role.CASEWORKER)

    strict = _create(client, author, tlp="amber+strict")
    amber = _create(client, author, tlp="amber", share_with=[group])
    red = _create(client, author, tlp="red", recipients=[recipient_id])
    green = _create(client, author)  # GREEN by default
    clear = _create(client, author, tlp="clear")

    assert _ids(client, author) == [clear, green, red, amber, strict]
    assert _ids(client, in_group) == [clear, green, amber]
    assert _ids(client, recipient) == [clear, green, red]
    assert _ids(client, outsider) == [clear, green]
    assert _ids(client, {}) == [clear]

    hidden = client.get(f"{URL}/{strict}", headers=outsider)
    missing = client.get(f"{URL}/{new_id()}", headers=outsider)
    malformed = client.get(f"{URL}/{strict.upper()}", headers=outsider)
    assert hidden.status_code == missing.status_code == malformed.status_code == 404
    assert hidden.json() == missing.json() == malformed.json()
    assert client.get(f"{URL}/{green}", headers={}).status_code == 404

    body = client.get(f"{URL}/{strict}", headers=author).json()
    assert (body["name"], body["kind"], body["tlp"]) == (
        "Ministry of State Security",
        "state-agency",
        "amber+strict",
    )
    assert (body["contributor_id"], "identity" in body) == (a, False)


def test_the_list_pages_with_a_cursor_and_filters(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    _, author = member(organisation("NGO A"), Role.COORDINATOR)
    _, reader = member(organisation("NGO B"), Role.ANALYST)
    created = [
        _create(client, author, name="NSO", kind="surveillance-vendor", country="il"),
        _create(client, author, name="MSS", kind="state-agency", country="CN", aliases=["Guoanbu"]),
        _create(client, author, name="Overseas station", kind="proxy", country="CN", tlp="clear"),
    ]
    first = client.get(URL, params={"limit": 2}, headers=reader).json()
    assert [item["id"] for item in first["items"]] == [created[2], created[1]]
    assert first["items"][1]["aliases"] == ["Guoanbu"]
    rest = client.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}, headers=reader)
    assert ([item["id"] for item in rest.json()["items"]], rest.json()["next_cursor"]) == (
        [created[0]],
        None,
    )

    assert _ids(client, reader, kind="surveillance-vendor") == [created[0]]
    assert _ids(client, reader, country="cn") == [created[2], created[1]]
    assert _ids(client, reader, label="clear") == [created[2]]
    for bad in ({"kind": "bank"}, {"cursor": "x"}, {"limit": 201}, {"name": "NSO"}):
        assert client.get(URL, params=bad, headers=reader).status_code == 422


def test_only_caseworkers_and_coordinators_with_a_write_token_create(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Member]
) -> None:
    a = organisation("NGO A")
    _, analyst = member(a, Role.ANALYST)
    _, read_only = member(a, Role.COORDINATOR, scopes=frozenset({"read"}))
    _, administrator = member(a, Role.ADMINISTRATOR)
    _, caseworker = member(a, Role.CASEWORKER)
    body = {"name": "Embassy", "kind": "state-agency", "tlp": "clear"}
    for headers in (analyst, read_only, administrator):
        assert client.post(URL, json=body, headers=headers).status_code == 403
    assert client.post(URL, json=body).status_code == 401  # no token: refused unread
    assert _ids(client, {}) == []
    assert client.post(URL, json={**body, "kind": "bank"}, headers=caseworker).status_code == 422
    assert client.post(URL, json=body, headers=caseworker).status_code == 201


def test_a_bad_token_is_refused(client: TestClient) -> None:
    headers = {"Authorization": "Bearer hvn_not-a-token"}
    assert client.get(URL, headers=headers).status_code == 401
    assert client.get(f"{URL}/{new_id()}", headers=headers).status_code == 401
    body = {"name": "Embassy", "kind": "state-agency"}
    assert client.post(URL, json=body, headers=headers).status_code == 401


def test_both_resources_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/people", "/api/v1/people/{person_id}", URL, f"{URL}/{{organisation_id}}"):
        assert path in paths


def test_the_contributor_replaces_an_organisation(
    client: TestClient, organisation: Callable[..., str], member: Callable[..., Any]
) -> None:
    _, author = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    body = {"name": "Directorate K", "kind": "state-agency", "country": "BY", "tlp": "green"}
    created = client.post("/api/v1/organisations", json=body, headers=author)
    assert created.status_code == 201, created.text
    organisation_id = created.json()["id"]
    renamed = {**body, "name": "Directorate K (renamed)", "aliases": ["DK"]}
    response = client.put(f"/api/v1/organisations/{organisation_id}", json=renamed, headers=author)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Directorate K (renamed)"
    missing = client.put(
        "/api/v1/organisations/01a00000-0000-7000-8000-000000000000", json=renamed, headers=author
    )
    assert missing.status_code == 404
