"""Earlier versions through the policy gate: only of records the reader may see, every version,
without the fields the reader may not read, nothing of a version kept under a label that does not
reach the reader, and each decryption audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from builders import incident
from haven.access.accounts import NewOrganisation, create_organisation
from haven.access.history import record_history
from haven.access.policy import Reader
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id
from haven.domain.enums import ContributorKind, Role
from haven.errors import NotFound
from haven.registry.schemas import PersonIn, parse
from haven.registry.writer import Actor, RegistryWriter

OLD_NAME = "Dilnoza Karimova"
NARRATIVE = "Her brother in Tashkent was questioned about her articles."


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


def _writer(session: Session, cipher: FieldCipher, contributor: str) -> RegistryWriter:
    return RegistryWriter(session, cipher, Actor(contributor, "user:author", "test"))


def _person(name: str, **fields: Any) -> PersonIn:
    return parse(PersonIn, {"identity": {"names": [{"value": name}]}, **fields})


def _reads(session: Session) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read")
    return session.scalar(query) or 0


@pytest.fixture
def orgs(session: Session, cipher: FieldCipher) -> dict[str, str]:
    return {
        name: create_organisation(
            session, cipher, NewOrganisation(name, ContributorKind.NGO), actor="t"
        )
        for name in ("ngo", "other")
    }


def _incident_with_history(session: Session, cipher: FieldCipher, contributor: str) -> str:
    writer = _writer(session, cipher, contributor)
    incident_id = writer.add_incident(incident(narrative=NARRATIVE, host_state="de"))
    writer.replace_incident(incident_id, incident(narrative=NARRATIVE, host_state="fr"))
    again = incident(narrative="Questioned again.", host_state="fr", status="verified")
    writer.replace_incident(incident_id, again)
    return incident_id


def test_an_analyst_sees_every_version_without_narratives(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    incident_id = _incident_with_history(session, cipher, orgs["ngo"])
    analyst = _reader(orgs["other"], Role.ANALYST)
    reads = _reads(session)

    newer, older = record_history(session, cipher, analyst, "incidents", incident_id)

    assert (newer.number, older.number) == (2, 1)
    assert older.values["host_state"] == "DE"
    assert newer.values["host_state"] == "FR"
    assert older.changed == ("host_state",)
    assert newer.changed == ("narrative", "status")
    for version in (newer, older):
        assert "narrative" not in version.values
        assert version.withheld == ("narrative",)
        assert not version.restricted
        assert version.changed_by == "user:author"
    assert _reads(session) == reads  # nothing decrypted, nothing to record


def test_an_analyst_sees_a_renamed_person_without_any_name(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    writer = _writer(session, cipher, orgs["ngo"])
    person_id = writer.add_person(_person(OLD_NAME, profile="journalist", tlp="green"))
    writer.replace_person(person_id, _person("Dilnoza R.", profile="activist", tlp="green"))
    analyst = _reader(orgs["ngo"], Role.ANALYST)

    (version,) = record_history(session, cipher, analyst, "people", person_id)

    assert version.values["profile"] == "journalist"
    assert "identity" not in version.values
    assert "identity" in version.withheld
    assert version.changed == ("profile", "identity")
    assert OLD_NAME not in repr(version)


def test_a_caseworker_reads_the_earlier_name_and_narrative_and_each_read_is_audited(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    writer = _writer(session, cipher, orgs["ngo"])
    person_id = writer.add_person(_person(OLD_NAME, tlp="amber+strict"))
    writer.replace_person(person_id, _person("Dilnoza R.", tlp="amber+strict"))
    incident_id = _incident_with_history(session, cipher, orgs["ngo"])
    caseworker = _reader(orgs["ngo"], Role.CASEWORKER)

    (version,) = record_history(session, cipher, caseworker, "people", person_id)
    newer, older = record_history(session, cipher, caseworker, "incidents", incident_id)

    assert version.values["identity"]["names"] == [{"value": OLD_NAME}]
    assert version.withheld == ()
    assert older.values["narrative"] == newer.values["narrative"] == NARRATIVE
    audited = session.execute(
        select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.actor, AuditEntry.surface)
        .where(AuditEntry.action == "read")
        .order_by(AuditEntry.seq)
    ).all()
    assert [tuple(row) for row in audited] == [
        ("people", person_id, caseworker.actor, "test"),
        ("incidents", incident_id, caseworker.actor, "test"),
    ]


def test_a_reader_who_may_not_see_the_record_is_told_it_does_not_exist(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    writer = _writer(session, cipher, orgs["ngo"])
    incident_id = writer.add_incident(incident(tlp="amber+strict"))
    writer.replace_incident(incident_id, incident(tlp="amber+strict", title="Changed"))
    person_id = writer.add_person(_person(OLD_NAME, tlp="amber+strict"))
    writer.flush()
    outsider = _reader(orgs["other"], Role.CASEWORKER)

    answers = []
    for entity, record_id in [
        ("incidents", incident_id),
        ("incidents", new_id()),
        ("incidents", "not-an-id"),
    ]:
        with pytest.raises(NotFound) as refused:
            record_history(session, cipher, outsider, entity, record_id)
        answers.append(refused.value.message)
    with pytest.raises(NotFound) as person:
        record_history(session, cipher, outsider, "people", person_id)

    assert answers == ["no such incident"] * 3
    assert person.value.message == "no such person"
    own = _reader(orgs["ngo"], Role.ANALYST)
    assert len(record_history(session, cipher, own, "incidents", incident_id)) == 1


def test_a_version_kept_under_a_stricter_label_shows_nothing_to_those_it_did_not_reach(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    writer = _writer(session, cipher, orgs["ngo"])
    incident_id = writer.add_incident(
        incident(title="Raid on the Karimov family home", tlp="amber+strict")
    )
    writer.replace_incident(incident_id, incident(title="A raid on a family home", tlp="green"))
    writer.replace_incident(incident_id, incident(title="A raid", tlp="green"))
    other = _reader(orgs["other"], Role.CASEWORKER)
    own = _reader(orgs["ngo"], Role.ANALYST)

    green, strict = record_history(session, cipher, other, "incidents", incident_id)

    assert strict.restricted
    assert strict.values == {}
    assert {"title", "tlp", "host_state", "tactics"} <= set(strict.withheld)
    assert strict.changed == ("title", "tlp")
    assert not green.restricted
    assert green.values["title"] == "A raid on a family home"
    _, own_strict = record_history(session, cipher, own, "incidents", incident_id)
    assert not own_strict.restricted
    assert own_strict.values["title"] == "Raid on the Karimov family home"


def test_the_public_sees_only_what_was_public_and_not_who_wrote_it(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    writer = _writer(session, cipher, orgs["ngo"])
    incident_id = writer.add_incident(incident(title="Draft", tlp="green", narrative=NARRATIVE))
    writer.replace_incident(incident_id, incident(title="Published", tlp="clear"))
    writer.replace_incident(incident_id, incident(title="Corrected", tlp="clear"))
    public = Reader.public("test")
    reads = _reads(session)

    published, draft = record_history(session, cipher, public, "incidents", incident_id)

    assert draft.restricted
    assert draft.values == {}
    assert not published.restricted
    assert published.values["title"] == "Published"
    for version in (published, draft):
        assert version.changed_by is None
        assert {"contributed_by", "narrative"} <= set(version.withheld)
        assert "contributed_by" not in version.values
    assert _reads(session) == reads


def test_a_record_without_earlier_versions_has_an_empty_history(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    writer = _writer(session, cipher, orgs["ngo"])
    incident_id = writer.add_incident(incident())
    writer.flush()
    reader = _reader(orgs["other"], Role.ANALYST)
    assert record_history(session, cipher, reader, "incidents", incident_id) == []


def test_no_history_is_offered_of_tables_that_keep_none(
    session: Session, cipher: FieldCipher, orgs: dict[str, str]
) -> None:
    reader = _reader(orgs["ngo"], Role.COORDINATOR)
    with pytest.raises(NotFound):
        record_history(session, cipher, reader, "users", new_id())
