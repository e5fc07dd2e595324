"""The registry and the tables that decide access, checked against the audit chain: Haven's own
changes verify clean; rows edited, added or deleted around Haven are named with their key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from builders import incident
from haven.access.accounts import (
    NewGroup,
    NewOrganisation,
    NewUser,
    create_organisation,
    create_sharing_group,
    create_user,
    reader_for,
    set_roles,
)
from haven.access.consent import host_state_corrected, set_consent
from haven.access.groups import Membership, set_member
from haven.access.integrity import access_digest, check_records
from haven.access.models import Consent, User
from haven.access.sharing import Share, share_record
from haven.audit.chain import append, verify
from haven.crypto.fields import FieldCipher
from haven.domain.enums import ContributorKind, PersonRole, RecipientKind, ReportChannel, Role
from haven.intake.models import Report
from haven.intake.reports import ReportIn, Submission, change_consent, submit_report
from haven.registry.models import Incident, IncidentTactic, Organisation, Person
from haven.registry.schemas import IncidentIn, OrganisationIn, PersonIn
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

PASSWORD = "x" * 16
CASEWORKER = frozenset({Role.CASEWORKER})


def _found(runtime: Runtime) -> list[str]:
    with runtime.reading() as session:
        return [d.describe() for d in check_records(session, runtime.cipher())]


# -- records ---------------------------------------------------------------------------------


def test_an_untouched_registry_matches_its_audit_chain(
    cli: Callable[..., Any], runtime: Runtime
) -> None:
    assert cli("demo", "--incidents", "6").code == 0
    outcome = cli("audit", "verify", "--records")
    assert outcome.code == 0, outcome.err
    assert "every record matches" in outcome.out


def test_records_changed_or_removed_around_haven_are_named(
    cli: Callable[..., Any], runtime: Runtime
) -> None:
    assert cli("demo", "--incidents", "6").code == 0
    with runtime.transaction() as session:
        incident = session.scalars(select(Incident.id).order_by(Incident.id)).first()
        person = session.scalars(select(Person.id).order_by(Person.id)).first()
        organisation = session.scalars(select(Organisation.id).order_by(Organisation.id)).first()
        session.execute(update(Incident).where(Incident.id == incident).values(host_state="FR"))
        session.execute(update(Person).where(Person.id == person).values(community="edited"))
        session.execute(delete(IncidentTactic).where(IncidentTactic.incident_id == incident))
    with runtime.reading() as session:
        found = {(d.entity, d.record_id) for d in check_records(session, runtime.cipher())}
    assert ("incidents", incident) in found
    assert ("people", person) in found
    assert ("organisations", organisation) not in found
    outcome = cli("audit", "verify", "--records")
    assert outcome.code == 1
    assert "differs from its last audited state" in outcome.err


def test_a_record_deleted_around_haven_is_named(runtime: Runtime, writer: Any) -> None:
    organisation_id = writer.add_organisation(
        OrganisationIn.model_validate({"name": "Directorate K", "kind": "state-agency"})
    )
    writer.flush()
    writer.session.commit()
    with runtime.transaction() as session:
        session.execute(delete(Organisation).where(Organisation.id == organisation_id))
    assert _found(runtime) == [f"organisations record {organisation_id} was removed outside Haven"]


def test_records_without_sealed_values_match_too(runtime: Runtime, writer: Any) -> None:
    writer.add_incident(
        IncidentIn.model_validate(
            {
                "title": "t",
                "occurred": {"start": "2024-01-01"},
                "origin_state": "CN",
                "tactics": ["doxing"],
            }
        )
    )
    writer.add_person(PersonIn.model_validate({"profile": "journalist"}))
    writer.flush()
    writer.session.commit()
    assert _found(runtime) == []


# -- the tables that decide access -----------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What Haven's normal flows wrote: organisations, users, a sharing group, a shared
    incident with its target, and a report from the public form whose consent was changed."""

    owner: str
    partner: str
    owner_user: str
    partner_user: str
    group: str
    shared: str
    unshared: str
    target: str
    link: str
    reporter: str


