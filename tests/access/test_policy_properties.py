"""The policy gate, tested through the API against a reference model of the rules.

Hypothesis builds small worlds (organisations of every kind, users with roles, sharing groups,
incidents with random labels, shares, recipients and a target whose consent is random) and every
reader, the public included, reads every incident through the list and the detail endpoints.
No reader may receive a record, a narrative or an identifying field beyond what the rules allow,
from the incidents or the people endpoints, listing, searching by filters or reading details;
after a consent revocation the next read must already honour it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haven.access.accounts import (
    NewGroup,
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_sharing_group,
    create_token,
    create_user,
    reader_for,
)
from haven.access.consent import set_consent
from haven.access.models import User
from haven.access.sharing import Share, share_record
from haven.crypto.keys import new_keyring, save_keyring
from haven.domain.enums import ContributorKind, PersonRole, RecipientKind, Role, Tlp
from haven.registry.schemas import IncidentIn, PersonIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import open_runtime
from haven.settings import Settings
from haven.web.app import create_app

KINDS = [
    (ContributorKind.NGO, None),
    (ContributorKind.AUTHORITY, "DE"),
    (ContributorKind.AUTHORITY, "FR"),
    (ContributorKind.EU_BODY, None),
    (ContributorKind.COMPANY, None),
]
GRANTS = [
    (RecipientKind.NGO, None),
    (RecipientKind.AUTHORITY, None),
    (RecipientKind.AUTHORITY, "DE"),
    (RecipientKind.EU_BODY, None),
    (RecipientKind.COMPANY, None),
]
ROLES = [Role.CASEWORKER, Role.COORDINATOR, Role.ANALYST, Role.AUDITOR, Role.ADMINISTRATOR]


@dataclass
class OrgPlan:
    kind: ContributorKind
    member_state: str | None
    users: list[frozenset[Role]]


@dataclass
class IncidentPlan:
    contributor: int
    author: int
    tlp: Tlp
    groups: frozenset[int]
    recipients: frozenset[int]
    consent: frozenset[int] | None  # indexes into GRANTS; None: no consent statement
    # Withdrawals for one member state (indexes into GRANTS), which narrow a grant for all.
    withdrawn: frozenset[int] = frozenset()


@dataclass
class World:
    orgs: list[OrgPlan]
    groups: list[frozenset[int]]
    incidents: list[IncidentPlan]
    revoke: int


@st.composite
def worlds(draw: st.DrawFn) -> World:
    orgs = [
        OrgPlan(
            *draw(st.sampled_from(KINDS)),
            users=draw(
                st.lists(st.frozensets(st.sampled_from(ROLES), max_size=2), min_size=1, max_size=2)
            ),
        )
        for _ in range(draw(st.integers(2, 4)))
    ]
    org_ids = st.integers(0, len(orgs) - 1)
    groups = draw(st.lists(st.frozensets(org_ids, min_size=1), max_size=2))
    all_users = [(o, u) for o, org in enumerate(orgs) for u in range(len(org.users))]
    incidents = []
    for _ in range(draw(st.integers(1, 5))):
        contributor = draw(org_ids)
        member_of = [g for g, members in enumerate(groups) if contributor in members]
        incidents.append(
            IncidentPlan(
                contributor=contributor,
                author=draw(st.integers(0, len(orgs[contributor].users) - 1)),
                tlp=draw(st.sampled_from(list(Tlp))),
                groups=draw(st.frozensets(st.sampled_from(member_of)))
                if member_of
                else frozenset(),
                recipients=draw(st.frozensets(st.integers(0, len(all_users) - 1), max_size=2)),
                consent=draw(st.none() | st.frozensets(st.integers(0, len(GRANTS) - 1))),
            )
        )
    return World(orgs, groups, incidents, revoke=draw(st.integers(0, len(GRANTS) - 1)))


@dataclass
class Built:
    org_ids: list[str]
    users: list[tuple[int, str, frozenset[Role]]] = field(default_factory=list)  # (org, id, roles)
    tokens: dict[str, str] = field(default_factory=dict)  # user id -> secret
    incidents: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def _expected(world: World, built: Built, reader: int | None, incident: int) -> bool:
    """The rules, written out plainly: may this reader (index into built.users) see it?"""
    plan = world.incidents[incident]
    if reader is None:
        org_index, roles, user_index = None, frozenset[Role](), None
    else:
        org_index, _, roles = built.users[reader]
        user_index = reader
        if not roles & {Role.CASEWORKER, Role.COORDINATOR, Role.ANALYST}:
            return False
    if org_index is None:
        label_ok = plan.tlp is Tlp.CLEAR
    elif plan.tlp in {Tlp.CLEAR, Tlp.GREEN}:
        label_ok = True
    elif plan.tlp is Tlp.AMBER:
        label_ok = org_index == plan.contributor or any(
            org_index in world.groups[g] for g in plan.groups
        )
    elif plan.tlp is Tlp.AMBER_STRICT:
        label_ok = org_index == plan.contributor
    else:
        author = _user_index(built, plan.contributor, plan.author)
        label_ok = user_index in plan.recipients or user_index == author
    if not label_ok:
        return False
    if plan.consent is None or org_index == plan.contributor:
        return True
    if org_index is None:
        return False
    org = world.orgs[org_index]
    kind = {
        ContributorKind.NGO: RecipientKind.NGO,
        ContributorKind.AUTHORITY: RecipientKind.AUTHORITY,
        ContributorKind.EU_BODY: RecipientKind.EU_BODY,
        ContributorKind.COMPANY: RecipientKind.COMPANY,
    }[org.kind]
    # The row for the reader's own member state decides; without one, the row for all.
    withdrawn = any(GRANTS[g] == (kind, org.member_state) for g in plan.withdrawn)
    return not withdrawn and any(
        GRANTS[g][0] is kind and GRANTS[g][1] in {None, org.member_state} for g in plan.consent
    )


def _withdraw(plan: IncidentPlan, revoke: int) -> None:
    """A withdrawal naming no member state revokes every grant of its kind; one naming a state
    revokes that state's, narrowing a grant for all."""
    kind, state = GRANTS[revoke]
    assert plan.consent is not None
    if state is None:
        plan.consent = frozenset(g for g in plan.consent if GRANTS[g][0] is not kind)
    else:
        plan.consent = plan.consent - {revoke}
        plan.withdrawn = plan.withdrawn | {revoke}


