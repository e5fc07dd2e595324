from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haven.audit.chain import record_digest, verify
from haven.audit.models import AuditEntry, AuditHead
from haven.crypto.fields import FieldCipher
from haven.domain.enums import (
    Accusation,
    DatePrecision,
    HostInvolvement,
    IncidentStatus,
    OrganisationKind,
    OrganisationRole,
    PersonRole,
    Relationship,
    Tlp,
)
from haven.domain.taxonomy import CURRENT_VERSION
from haven.errors import NotFound, ValidationFailed
from haven.registry import models
from haven.registry.contributors import SYSTEM_CONTRIBUTOR_ID
from haven.registry.schemas import (
    EvidenceIn,
    IncidentIn,
    InstrumentIn,
    OrganisationIn,
    PersonIn,
    parse,
)
from haven.registry.sealed import sealed_context
from haven.registry.state import stored_state
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _incident(index: int = 0, **changes: Any) -> IncidentIn:
    data: dict[str, Any] = {
        "title": f"Threats against a journalist #{index}",
        "narrative": "Calls to the family, then a summons — «вернись домой».",
        "narrative_language": "en",
        "occurred": {"start": "2023-05-01", "end": "2023-06-30", "precision": "range"},
        "reported_on": "2023-07-15",
        "origin_state": "ru",
        "host_state": "de",
        "other_places": [{"country": "fr", "locality": "Strasbourg"}, {"country": "at"}],
        "tactics": ["harassment", "coercion-by-proxy"],
        "host_involvement": "none",
        "accusation": "extremism",
        "state_responsibility": "state-ordered",
        "status": "under-review",
        "tlp": "amber+strict",
    }
    data.update(changes)
    return parse(IncidentIn, data)