def _build(session: Session, cipher: FieldCipher) -> World:
    owner = create_organisation(
        session, cipher, NewOrganisation("Owner", ContributorKind.NGO), actor="t"
    )
    partner = create_organisation(
        session, cipher, NewOrganisation("Partner", ContributorKind.NGO), actor="t"
    )
    passing = create_organisation(
        session, cipher, NewOrganisation("Passing", ContributorKind.NGO), actor="t"
    )
    joining = create_organisation(
        session, cipher, NewOrganisation("Joining", ContributorKind.NGO), actor="t"
    )
    owner_user = create_user(
        session, cipher, NewUser(owner, "o@example.org", PASSWORD, CASEWORKER), actor="t"
    )
    partner_user = create_user(
        session, cipher, NewUser(partner, "p@example.org", PASSWORD, CASEWORKER), actor="t"
    )
    set_roles(session, partner_user, frozenset({Role.CASEWORKER, Role.ANALYST}), actor="t")
    group = create_sharing_group(session, cipher, NewGroup("Partners", owner, [partner]), actor="t")
    set_member(session, Membership(group, passing, member=True), actor="t", owner_id=owner)
    set_member(session, Membership(group, passing, member=False), actor="t", owner_id=owner)
    set_member(session, Membership(group, joining, member=True), actor="t", owner_id=owner)
    writer = RegistryWriter(session, cipher, Actor(owner, "test:writer", "test"))
    shared = writer.add_incident(incident(tlp="amber"))
    unshared = writer.add_incident(incident(tlp="red"))
    target = writer.add_person(PersonIn.model_validate({"profile": "journalist"}))
    link = writer.link_person(shared, target, PersonRole.TARGET)
    writer.flush()
    author = reader_for(session, session.get_one(User, owner_user), surface="test")
    share_record(session, author, Share("incidents", shared, [group], [partner_user]))
    set_consent(session, target, RecipientKind.NGO, True, actor="t")
    set_consent(session, target, RecipientKind.AUTHORITY, True, actor="t", member_state="DE")
    report = ReportIn.model_validate(
        {
            "what_happened": "They followed me home.",
            "tactics": ["harassment"],
            "occurred": {"start": "2024-03-01"},
            "origin_state": "RU",
            "host_state": "DE",
            "consent": ["ngo", "authority"],
        }
    )
    submission = Submission(owner, ReportChannel.PUBLIC_FORM, "reporter", "report-form")
    receipt = submit_report(session, cipher, report, submission)
    received = session.get_one(Report, receipt.report_id)
    change_consent(session, received, frozenset({RecipientKind.NGO}), "DE")
    return World(
        owner,
        partner,
        owner_user,
        partner_user,
        group,
        shared,
        unshared,
        target,
        link,
        received.person_id,
    )


@pytest.fixture
def world(runtime: Runtime, cipher: FieldCipher) -> World:
    with runtime.transaction() as session:
        return _build(session, cipher)


def _edit(runtime: Runtime, statement: str, **values: str) -> None:
    """A direct edit, in plain SQL, around Haven's services."""
    with runtime.transaction() as session:
        assert session.execute(text(statement), values).rowcount == 1  # type: ignore[attr-defined]


def test_normal_flows_verify_clean(world: World, runtime: Runtime, cli: Callable[..., Any]) -> None:
    assert _found(runtime) == []
    outcome = cli("audit", "verify", "--records")
    assert outcome.code == 0, outcome.err
    assert "every record matches its last audited state" in outcome.out


def test_a_deleted_consent_row_is_named(world: World, runtime: Runtime) -> None:
    _edit(
        runtime,
        "DELETE FROM consents WHERE person_id = :person AND recipient_kind = 'ngo'",
        person=world.reporter,
    )
    assert _found(runtime) == [
        f"consents of person {world.reporter} differ from their last audited state"
    ]


def test_an_inserted_recipient_is_named(world: World, runtime: Runtime) -> None:
    _edit(
        runtime,
        "INSERT INTO record_recipients (entity, record_id, user_id) "
        "VALUES ('incidents', :incident, :user)",
        incident=world.unshared,
        user=world.partner_user,
    )
    assert _found(runtime) == [
        f"record_recipients of incidents {world.unshared} were never audited"
    ]