def _user_index(built: Built, org: int, nth: int) -> int:
    return [i for i, (o, _, _) in enumerate(built.users) if o == org][nth]


def _build(world: World, runtime: Any) -> Built:
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        built = Built(
            org_ids=[
                create_organisation(
                    session,
                    cipher,
                    NewOrganisation(f"org {i}", org.kind, org.member_state),
                    actor="test",
                )
                for i, org in enumerate(world.orgs)
            ]
        )
        for o, org in enumerate(world.orgs):
            for u, roles in enumerate(org.users):
                new = NewUser(built.org_ids[o], f"user{o}.{u}@example.org", "a" * 16, roles)
                user_id = create_user(session, cipher, new, actor="test")
                built.users.append((o, user_id, roles))
                request = TokenRequest(user_id, "t", frozenset({"read"}), timedelta(days=1))
                built.tokens[user_id] = create_token(session, cipher, request, actor="t").secret
        for g, members in enumerate(world.groups):
            owner = built.org_ids[min(members)]
            others = [built.org_ids[m] for m in members]
            built.groups.append(
                create_sharing_group(session, cipher, NewGroup(f"g{g}", owner, others), actor="t")
            )
        for n, plan in enumerate(world.incidents):
            author_id = built.users[_user_index(built, plan.contributor, plan.author)][1]
            author = reader_for(session, session.get(User, author_id), surface="test")
            writer = RegistryWriter(
                session, cipher, Actor(author.organisation_id or "", author.actor)
            )
            incident_id = writer.add_incident(
                IncidentIn.model_validate(
                    {
                        "title": f"incident {n}",
                        "narrative": f"narrative {n}",
                        "occurred": {"start": "2024-01-01"},
                        "origin_state": "CN",
                        "host_state": "DE",
                        "tactics": ["surveillance"],
                        "tlp": plan.tlp,
                    }
                )
            )
            name = f"Zhang Wei{n}"
            person_id = writer.add_person(
                PersonIn.model_validate({"identity": {"names": [{"value": name}]}, "tlp": plan.tlp})
            )
            writer.link_person(incident_id, person_id, PersonRole.TARGET)
            writer.flush()
            recipients = [built.users[r][1] for r in plan.recipients]
            groups = [built.groups[g] for g in plan.groups]
            for entity, record in (("incidents", incident_id), ("people", person_id)):
                share = Share(entity, record, groups=groups, recipients=recipients)
                share_record(session, author, share)
            for g in sorted(plan.consent or ()):
                kind, state = GRANTS[g]
                set_consent(session, person_id, kind, True, actor="test", member_state=state)
            if plan.consent == frozenset():
                # A statement that grants nothing: recorded as a refusal of NGOs.
                set_consent(session, person_id, RecipientKind.NGO, False, actor="test")
            built.incidents.append(incident_id)
            built.targets.append(person_id)
            built.names.append(name)
    return built


