from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from haven.audit.chain import verify
from haven.audit.models import AuditEntry
from haven.crypto.fields import FieldCipher
from haven.db.base import Base
from haven.demo.generator import (
    DEMO_CONTRIBUTORS,
    ORIGIN_WEIGHTS,
    DemoSummary,
    IncidentFactory,
    PersonFactory,
    fill,
)
from haven.domain.enums import PersonRole
from haven.domain.taxonomy import load_taxonomy
from haven.registry.models import (
    Contributor,
    Evidence,
    Incident,
    IncidentEvidence,
    IncidentInstrument,
    IncidentOrganisation,
    IncidentPerson,
    IncidentTactic,
    LegalInstrument,
    Organisation,
    Person,
    PersonLookup,
)
from haven.registry.schemas import IncidentIn, parse
from haven.registry.sealed import read_identity
from haven.runtime import Runtime

AUDITED = (
    Incident,
    Person,
    Organisation,
    LegalInstrument,
    Evidence,
    IncidentPerson,
    IncidentOrganisation,
    IncidentInstrument,
    IncidentEvidence,
)


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _fill(runtime: Runtime, cipher: FieldCipher, incidents: int, seed: int) -> DemoSummary:
    with runtime.transaction() as session:
        return fill(session, cipher, incidents, seed=seed)


def _identifying_values(session: Session, cipher: FieldCipher) -> tuple[int, set[str]]:
    """Every name, birth date, contact, address and document number of every person."""
    person_ids = list(session.scalars(select(Person.id)))
    values: set[str] = set()
    for person_id in person_ids:
        identity = read_identity(session, cipher, person_id)
        assert identity is not None
        values.update(name.value for name in identity.names)
        values.update(identity.contact)
        values.update(document.number for document in identity.documents)
        if identity.address is not None:
            values.add(identity.address)
        if identity.date_of_birth is not None:
            values.add(identity.date_of_birth.isoformat())
    return len(person_ids), values


def _as_text(value: Any) -> Iterator[str]:
    if isinstance(value, bytes | memoryview):
        yield bytes(value).decode("utf-8", errors="ignore")
    elif isinstance(value, dict | list):
        yield json.dumps(value, ensure_ascii=False)
        yield str(value)
    elif value is not None:
        yield str(value)


def _dump_every_table(session: Session) -> str:
    in_database = set(inspect(session.connection()).get_table_names()) - {"alembic_version"}
    assert in_database == set(Base.metadata.tables)  # the scan misses no table
    parts: list[str] = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(text(f'SELECT * FROM "{table.name}"')):
            for value in row:
                parts.extend(_as_text(value))
    return "\n".join(parts)


