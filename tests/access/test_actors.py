"""Reading the registry's actor organisations through the policy gate."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from haven.access.accounts import NewOrganisation, create_organisation
from haven.access.actors import OrganisationFilter, get_organisation, list_organisations
from haven.access.policy import Reader
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id
from haven.domain.enums import ContributorKind, OrganisationKind, Role, Tlp
from haven.errors import NotFound, ValidationFailed
from haven.registry.schemas import OrganisationIn
from haven.registry.writer import Actor, RegistryWriter


def _reader(organisation_id: str, *roles: Role) -> Reader:
    return Reader(
        user_id=new_id(),
        organisation_id=organisation_id,
        organisation_kind=ContributorKind.NGO,
        member_state=None,
        roles=frozenset(roles),
        groups=frozenset(),
        surface="test",
    )


def _add(session: Session, cipher: FieldCipher, contributor: str, **data: Any) -> str:
    writer = RegistryWriter(session, cipher, Actor(contributor, "test:writer", "test"))
    fields: dict[str, Any] = {"name": "Ministry of State Security", "kind": "state-agency", **data}
    organisation_id = writer.add_organisation(OrganisationIn.model_validate(fields))
    writer.flush()
    return organisation_id


@pytest.fixture
def orgs(session: Session, cipher: FieldCipher) -> tuple[str, str]:
    return (
        create_organisation(
            session, cipher, NewOrganisation("NGO A", ContributorKind.NGO), actor="t"
        ),
        create_organisation(
            session, cipher, NewOrganisation("NGO B", ContributorKind.NGO), actor="t"
        ),
    )


def test_labels_decide_who_sees_an_organisation(
    session: Session, cipher: FieldCipher, orgs: tuple[str, str]
) -> None:
    mine, theirs = orgs
    strict = _add(session, cipher, mine, tlp="amber+strict")
    green = _add(session, cipher, mine, tlp="green")
    clear = _add(session, cipher, mine, tlp="clear")
    own, other = _reader(mine, Role.ANALYST), _reader(theirs, Role.CASEWORKER)
    public = Reader.public("test")

    def ids(reader: Reader) -> list[str]:
        return [row.id for row in list_organisations(session, reader, OrganisationFilter())[0]]

    assert ids(own) == [clear, green, strict]
    assert ids(other) == [clear, green]
    assert ids(public) == [clear]
    assert get_organisation(session, own, strict).id == strict
    with pytest.raises(NotFound) as hidden:
        get_organisation(session, other, strict)
    with pytest.raises(NotFound) as missing:
        get_organisation(session, other, new_id())
    with pytest.raises(NotFound) as malformed:
        get_organisation(session, other, "x' OR 1=1")
    assert hidden.value.message == missing.value.message == malformed.value.message
    with pytest.raises(NotFound):
        get_organisation(session, public, green)


def test_filters_and_pages_newest_first(
    session: Session, cipher: FieldCipher, orgs: tuple[str, str]
) -> None:
    mine, theirs = orgs
    added = [
        _add(session, cipher, mine, name="Vendor", kind="surveillance-vendor", country="IL"),
        _add(session, cipher, mine, name="Embassy", kind="state-agency", country="CN"),
        _add(session, cipher, mine, name="Proxy", kind="proxy", country="CN", tlp="clear"),
    ]
    reader = _reader(theirs, Role.ANALYST)

    def ids(filters: OrganisationFilter) -> list[str]:
        return [row.id for row in list_organisations(session, reader, filters)[0]]

    assert ids(OrganisationFilter(kind=OrganisationKind.SURVEILLANCE_VENDOR)) == [added[0]]
    assert ids(OrganisationFilter(country="CN")) == [added[2], added[1]]
    assert ids(OrganisationFilter(tlp=Tlp.CLEAR)) == [added[2]]

    first, cursor = list_organisations(session, reader, OrganisationFilter(), limit=2)
    assert [row.id for row in first] == [added[2], added[1]]
    assert cursor == added[1]
    last, end = list_organisations(session, reader, OrganisationFilter(), after=cursor, limit=2)
    assert ([row.id for row in last], end) == ([added[0]], None)
    with pytest.raises(ValidationFailed):
        list_organisations(session, reader, OrganisationFilter(), after="nope")
