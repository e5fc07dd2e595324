"""Earlier versions kept by the writer: what a replacement keeps, that it stays encrypted, that
nothing in Haven can change or remove it, and that key rotation carries it along."""

from __future__ import annotations

import threading
import time
from base64 import b64decode
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Executable, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from builders import incident
from haven.crypto.fields import FieldCipher
from haven.errors import NotFound
from haven.registry import models
from haven.registry.contributors import SYSTEM_CONTRIBUTOR_ID
from haven.registry.history import RecordVersion
from haven.registry.schemas import (
    EvidenceIn,
    InstrumentIn,
    OrganisationIn,
    PersonIn,
    parse,
)
from haven.registry.sealed import key_numbers_in_use, reencrypt_all, sealed_context
from haven.registry.writer import Actor, RegistryWriter
from haven.runtime import Runtime

OLD_NAME = "Dilnoza Karimova"
NEW_NAME = "Dilnoza Rashidova"
OLD_NARRATIVE = "Her brother in Tashkent was questioned about her articles."


def _versions(session: Session, record_id: str) -> list[RecordVersion]:
    return list(
        session.scalars(
            select(RecordVersion)
            .where(RecordVersion.record_id == record_id)
            .order_by(RecordVersion.version)
        )
    )


def _person(name: str, **fields: Any) -> PersonIn:
    return parse(PersonIn, {"identity": {"names": [{"value": name}]}, **fields})