def test_demo_data_holds_no_identifying_value_in_readable_form(
    runtime: Runtime, cipher: FieldCipher, database_url: str, dialect: str
) -> None:
    _fill(runtime, cipher, 60, seed=7)

    with runtime.transaction() as session:
        people, values = _identifying_values(session, cipher)
        titles = set(session.scalars(select(Incident.title)))
        dump = _dump_every_table(session)

    # The check must not pass for want of data, or because the scan sees nothing.
    assert people >= 60
    assert len(values) >= 100
    assert titles
    assert all(title in dump for title in titles)
    assert all(name in dump for name, _, _ in DEMO_CONTRIBUTORS)
    leaked = sorted(value for value in values if value in dump)
    assert leaked == []

    if dialect != "sqlite":
        return
    runtime.close()  # checkpoints the write-ahead log into the database file
    path = Path(str(make_url(database_url).database))
    files = [path, path.with_name(path.name + "-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert len(raw) > 100_000
    assert all(title.encode() in raw for title in titles)
    leaked = sorted(value for value in values if value.encode("utf-8") in raw)
    assert leaked == []


def test_the_incident_factory_is_deterministic_for_a_seed() -> None:
    factory_a, factory_b = IncidentFactory(7), IncidentFactory(7)
    first = [factory_a.incident(i) for i in range(50)]
    again = [factory_b.incident(i) for i in range(50)]
    other = list(IncidentFactory(8).incidents(50))

    assert first == again
    assert first != other
    for data in first:
        parse(IncidentIn, data)  # every generated incident is valid input


def test_the_person_factory_is_deterministic_for_a_seed() -> None:
    def people(seed: int) -> list[dict[str, Any]]:
        factory = PersonFactory(random.Random(seed))
        return [factory.person(origin, "journalist") for origin in ORIGIN_WEIGHTS]

    assert people(8) == people(8)
    assert people(8) != people(9)


def test_fill_writes_the_incidents_its_seed_describes(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    _fill(runtime, cipher, 25, seed=7)

    def key(data: IncidentIn) -> tuple[Any, ...]:
        return (data.title, data.origin_state, data.host_state, data.occurred.start)

    expected = sorted(key(parse(IncidentIn, d)) for d in IncidentFactory(7).incidents(25))
    other = sorted(key(parse(IncidentIn, d)) for d in IncidentFactory(8).incidents(25))
    with runtime.transaction() as session:
        stored = sorted(
            tuple(row)
            for row in session.execute(
                select(
                    Incident.title,
                    Incident.origin_state,
                    Incident.host_state,
                    Incident.occurred_start,
                )
            )
        )

    assert stored == expected
    assert stored != other


def test_fill_covers_the_whole_taxonomy_and_many_countries(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    summary = _fill(runtime, cipher, 30, seed=7)

    with runtime.transaction() as session:
        tactics = set(session.scalars(select(IncidentTactic.tactic)))
        pairs = session.execute(select(Incident.origin_state, Incident.host_state)).all()
        assert _count(session, Incident) == 30
        assert _count(session, Person) == summary.people

    assert summary.incidents == 30
    assert tactics == load_taxonomy().tactic_codes
    origins = {origin for origin, _ in pairs}
    hosts = {host for _, host in pairs}
    assert len(origins) >= 3
    assert len(hosts) >= 3
    assert origins <= set(ORIGIN_WEIGHTS)
    assert all(origin != host for origin, host in pairs)


def test_fill_links_relatives_targeted_by_proxy_to_the_person_aimed_at(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    _fill(runtime, cipher, 30, seed=7)

    with runtime.transaction() as session:
        links = session.scalars(select(IncidentPerson)).all()
        proxied = set(
            session.scalars(
                select(IncidentTactic.incident_id).where(
                    IncidentTactic.tactic == "coercion-by-proxy"
                )
            )
        )

    relatives = [link for link in links if link.role is PersonRole.RELATIVE_TARGETED]
    targets = {
        (link.incident_id, link.person_id) for link in links if link.role is PersonRole.TARGET
    }
    assert relatives
    assert {link.incident_id for link in relatives} == proxied
    for link in relatives:
        assert link.on_behalf_of_id is not None
        assert link.on_behalf_of_id != link.person_id
        assert (link.incident_id, link.on_behalf_of_id) in targets
        assert link.relationship
    others = [link for link in links if link.role is not PersonRole.RELATIVE_TARGETED]
    assert all(link.on_behalf_of_id is None for link in others)


def test_fill_writes_instruments_and_evidence_linked_to_incidents(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    _fill(runtime, cipher, 30, seed=7)

    with runtime.transaction() as session:
        instruments = session.scalars(select(LegalInstrument)).all()
        evidence = session.scalars(select(Evidence)).all()
        instrument_links = set(session.scalars(select(IncidentInstrument.instrument_id)))
        evidence_links = set(session.scalars(select(IncidentEvidence.evidence_id)))
        perpetrators = _count(session, IncidentOrganisation)

    assert instruments
    assert evidence
    assert {i.id for i in instruments} == instrument_links
    assert {e.id for e in evidence} == evidence_links
    assert all(i.subject_id is not None and i.reference is not None for i in instruments)
    assert all(e.filename is not None for e in evidence)
    assert perpetrators == 30


def test_fill_records_every_record_in_a_verifying_audit_chain(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    summary = _fill(runtime, cipher, 30, seed=7)

    with runtime.transaction() as session:
        verdict = verify(session)
        audited = sum(_count(session, model) for model in AUDITED)
        written = audited + _count(session, IncidentTactic) + _count(session, PersonLookup)
        entries = _count(session, AuditEntry)
        contributors = set(session.scalars(select(Contributor.name)))
        contributor_entries = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "contributors")
        )

    assert verdict.ok
    assert contributor_entries == len(DEMO_CONTRIBUTORS)
    assert verdict.checked == entries == audited + len(DEMO_CONTRIBUTORS)
    assert summary.rows == written
    assert {name for name, _, _ in DEMO_CONTRIBUTORS} <= contributors


def test_the_demo_command_fills_an_empty_registry_once(
    cli: Callable[..., Any], runtime: Runtime
) -> None:
    outcome = cli("demo", "--incidents", "20")

    assert outcome.code == 0, outcome.err
    assert "added 20 incidents" in outcome.out
    for name, _, _ in DEMO_CONTRIBUTORS:
        assert name in outcome.out

    again = cli("demo", "--incidents", "5", "--if-empty")

    assert again.code == 0, again.err
    assert "no demo data added" in again.out
    with runtime.transaction() as session:
        assert _count(session, Incident) == 20
        assert verify(session).ok