def _person(name: str = "Ivan Petrov") -> PersonIn:
    return parse(PersonIn, {"identity": {"names": [{"value": name}]}, "profile": "journalist"})


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _entries(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _tactics(session: Session, incident_id: str) -> set[str]:
    return set(
        session.scalars(
            select(models.IncidentTactic.tactic).where(
                models.IncidentTactic.incident_id == incident_id
            )
        )
    )


def test_an_added_incident_round_trips_every_column(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(_incident())
    writer.flush()

    row = session.execute(
        select(models.Incident).where(models.Incident.id == incident_id)
    ).scalar_one()

    assert row.id == incident_id
    assert row.title == "Threats against a journalist #0"
    assert isinstance(row.narrative, bytes)
    context = sealed_context("incidents", "narrative", incident_id)
    narrative = writer.cipher.decrypt(row.narrative, context).decode()
    assert narrative == "Calls to the family, then a summons — «вернись домой»."
    assert row.narrative_language == "en"
    assert row.occurred_start == date(2023, 5, 1)
    assert row.occurred_end == date(2023, 6, 30)
    assert row.occurred_precision is DatePrecision.RANGE
    assert row.reported_on == date(2023, 7, 15)
    assert row.origin_state == "RU"
    assert row.host_state == "DE"
    assert row.other_places == [{"country": "FR", "locality": "Strasbourg"}, {"country": "AT"}]
    assert row.host_involvement is HostInvolvement.NONE
    assert row.accusation is Accusation.EXTREMISM
    assert row.state_responsibility == "state-ordered"
    assert row.status is IncidentStatus.UNDER_REVIEW
    assert row.tlp is Tlp.AMBER_STRICT
    assert row.taxonomy_version == CURRENT_VERSION
    assert row.contributor_id == writer.actor.contributor_id
    assert row.contributed_by == "test:writer"
    assert row.contributed_at.tzinfo is not None
    # The writer stamps a batch with one time, taken when it was made or last flushed.
    assert datetime.now(UTC) - timedelta(minutes=1) <= row.contributed_at <= datetime.now(UTC)
    assert row.updated_at == row.contributed_at
    assert _tactics(session, incident_id) == {"harassment", "coercion-by-proxy"}


def test_optional_incident_columns_round_trip_as_empty(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(
        parse(
            IncidentIn,
            {
                "title": "Minimal",
                "occurred": {"start": "2020-02-01", "precision": "month"},
                "origin_state": "TR",
                "tactics": ["spyware"],
            },
        )
    )
    writer.flush()

    row = session.get_one(models.Incident, incident_id)

    assert row.occurred_end is None
    assert row.occurred_precision is DatePrecision.MONTH
    assert row.host_state is None
    assert row.other_places == []
    assert row.accusation is None
    assert row.state_responsibility is None
    assert row.narrative is None
    assert row.host_involvement is HostInvolvement.UNKNOWN
    assert row.status is IncidentStatus.REPORTED
    assert row.tlp is Tlp.AMBER


def test_nothing_is_written_before_a_flush_when_the_batch_is_not_full(
    writer: RegistryWriter, session: Session
) -> None:
    writer.add_incident(_incident())

    assert _count(session, models.Incident) == 0
    assert _count(session, AuditEntry) == 0

    writer.flush()

    assert _count(session, models.Incident) == 1
    assert _count(session, AuditEntry) == 1


def test_each_created_record_appends_a_create_entry_and_the_chain_verifies(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(_incident())
    person_id = writer.add_person(_person())
    organisation_id = writer.add_organisation(
        parse(OrganisationIn, {"name": "Intelligence Directorate", "kind": "state-agency"})
    )
    person_link = writer.link_person(incident_id, person_id, PersonRole.TARGET)
    organisation_link = writer.link_organisation(
        incident_id, organisation_id, OrganisationRole.PERPETRATOR
    )
    writer.flush()

    entries = _entries(session)

    assert [(e.entity, e.entity_id) for e in entries] == [
        ("incidents", incident_id),
        ("people", person_id),
        ("organisations", organisation_id),
        ("incident_people", person_link),
        ("incident_organisations", organisation_link),
    ]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    for entry in entries:
        assert entry.action == "create"
        assert entry.actor == "test:writer"
        assert entry.surface == "test"
        assert entry.before_digest is None
        assert entry.after_digest is not None
        assert HEX64.match(entry.after_digest)
    assert len({e.after_digest for e in entries}) == len(entries)
    verdict = verify(session)
    assert verdict.ok
    assert verdict.checked == 5


def test_an_incident_create_digest_is_the_digest_of_its_stored_state(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    incident_id = writer.add_incident(_incident())
    writer.flush()

    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == incident_id)).one()

    stored = stored_state(session, cipher, models.Incident, incident_id)
    assert entry.after_digest == record_digest(cipher, "incidents", stored)


def test_the_audit_log_holds_no_readable_content(writer: RegistryWriter, session: Session) -> None:
    writer.add_incident(_incident())
    writer.add_person(_person("Ivan Petrov"))
    writer.flush()

    columns = [column.key for column in AuditEntry.__table__.columns]
    entries = _entries(session)
    text = " ".join(str(getattr(entry, column)) for entry in entries for column in columns)

    assert len(entries) == 2
    assert "incidents" in text  # the scan reads the entries' columns
    assert "Ivan" not in text
    assert "Petrov" not in text
    assert "Threats" not in text


def test_a_relative_targeted_by_proxy_is_linked_with_the_person_aimed_at(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(_incident())
    target_id = writer.add_person(_person("Ivan Petrov"))
    relative_id = writer.add_person(_person("Anna Petrova"))
    writer.link_person(incident_id, target_id, PersonRole.TARGET)
    link_id = writer.link_person(
        incident_id,
        relative_id,
        PersonRole.RELATIVE_TARGETED,
        on_behalf_of=target_id,
        relationship=Relationship.PARENT,
    )
    writer.flush()

    link = session.get_one(models.IncidentPerson, link_id)

    assert link.role is PersonRole.RELATIVE_TARGETED
    assert link.person_id == relative_id
    assert link.on_behalf_of_id == target_id
    assert link.relationship is Relationship.PARENT
    assert link.contributed_by == "test:writer"


def test_a_relative_targeted_by_proxy_without_on_behalf_of_is_refused(
    writer: RegistryWriter,
) -> None:
    incident_id = writer.add_incident(_incident())
    relative_id = writer.add_person(_person())

    with pytest.raises(ValidationFailed, match="on_behalf_of"):
        writer.link_person(incident_id, relative_id, PersonRole.RELATIVE_TARGETED)


@pytest.mark.parametrize(
    "role", [role for role in PersonRole if role is not PersonRole.RELATIVE_TARGETED]
)
def test_other_roles_refuse_on_behalf_of(writer: RegistryWriter, role: PersonRole) -> None:
    incident_id = writer.add_incident(_incident())
    person_id = writer.add_person(_person("Ivan Petrov"))
    other_id = writer.add_person(_person("Anna Petrova"))

    with pytest.raises(ValidationFailed, match="on_behalf_of"):
        writer.link_person(incident_id, person_id, role, on_behalf_of=other_id)


def test_a_refused_link_writes_nothing(writer: RegistryWriter, session: Session) -> None:
    incident_id = writer.add_incident(_incident())
    person_id = writer.add_person(_person())
    with pytest.raises(ValidationFailed):
        writer.link_person(incident_id, person_id, PersonRole.RELATIVE_TARGETED)
    writer.flush()

    assert _count(session, models.IncidentPerson) == 0
    assert {e.entity for e in _entries(session)} == {"incidents", "people"}
    assert verify(session).ok


def test_linking_a_person_that_does_not_exist_raises_not_found(
    writer: RegistryWriter,
) -> None:
    incident_id = writer.add_incident(_incident())
    writer.flush()

    with pytest.raises(NotFound):
        writer.link_person(incident_id, "0190a5c2-0000-7000-8000-000000000000", PersonRole.TARGET)


def test_linking_on_behalf_of_a_person_that_does_not_exist_raises_not_found(
    writer: RegistryWriter,
) -> None:
    incident_id = writer.add_incident(_incident())
    relative_id = writer.add_person(_person())
    writer.flush()

    with pytest.raises(NotFound):
        writer.link_person(
            incident_id,
            relative_id,
            PersonRole.RELATIVE_TARGETED,
            on_behalf_of="0190a5c2-0000-7000-8000-000000000000",
        )


def test_linking_to_an_incident_that_does_not_exist_raises_not_found(
    writer: RegistryWriter,
) -> None:
    person_id = writer.add_person(_person())

    with pytest.raises(NotFound):
        writer.link_person("0190a5c2-0000-7000-8000-000000000000", person_id, PersonRole.TARGET)


def test_a_person_written_in_an_earlier_flush_can_be_linked(
    writer: RegistryWriter, session: Session
) -> None:
    person_id = writer.add_person(_person())
    writer.flush()
    incident_id = writer.add_incident(_incident())
    writer.link_person(incident_id, person_id, PersonRole.WITNESS)
    writer.flush()

    assert _count(session, models.IncidentPerson) == 1


def test_replace_incident_changes_the_row_and_tactics_and_appends_an_update(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(_incident())
    writer.flush()
    original = session.get_one(models.Incident, incident_id)
    contributed_at = original.contributed_at
    session.expunge(original)

    writer.replace_incident(
        incident_id,
        _incident(
            title="Threats against a journalist, verified",
            occurred={"start": "2023-05-01"},
            origin_state="by",
            host_state="lt",
            other_places=[],
            tactics=["spyware", "doxing"],
            accusation=None,
            status="verified",
            tlp="green",
        ),
    )

    row = session.get_one(models.Incident, incident_id)
    assert row.title == "Threats against a journalist, verified"
    assert row.occurred_precision is DatePrecision.DAY
    assert row.occurred_end is None
    assert (row.origin_state, row.host_state) == ("BY", "LT")
    assert row.other_places == []
    assert row.accusation is None
    assert row.status is IncidentStatus.VERIFIED
    assert row.tlp is Tlp.GREEN
    assert row.contributed_at == contributed_at
    assert row.contributed_by == "test:writer"
    assert row.updated_at > contributed_at
    assert _tactics(session, incident_id) == {"spyware", "doxing"}
    assert _count(session, models.IncidentTactic) == 2

    create, change = _entries(session)
    assert change.action == "update"
    assert change.entity == "incidents"
    assert change.entity_id == incident_id
    assert change.before_digest is not None
    assert change.after_digest is not None
    assert HEX64.match(change.before_digest)
    assert HEX64.match(change.after_digest)
    assert change.before_digest != change.after_digest
    assert change.before_digest == create.after_digest
    assert verify(session).ok


def test_a_second_replace_starts_from_the_first_replacement(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(_incident())
    writer.flush()
    writer.replace_incident(incident_id, _incident(title="Second version"))
    writer.replace_incident(incident_id, _incident(title="Third version"))

    _, first, second = _entries(session)

    assert second.before_digest == first.after_digest
    assert session.get_one(models.Incident, incident_id).title == "Third version"
    assert verify(session).checked == 3


def test_replacing_an_incident_with_identical_content_records_equal_digests(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(_incident())
    writer.flush()

    writer.replace_incident(incident_id, _incident())

    change = _entries(session)[-1]
    assert change.action == "update"
    assert change.before_digest is not None
    assert change.before_digest == change.after_digest


def test_replacing_an_incident_that_does_not_exist_raises_not_found(
    writer: RegistryWriter,
) -> None:
    with pytest.raises(NotFound):
        writer.replace_incident("0190a5c2-0000-7000-8000-000000000000", _incident())


def _write_then_fail(runtime: Runtime, cipher: FieldCipher) -> None:
    with runtime.transaction() as session:
        actor = Actor(SYSTEM_CONTRIBUTOR_ID, "test:failing", "test")
        writer = RegistryWriter(session, cipher, actor, batch_rows=10)
        for index in range(30):
            incident_id = writer.add_incident(_incident(index))
            writer.link_person(incident_id, writer.add_person(_person()), PersonRole.TARGET)
        # The batches already reached the database inside this transaction.
        assert _count(session, models.Incident) > 0
        assert _count(session, AuditEntry) > 0
        raise RuntimeError("failure half-way")


def test_a_transaction_that_fails_half_way_leaves_nothing_written(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    with pytest.raises(RuntimeError, match="failure half-way"):
        _write_then_fail(runtime, cipher)

    with runtime.transaction() as session:
        for model in (
            models.Incident,
            models.IncidentTactic,
            models.Person,
            models.PersonLookup,
            models.IncidentPerson,
            AuditEntry,
        ):
            assert _count(session, model) == 0, model.__tablename__
        head = session.execute(select(AuditHead.seq)).scalar_one()
        assert head == 0
        verdict = verify(session)
        assert verdict.ok
        assert verdict.checked == 0


def test_the_chain_continues_after_a_failed_transaction(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    with pytest.raises(RuntimeError):
        _write_then_fail(runtime, cipher)

    with runtime.transaction() as session:
        writer = RegistryWriter(session, cipher, Actor(SYSTEM_CONTRIBUTOR_ID, "test:after", "test"))
        writer.add_incident(_incident())
        writer.flush()

    with runtime.transaction() as session:
        entries = _entries(session)
        assert [e.seq for e in entries] == [1]
        assert verify(session).ok


def test_a_small_batch_writer_writes_300_incidents_with_300_audit_entries(
    session: Session, cipher: FieldCipher
) -> None:
    actor = Actor(SYSTEM_CONTRIBUTOR_ID, "test:bulk", "import")
    writer = RegistryWriter(session, cipher, actor, batch_rows=50)
    ids = [writer.add_incident(_incident(index)) for index in range(300)]
    # Batches of 50 rows are written as they fill, before any explicit flush.
    assert _count(session, models.Incident) > 0
    writer.flush()

    assert _count(session, models.Incident) == 300
    assert _count(session, models.IncidentTactic) == 600
    entries = _entries(session)
    assert len(entries) == 300
    assert {e.entity_id for e in entries} == set(ids)
    assert {(e.action, e.entity) for e in entries} == {("create", "incidents")}
    verdict = verify(session)
    assert verdict.ok
    assert verdict.checked == 300
    assert writer.written == 900


def test_one_flush_of_many_records_uses_the_bulk_audit_path_and_verifies(
    session: Session, cipher: FieldCipher
) -> None:
    actor = Actor(SYSTEM_CONTRIBUTOR_ID, "test:bulk", "import")
    writer = RegistryWriter(session, cipher, actor)
    for index in range(600):
        writer.add_incident(_incident(index, tactics=["harassment"]))
    assert _count(session, models.Incident) == 0
    writer.flush()

    assert _count(session, models.Incident) == 600
    assert _count(session, AuditEntry) == 600
    verdict = verify(session)
    assert verdict.ok
    assert verdict.checked == 600


def test_a_bulk_written_incident_reads_back_like_a_single_one(
    session: Session, cipher: FieldCipher
) -> None:
    writer = RegistryWriter(
        session, cipher, Actor(SYSTEM_CONTRIBUTOR_ID, "test:bulk"), batch_rows=7
    )
    ids = [writer.add_incident(_incident(index)) for index in range(20)]
    writer.flush()

    for index, incident_id in enumerate(ids):
        row = session.get_one(models.Incident, incident_id)
        assert row.title == f"Threats against a journalist #{index}"
        assert row.other_places == [
            {"country": "FR", "locality": "Strasbourg"},
            {"country": "AT"},
        ]
        assert row.accusation is Accusation.EXTREMISM
        assert _tactics(session, incident_id) == {"harassment", "coercion-by-proxy"}


def test_organisations_keep_their_kind_country_and_aliases(
    writer: RegistryWriter, session: Session
) -> None:
    organisation_id = writer.add_organisation(
        parse(
            OrganisationIn,
            {
                "name": "Ministry of State Security",
                "kind": "state-agency",
                "country": "cn",
                "aliases": ["MSS", "国家安全部"],
            },
        )
    )
    writer.flush()

    row = session.get_one(models.Organisation, organisation_id)

    assert row.kind is OrganisationKind.STATE_AGENCY
    assert row.country == "CN"
    assert row.aliases == ["MSS", "国家安全部"]
    assert row.tlp is Tlp.GREEN


def test_linking_an_instrument_and_evidence_appends_create_entries(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(_incident())
    person_id = writer.add_person(_person())
    instrument_id = writer.add_instrument(
        parse(
            InstrumentIn,
            {
                "kind": "red-notice",
                "issuing_state": "ru",
                "subject_id": person_id,
                "reference": "A-1234/5-2023",
            },
        )
    )
    evidence_id = writer.add_evidence(
        parse(
            EvidenceIn,
            {
                "filename": "summons.pdf",
                "media_type": "application/pdf",
                "size_bytes": 52_000,
                "sha256": "3c" * 32,
                "acquired_at": datetime(2023, 7, 15, 9, 30, tzinfo=UTC),
                "acquisition_method": "submitted-by-reporter",
                "acquired_by": "Exile Legal Aid",
            },
        )
    )
    writer.link_instrument(incident_id, instrument_id)
    writer.link_evidence(incident_id, evidence_id)
    writer.flush()

    instrument_link = session.get_one(models.IncidentInstrument, (incident_id, instrument_id))
    evidence_link = session.get_one(models.IncidentEvidence, (incident_id, evidence_id))
    assert instrument_link.contributed_by == evidence_link.contributed_by == "test:writer"
    entries = _entries(session)
    assert [e.entity for e in entries] == [
        "incidents",
        "people",
        "legal_instruments",
        "evidence",
        "incident_instruments",
        "incident_evidence",
    ]
    assert all(e.action == "create" and e.after_digest for e in entries)
    assert verify(session).checked == 6


def test_linking_evidence_that_does_not_exist_raises_not_found(
    writer: RegistryWriter,
) -> None:
    incident_id = writer.add_incident(_incident())

    with pytest.raises(NotFound):
        writer.link_evidence(incident_id, "0190a5c2-0000-7000-8000-000000000000")