def _readers(built: Built) -> Iterator[tuple[int | None, dict[str, str]]]:
    yield None, {}
    for index, (_, user_id, _) in enumerate(built.users):
        yield index, {"Authorization": f"Bearer {built.tokens[user_id]}"}


def _listed(
    client: TestClient,
    headers: dict[str, str],
    resource: str = "incidents",
    **filters: str,
) -> set[str]:
    found: set[str] = set()
    cursor: str | None = None
    while True:
        params = {"limit": "2", **filters, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/api/v1/{resource}", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        for item in body["items"]:
            assert item.get("narrative") is None or item["narrative"].startswith("narrative")
            assert item.get("identity") is None  # lists never carry identities
            found.add(item["id"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def _check(world: World, built: Built, client: TestClient) -> None:
    missing = client.get("/api/v1/incidents/01a00000-0000-7000-8000-000000000000")
    assert missing.status_code == 404
    for reader, headers in _readers(built):
        expected = {
            built.incidents[n]
            for n in range(len(world.incidents))
            if _expected(world, built, reader, n)
        }
        assert _listed(client, headers) == expected, reader
        # Searching by label or tactic finds exactly the visible incidents that match.
        for label in Tlp:
            matching = {
                built.incidents[n]
                for n, plan in enumerate(world.incidents)
                if plan.tlp is label and built.incidents[n] in expected
            }
            assert _listed(client, headers, label=label.value) == matching, (reader, label)
        assert _listed(client, headers, tactic="surveillance", origin="CN") == expected
        assert _listed(client, headers, tactic="doxing") == set()
        # Each target carries the incident's label, shares and consent: the same readers.
        people = {built.targets[n] for n, i in enumerate(built.incidents) if i in expected}
        assert _listed(client, headers, "people") == people, reader
        identity_role = reader is not None and bool(
            built.users[reader][2] & {Role.CASEWORKER, Role.COORDINATOR}
        )
        for n, incident_id in enumerate(built.incidents):
            response = client.get(f"/api/v1/incidents/{incident_id}", headers=headers)
            if incident_id not in expected:
                assert response.status_code == 404
                assert response.json() == missing.json()
                assert built.names[n] not in response.text
                continue
            assert response.status_code == 200
            body = response.json()
            if identity_role:
                assert body["narrative"] == f"narrative {n}"
                assert [p["identity"]["names"][0]["value"] for p in body["people"]] == [
                    built.names[n]
                ]
            else:
                assert body["narrative"] is None
                assert body["people"] is None
                assert built.names[n] not in response.text
            person = client.get(f"/api/v1/people/{built.targets[n]}", headers=headers)
            assert person.status_code == 200
            identity = person.json()["identity"]
            if identity_role:
                assert identity["names"][0]["value"] == built.names[n]
            else:
                assert identity is None
                assert built.names[n] not in person.text
        for n, person_id in enumerate(built.targets):
            if built.incidents[n] not in expected:
                hidden = client.get(f"/api/v1/people/{person_id}", headers=headers)
                assert hidden.status_code == 404
                assert built.names[n] not in hidden.text


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_no_reader_receives_more_than_the_rules_allow(
    world: World, fresh_database: Any, tmp_path: Path
) -> None:
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    key_file = directory / "keys.json"
    save_keyring(new_keyring(), key_file)
    with fresh_database(directory) as url:
        runtime = open_runtime(Settings(data_dir=directory, database_url=url, key_file=key_file))
        try:
            built = _build(world, runtime)
            with TestClient(create_app(runtime)) as client:
                _check(world, built, client)
                # Revoke one kind of consent for every target; the very next read honours it.
                kind, state = GRANTS[world.revoke]
                with runtime.transaction() as session:
                    for n, person_id in enumerate(built.targets):
                        if world.incidents[n].consent is not None:
                            set_consent(
                                session, person_id, kind, False, actor="t", member_state=state
                            )
                            _withdraw(world.incidents[n], world.revoke)
                _check(world, built, client)
        finally:
            runtime.close()