def test_an_added_role_is_named(world: World, runtime: Runtime) -> None:
    _edit(
        runtime,
        """UPDATE users SET roles = '["administrator", "caseworker"]' WHERE id = :user""",
        user=world.owner_user,
    )
    assert _found(runtime) == [
        f"users.roles, organisation_id and system_admin of user {world.owner_user} "
        "differ from their last audited state"
    ]


def test_a_deleted_incident_person_link_is_named(world: World, runtime: Runtime) -> None:
    _edit(runtime, "DELETE FROM incident_people WHERE id = :link", link=world.link)
    assert _found(runtime) == [f"incident_people record {world.link} was removed outside Haven"]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "INSERT INTO sharing_group_members (group_id, organisation_id) "
            "SELECT :group, id FROM contributors WHERE name = 'Passing'",
            "sharing_group_members of group {group} differ from their last audited state",
        ),
        (
            "DELETE FROM record_shares WHERE record_id = :shared",
            "record_shares of incidents {shared} were removed outside Haven",
        ),
        (
            "INSERT INTO consents (person_id, recipient_kind, member_state, granted, updated_at) "
            "SELECT person_id, 'company', '', true, updated_at FROM consents "
            "WHERE person_id = :target AND recipient_kind = 'ngo'",
            "consents of person {target} differ from their last audited state",
        ),
        (
            "UPDATE users SET organisation_id = :owner WHERE id = :partner_user",
            "users.roles, organisation_id and system_admin of user {partner_user} "
            "differ from their last audited state",
        ),
        (
            "UPDATE incident_people SET role = 'witness' WHERE id = :link",
            "incident_people record {link} differs from its last audited state",
        ),
    ],
    ids=["member-added", "share-deleted", "consent-added", "user-moved", "link-role-changed"],
)
def test_other_edits_around_haven_are_named(
    world: World, runtime: Runtime, statement: str, message: str
) -> None:
    names = vars(world)
    used = {name: value for name, value in names.items() if f":{name}" in statement}
    _edit(runtime, statement, **used)
    assert _found(runtime) == [message.format(**names)]


def test_consent_for_someone_never_audited_is_named(world: World, runtime: Runtime) -> None:
    with runtime.transaction() as session:
        writer = RegistryWriter(session, runtime.cipher(), Actor(world.owner, "test:writer"))
        person = writer.add_person(PersonIn.model_validate({"profile": "activist"}))
        writer.flush()
    _edit(
        runtime,
        "INSERT INTO consents (person_id, recipient_kind, member_state, granted, updated_at) "
        "SELECT :person, recipient_kind, member_state, granted, updated_at FROM consents "
        "WHERE person_id = :target AND recipient_kind = 'ngo'",
        person=person,
        target=world.target,
    )
    assert _found(runtime) == [f"consents of person {person} were never audited"]


def test_the_order_of_roles_and_rows_changes_no_digest(world: World, runtime: Runtime) -> None:
    _edit(
        runtime,
        """UPDATE users SET roles = '["caseworker", "analyst"]' WHERE id = :user""",
        user=world.partner_user,
    )
    assert _found(runtime) == []
    rows = [("ngo", "", True), ("authority", "DE", False)]
    assert access_digest("consents", "p", rows) == access_digest("consents", "p", rows[::-1])
    assert access_digest("consents", "p", rows) != access_digest("consents", "q", rows)


def test_consent_a_host_correction_revokes_verifies_clean(world: World, runtime: Runtime) -> None:
    with runtime.transaction() as session:
        granted = session.get_one(Consent, (world.target, "authority", "DE"))
        assert granted.granted
        append(session, host_state_corrected(session, [world.target], "DE", actor="t"))
    with runtime.reading() as session:
        assert not session.get_one(Consent, (world.target, "authority", "DE")).granted
    assert _found(runtime) == []


def test_access_changes_stay_in_one_chain(world: World, runtime: Runtime) -> None:
    with runtime.reading() as session:
        assert verify(session).ok
