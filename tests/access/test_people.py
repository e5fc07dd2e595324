"""Reading people through the policy gate: rows by label and consent, identities only in the
detail, for the roles that may read them, and every identity read audited."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haven.access.accounts import NewOrganisation, create_organisation
from haven.access.consent import set_consent
from haven.access.people import PersonFilter, get_person, list_people
from haven.access.policy import Reader
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id
from haven.domain.enums import ContributorKind, RecipientKind, Role, Tlp
from haven.errors import NotFound, ValidationFailed
from haven.registry.schemas import PersonIn
from haven.registry.writer import Actor, RegistryWriter


def _reader(
    organisation_id: str, kind: ContributorKind, *roles: Role, state: str | None = None
) -> Reader:
    return Reader(
        user_id=new_id(),
        organisation_id=organisation_id,
        organisation_kind=kind,
        member_state=state,
        roles=frozenset(roles),
        groups=frozenset(),
        surface="test",
    )


def _add(session: Session, cipher: FieldCipher, contributor: str, **data: Any) -> str:
    writer = RegistryWriter(session, cipher, Actor(contributor, "test:writer", "test"))
    fields: dict[str, Any] = {"identity": {"names": [{"value": "Aigerim N."}]}, **data}
    person_id = writer.add_person(PersonIn.model_validate(fields))
    writer.flush()
    return person_id


def _audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.fixture
def orgs(session: Session, cipher: FieldCipher) -> dict[str, str]:
    return {
        "ngo": create_organisation(
            session, cipher, NewOrganisation("NGO A", ContributorKind.NGO), actor="t"
        ),
        "other": create_organisation(
            session, cipher, NewOrganisation("NGO B", ContributorKind.NGO), actor="t"
        ),
        "authority": create_organisation(
            session, cipher, NewOrganisation("BKA", ContributorKind.AUTHORITY, "DE"), actor="t"
        ),
    }


def test_an_amber_strict_person_is_seen_by_its_organisation_alone(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    person_id = _add(session, cipher, orgs["ngo"], tlp="amber+strict")
    own = _reader(orgs["ngo"], ContributorKind.NGO, Role.CASEWORKER)
    other = _reader(orgs["other"], ContributorKind.NGO, Role.CASEWORKER)
    assert [v.person.id for v in list_people(session, cipher, own, PersonFilter())[0]] == [
        person_id
    ]
    assert list_people(session, cipher, other, PersonFilter()) == ([], None)
    with pytest.raises(NotFound) as hidden:
        get_person(session, cipher, other, person_id)
    with pytest.raises(NotFound) as missing:
        get_person(session, cipher, other, new_id())
    with pytest.raises(NotFound) as malformed:
        get_person(session, cipher, other, "not-an-id")
    assert hidden.value.message == missing.value.message == malformed.value.message


def test_identity_only_in_the_detail_for_identity_roles_and_every_read_audited(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    person_id = _add(session, cipher, orgs["ngo"], tlp="green")
    caseworker = _reader(orgs["other"], ContributorKind.NGO, Role.CASEWORKER)
    analyst = _reader(orgs["other"], ContributorKind.NGO, Role.ANALYST)
    before = _audit_count(session)

    views, _ = list_people(session, cipher, caseworker, PersonFilter())
    assert [v.identity for v in views] == [None]
    assert get_person(session, cipher, analyst, person_id).identity is None
    assert _audit_count(session) == before

    identity = get_person(session, cipher, caseworker, person_id).identity
    assert identity is not None
    assert identity.names[0].value == "Aigerim N."
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert (entry.actor, entry.action, entry.entity, entry.entity_id, entry.surface) == (
        caseworker.actor,
        "read",
        "people",
        person_id,
        "test",
    )
    assert _audit_count(session) == before + 1


def test_a_person_without_identity_is_read_without_an_audit_entry(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    person_id = _add(session, cipher, orgs["ngo"], identity=None, tlp="green")
    before = _audit_count(session)
    reader = _reader(orgs["ngo"], ContributorKind.NGO, Role.COORDINATOR)
    assert get_person(session, cipher, reader, person_id).identity is None
    assert _audit_count(session) == before


def test_the_public_sees_clear_people_without_identity(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    clear = _add(session, cipher, orgs["ngo"], tlp="clear")
    _add(session, cipher, orgs["ngo"], tlp="green")
    public = Reader.public("test")
    views, _ = list_people(session, cipher, public, PersonFilter())
    assert [v.person.id for v in views] == [clear]
    assert get_person(session, cipher, public, clear).identity is None


def test_consent_limits_an_authority_and_a_revocation_counts_at_once(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    person_id = _add(session, cipher, orgs["ngo"], tlp="green")
    authority = _reader(orgs["authority"], ContributorKind.AUTHORITY, Role.CASEWORKER, state="DE")
    assert get_person(session, cipher, authority, person_id).person.id == person_id

    set_consent(session, person_id, RecipientKind.NGO, True, actor="t")
    with pytest.raises(NotFound):
        get_person(session, cipher, authority, person_id)
    set_consent(session, person_id, RecipientKind.AUTHORITY, True, actor="t", member_state="FR")
    with pytest.raises(NotFound):
        get_person(session, cipher, authority, person_id)
    set_consent(session, person_id, RecipientKind.AUTHORITY, True, actor="t", member_state="DE")
    assert get_person(session, cipher, authority, person_id).person.id == person_id

    set_consent(session, person_id, RecipientKind.AUTHORITY, False, actor="t", member_state="DE")
    assert list_people(session, cipher, authority, PersonFilter()) == ([], None)
    own = _reader(orgs["ngo"], ContributorKind.NGO, Role.ANALYST)
    assert get_person(session, cipher, own, person_id).person.id == person_id


def test_filters_and_pages_newest_first(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    ids = [
        _add(
            session,
            cipher,
            orgs["ngo"],
            nationality="KZ" if n % 2 else "TJ",
            profile="journalist" if n < 3 else "activist",
            tlp="green" if n != 4 else "clear",
        )
        for n in range(5)
    ]
    reader = _reader(orgs["other"], ContributorKind.NGO, Role.ANALYST)

    def ids_of(filters: PersonFilter) -> list[str]:
        return [v.person.id for v in list_people(session, cipher, reader, filters)[0]]

    assert ids_of(PersonFilter(nationality="KZ")) == [ids[3], ids[1]]
    assert ids_of(PersonFilter(profile="journalist")) == [ids[2], ids[1], ids[0]]
    assert ids_of(PersonFilter(tlp=Tlp.CLEAR)) == [ids[4]]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        views, cursor = list_people(session, cipher, reader, PersonFilter(), after=cursor, limit=2)
        seen.extend(v.person.id for v in views)
        if cursor is None:
            break
    assert seen == ids[::-1]
    with pytest.raises(ValidationFailed):
        list_people(session, cipher, reader, PersonFilter(), after="garbage")


def test_readers_without_a_record_role_see_nobody(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    person_id = _add(session, cipher, orgs["ngo"], tlp="clear")
    auditor = _reader(orgs["ngo"], ContributorKind.NGO, Role.AUDITOR)
    assert list_people(session, cipher, auditor, PersonFilter()) == ([], None)
    with pytest.raises(NotFound):
        get_person(session, cipher, replace(auditor, roles=frozenset()), person_id)