def test_a_relabel_and_a_new_host_state_keep_the_earlier_label_and_host(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(incident(tlp="amber", host_state="de"))
    writer.flush()
    stored = session.get(models.Incident, incident_id)
    assert stored is not None
    first_written = stored.updated_at

    writer.replace_incident(incident_id, incident(tlp="green", host_state="fr"))

    (kept,) = _versions(session, incident_id)
    assert (kept.entity, kept.version) == ("incidents", 1)
    assert kept.state["tlp"] == "amber"
    assert kept.state["host_state"] == "DE"
    assert kept.state["title"] == "An incident"
    assert kept.state["tactics"] == ["harassment"]
    assert kept.state["updated_at"] == first_written.isoformat()
    assert kept.changed == ["host_state", "tlp"]
    assert kept.changed_by == "test:writer"
    session.refresh(stored)
    assert kept.changed_at == stored.updated_at
    assert (stored.tlp.value, stored.host_state) == ("green", "FR")


def test_each_replacement_keeps_the_state_the_one_before_left(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(incident(title="First", tactics=["harassment"]))
    writer.replace_incident(incident_id, incident(title="Second", tactics=["intimidation"]))
    writer.replace_incident(incident_id, incident(title="Third", status="verified"))

    first, second = _versions(session, incident_id)
    assert (first.version, first.state["title"], first.state["tactics"]) == (
        1,
        "First",
        ["harassment"],
    )
    assert first.changed == ["title", "tactics"]
    assert (second.version, second.state["title"], second.state["tactics"]) == (
        2,
        "Second",
        ["intimidation"],
    )
    assert second.changed == ["title", "status", "tactics"]


def test_a_replacement_that_changes_nothing_keeps_a_version_naming_no_field(
    writer: RegistryWriter, session: Session
) -> None:
    incident_id = writer.add_incident(incident(narrative=OLD_NARRATIVE))
    writer.replace_incident(incident_id, incident(narrative=OLD_NARRATIVE))

    (kept,) = _versions(session, incident_id)
    # The narrative is encrypted afresh, yet the same text: no change.
    assert kept.changed == []


def test_a_renamed_person_keeps_the_earlier_name_encrypted_and_nowhere_readable(
    writer: RegistryWriter,
    session: Session,
    cipher: FieldCipher,
    dump_tables: Callable[[Session], str],
) -> None:
    person_id = writer.add_person(_person(OLD_NAME, profile="journalist"))
    writer.flush()
    stored = session.get(models.Person, person_id)
    assert stored is not None
    ciphertext = stored.identity
    assert ciphertext is not None

    writer.replace_person(person_id, _person(NEW_NAME, profile="journalist"))

    (kept,) = _versions(session, person_id)
    assert kept.changed == ["identity"]
    assert "identity" not in kept.state
    assert b64decode(kept.sealed["identity"] or "") == ciphertext  # exactly as it was stored
    context = sealed_context("people", "identity", person_id)
    assert OLD_NAME in cipher.decrypt(b64decode(kept.sealed["identity"] or ""), context).decode()
    dump = dump_tables(session)
    assert OLD_NAME not in dump
    assert NEW_NAME not in dump
    assert "Karimova" not in dump


def test_an_incident_narrative_is_kept_as_its_ciphertext(
    writer: RegistryWriter, session: Session, dump_tables: Callable[[Session], str]
) -> None:
    incident_id = writer.add_incident(incident(narrative=OLD_NARRATIVE))
    writer.replace_incident(incident_id, incident(narrative="Nothing more is known."))

    (kept,) = _versions(session, incident_id)
    assert kept.changed == ["narrative"]
    assert kept.sealed["narrative"] is not None
    assert "Tashkent" not in dump_tables(session)


def test_organisations_instruments_and_evidence_keep_their_earlier_versions(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    organisation_id = writer.add_organisation(
        parse(OrganisationIn, {"name": "SNB", "kind": "state-agency", "country": "uz"})
    )
    subject_id = writer.add_person(_person(OLD_NAME))
    notice: dict[str, Any] = {
        "kind": "red-notice",
        "issuing_state": "uz",
        "subject_id": subject_id,
        "status": "active",
        "reference": "A-1234/5-2021",
    }
    instrument_id = writer.add_instrument(parse(InstrumentIn, notice))
    evidence: dict[str, Any] = {
        "filename": "call-with-Dilnoza.m4a",
        "media_type": "audio/mp4",
        "size_bytes": 1000,
        "sha256": "a" * 64,
        "acquired_at": "2024-01-02T03:04:05Z",
        "acquisition_method": "submitted-by-reporter",
        "acquired_by": "caseworker 7",
    }
    evidence_id = writer.add_evidence(parse(EvidenceIn, evidence))

    writer.replace_organisation(
        organisation_id,
        parse(OrganisationIn, {"name": "SGB", "kind": "state-agency", "country": "uz"}),
    )
    writer.replace_instrument(instrument_id, parse(InstrumentIn, {**notice, "status": "deleted"}))
    writer.replace_evidence(evidence_id, parse(EvidenceIn, {**evidence, "filename": "call.m4a"}))

    (organisation,) = _versions(session, organisation_id)
    assert (organisation.entity, organisation.state["name"], organisation.changed) == (
        "organisations",
        "SNB",
        ["name"],
    )
    (instrument,) = _versions(session, instrument_id)
    assert (instrument.entity, instrument.state["status"], instrument.changed) == (
        "legal_instruments",
        "active",
        ["status"],
    )
    reference = cipher.decrypt(
        b64decode(instrument.sealed["reference"] or ""),
        sealed_context("legal_instruments", "reference", instrument_id),
    )
    assert reference == b"A-1234/5-2021"
    (kept,) = _versions(session, evidence_id)
    assert (kept.entity, kept.changed) == ("evidence", ["filename"])
    assert kept.state["acquired_at"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()
    filename = cipher.decrypt(
        b64decode(kept.sealed["filename"] or ""),
        sealed_context("evidence", "filename", evidence_id),
    )
    assert filename == b"call-with-Dilnoza.m4a"


def test_replacing_a_missing_record_keeps_nothing(writer: RegistryWriter, session: Session) -> None:
    with pytest.raises(NotFound):
        writer.replace_incident("0190a5c2-0000-7000-8000-000000000000", incident())
    assert session.scalars(select(RecordVersion)).all() == []


def test_the_database_refuses_to_change_or_remove_a_kept_version(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    with runtime.transaction() as session:
        writer = RegistryWriter(session, cipher, Actor(SYSTEM_CONTRIBUTOR_ID, "test", "test"))
        incident_id = writer.add_incident(incident(narrative=OLD_NARRATIVE))
        writer.replace_incident(incident_id, incident(title="Changed"))
    attempts: list[Executable] = [
        update(RecordVersion).values(changed_by="someone else"),
        update(RecordVersion).values(state={"title": "rewritten"}),
        update(RecordVersion).values(version=7),
        text("DELETE FROM record_versions"),
    ]
    for statement in attempts:
        with pytest.raises(DBAPIError, match="append-only"), runtime.transaction() as session:
            session.execute(statement)
    with runtime.reading() as session:
        (kept,) = _versions(session, incident_id)
        assert (kept.version, kept.changed_by, kept.state["title"]) == (1, "test", "An incident")


def test_a_key_rotation_re_encrypts_the_kept_versions_too(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    with runtime.transaction() as session:
        writer = RegistryWriter(session, cipher, Actor(SYSTEM_CONTRIBUTOR_ID, "test", "test"))
        ids = [writer.add_person(_person(f"{OLD_NAME} {n}")) for n in range(3)]
        for n, person_id in enumerate(ids):
            writer.replace_person(person_id, _person(f"{NEW_NAME} {n}"))
    rotated = FieldCipher(cipher.keyring.with_new_data_key())
    with runtime.reading() as session:
        # The kept versions still need the old key: retiring it now would lose them.
        assert key_numbers_in_use(session, rotated) == {1}

    assert reencrypt_all(runtime.transaction, rotated, batch_size=2) == 6

    only_new = FieldCipher(rotated.keyring.without_data_keys({1}))
    with runtime.reading() as session:
        assert key_numbers_in_use(session, rotated) == {2}
        for n, person_id in enumerate(ids):
            (kept,) = _versions(session, person_id)
            context = sealed_context("people", "identity", person_id)
            plaintext = only_new.decrypt(b64decode(kept.sealed["identity"] or ""), context)
            assert f"{OLD_NAME} {n}" in plaintext.decode()
    assert reencrypt_all(runtime.transaction, rotated, batch_size=2) == 0


def test_two_replacements_at_once_each_keep_the_state_the_other_left(
    runtime: Runtime, cipher: FieldCipher
) -> None:
    actor = Actor(SYSTEM_CONTRIBUTOR_ID, "test", "test")
    with runtime.transaction() as session:
        writer = RegistryWriter(session, cipher, actor)
        incident_id = writer.add_incident(incident(title="A"))
        writer.flush()
    failures: list[BaseException] = []

    def replace_later() -> None:
        try:
            with runtime.transaction() as other:
                writer = RegistryWriter(other, cipher, actor)
                writer.replace_incident(incident_id, incident(title="C"))
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    with runtime.transaction() as session:
        RegistryWriter(session, cipher, actor).replace_incident(incident_id, incident(title="B"))
        thread = threading.Thread(target=replace_later)
        thread.start()
        time.sleep(0.5)  # the other replacement now waits for this transaction
    thread.join(timeout=30)

    assert failures == []
    with runtime.reading() as session:
        titles = [(v.version, v.state["title"]) for v in _versions(session, incident_id)]
        current = session.get(models.Incident, incident_id)
        assert current is not None
        assert current.title == "C"
    # Without the lock, the second would keep "A" again, the state it read before the first
    # committed.
    assert titles == [(1, "A"), (2, "B")]
