from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update

from haven.audit.records import check_records
from haven.registry.models import Incident, IncidentTactic, Organisation, Person
from haven.registry.schemas import IncidentIn, OrganisationIn, PersonIn
from haven.runtime import Runtime


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
    with runtime.reading() as session:
        found = [d.describe() for d in check_records(session, runtime.cipher())]
    assert found == [f"organisations record {organisation_id} was removed outside Haven"]


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
    with runtime.reading() as session:
        assert list(check_records(session, runtime.cipher())) == []
