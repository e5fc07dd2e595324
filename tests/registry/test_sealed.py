from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.errors import KeyFileError, NotFound
from haven.registry.schemas import (
    EvidenceIn,
    Identity,
    IncidentIn,
    InstrumentIn,
    PersonIn,
    parse,
)
from haven.registry.sealed import (
    SEALED_COLUMNS,
    find_people,
    key_numbers_in_use,
    read_identity,
    reencrypt_batch,
    sealed_context,
)
from haven.registry.writer import RegistryWriter

ARABIC_NAME = "نور الهدى صالح"
LATIN_NAME = "Nour al-Hudā Ṣāliḥ"
EMAIL = "nour.salih@example.org"
PHONE = "+49 151 2345 6789"
ADDRESS = "Karl-Marx-Straße 12, 12043 Berlin"
PASSPORT = "SY4815162342"
BIRTH = date(1987, 3, 14)
REFERENCE = "RN-2024-7788123"
FILENAME = "voicemail-from-consulate.ogg"

IDENTITY: dict[str, Any] = {
    "names": [
        {"value": ARABIC_NAME, "script": "Arab"},
        {"value": LATIN_NAME, "script": "Latn", "transliteration": "ar-Latn"},
    ],
    "date_of_birth": BIRTH.isoformat(),
    "contact": [EMAIL, PHONE],
    "address": ADDRESS,
    "documents": [{"kind": "passport", "number": PASSPORT, "issuing_state": "sy"}],
}
PLAINTEXTS = (
    ARABIC_NAME,
    "نور",
    LATIN_NAME,
    "Nour",
    "Ṣāliḥ",
    EMAIL,
    PHONE,
    ADDRESS,
    "Karl-Marx",
    PASSPORT,
    BIRTH.isoformat(),
)
NARRATIVE = "Rania (رانيا) was called from Damascus and told her brother would pay."


def _add_person(writer: RegistryWriter, identity: dict[str, Any] | None = None) -> str:
    data = parse(PersonIn, {"identity": identity or IDENTITY, "nationality": "sy"})
    person_id = writer.add_person(data)
    writer.flush()
    return person_id


def _other_identity(index: int) -> dict[str, Any]:
    return {
        "names": [{"value": f"Other Person {index}"}],
        "date_of_birth": date(1990, 1, index + 1).isoformat(),
        "contact": [f"other{index}@example.org"],
        "documents": [{"kind": "passport", "number": f"X{index:08d}"}],
    }


def _raw(value: Any) -> bytes:
    """A driver value of a binary column: bytes on SQLite, bytes or memoryview on psycopg."""
    assert isinstance(value, bytes | memoryview), type(value)
    return bytes(value)


def _raw_column(session: Session, table: str, column: str) -> list[tuple[str, bytes]]:
    rows = session.execute(text(f"select id, {column} from {table}"))
    return [(str(record_id), _raw(value)) for record_id, value in rows if value is not None]


def test_an_identity_is_stored_only_as_ciphertext(writer: RegistryWriter, session: Session) -> None:
    _add_person(writer)

    stored = [_raw(v) for (v,) in session.execute(text("select identity from people"))]

    assert len(stored) == 1
    for plaintext in PLAINTEXTS:
        assert plaintext.encode("utf-8") not in stored[0], plaintext
    assert FieldCipher.key_number(stored[0]) == (1, 1)


def test_read_identity_returns_the_identity_that_was_written(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    person_id = _add_person(writer)

    identity = read_identity(session, cipher, person_id)

    assert identity == parse(Identity, IDENTITY)
    assert identity is not None
    assert identity.names[0].value == ARABIC_NAME
    assert identity.names[1].transliteration == "ar-Latn"
    assert identity.date_of_birth == BIRTH
    assert identity.documents[0].issuing_state == "SY"


def test_read_identity_of_a_person_without_identity_is_none(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    person_id = writer.add_person(parse(PersonIn, {"profile": "journalist"}))
    writer.flush()

    assert read_identity(session, cipher, person_id) is None


def test_read_identity_of_an_unknown_person_raises_not_found(
    session: Session, cipher: FieldCipher
) -> None:
    with pytest.raises(NotFound):
        read_identity(session, cipher, "0190a5c2-0000-7000-8000-000000000000")


def test_an_identity_copied_to_another_person_does_not_decrypt(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    person_id = _add_person(writer)
    other_id = _add_person(writer, _other_identity(1))
    session.execute(
        text(
            "update people set identity = (select identity from people where id = :src) "
            "where id = :dst"
        ),
        {"src": person_id, "dst": other_id},
    )

    with pytest.raises(KeyFileError):
        read_identity(session, cipher, other_id)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        pytest.param("name", ARABIC_NAME, id="arabic"),
        pytest.param("name", LATIN_NAME, id="latin"),
        pytest.param("name", "NOUR  AL HUDA SALIH", id="latin-folded"),
        pytest.param("name", "  nour al-huda   ṣaliḥ ", id="latin-spaces"),
        pytest.param("name", "نُور  الهُدى صالح", id="arabic-vowel-marks-and-spaces"),
        pytest.param("dob", BIRTH.isoformat(), id="date-of-birth"),
        pytest.param("contact", EMAIL, id="email"),
        pytest.param("contact", "NOUR.SALIH@EXAMPLE.ORG", id="email-upper"),
        pytest.param("contact", PHONE, id="phone"),
        pytest.param("contact", "+49 151 2345  6789", id="phone-spaces"),
        pytest.param("document", PASSPORT, id="passport"),
        pytest.param("document", PASSPORT.lower(), id="passport-lower"),
    ],
)
def test_find_people_finds_a_person_by_an_identifying_value(
    writer: RegistryWriter, session: Session, cipher: FieldCipher, kind: str, value: str
) -> None:
    person_id = _add_person(writer)
    for index in range(3):
        _add_person(writer, _other_identity(index))

    assert find_people(session, cipher, kind, value) == [person_id]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        pytest.param("name", "Nour al-Huda", id="partial-name"),
        pytest.param("name", "Nur al-Huda Salih", id="other-spelling"),
        pytest.param("dob", "1987-03-15", id="other-date"),
        pytest.param("contact", "nour.salih@example.com", id="other-email"),
        pytest.param("document", "SY4815162343", id="other-document"),
        pytest.param("document", EMAIL, id="value-of-another-kind"),
        pytest.param("address", ADDRESS, id="address-is-not-indexed"),
    ],
)
def test_find_people_finds_nobody_for_a_different_value(
    writer: RegistryWriter, session: Session, cipher: FieldCipher, kind: str, value: str
) -> None:
    _add_person(writer)

    assert find_people(session, cipher, kind, value) == []


def test_find_people_finds_every_person_sharing_a_value(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    first = _add_person(writer)
    second = _add_person(writer, {**IDENTITY, "documents": []})
    _add_person(writer, _other_identity(0))

    assert find_people(session, cipher, "name", LATIN_NAME) == sorted([first, second])
    assert find_people(session, cipher, "document", PASSPORT) == [first]


def test_person_lookup_rows_hold_hex_digests_only(writer: RegistryWriter, session: Session) -> None:
    person_id = _add_person(writer)

    rows = session.execute(text("select person_id, kind, digest from person_lookup")).all()

    # Two names, a date of birth, two contacts, one document; the address is not indexed.
    assert sorted(kind for _, kind, _ in rows) == [
        "contact",
        "contact",
        "dob",
        "document",
        "name",
        "name",
    ]
    assert {str(pid) for pid, _, _ in rows} == {person_id}
    digests = [digest for _, _, digest in rows]
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests)
    assert len(set(digests)) == len(digests)
    dumped = " ".join(str(value) for row in rows for value in row)
    for plaintext in PLAINTEXTS:
        assert plaintext not in dumped


def _add_sealed_records(writer: RegistryWriter, people: int) -> list[str]:
    ids = [_add_person(writer, _other_identity(index)) for index in range(people)]
    writer.add_instrument(
        parse(
            InstrumentIn,
            {
                "kind": "red-notice",
                "issuing_state": "SY",
                "subject_id": ids[0],
                "reference": REFERENCE,
            },
        )
    )
    writer.add_evidence(
        parse(
            EvidenceIn,
            {
                "filename": FILENAME,
                "media_type": "audio/ogg",
                "size_bytes": 4096,
                "sha256": "0f" * 32,
                "acquired_at": datetime(2024, 3, 1, tzinfo=UTC),
                "acquisition_method": "submitted-by-reporter",
                "acquired_by": "Exile Legal Aid",
            },
        )
    )
    writer.add_incident(
        parse(
            IncidentIn,
            {
                "title": "Summons of relatives",
                "narrative": NARRATIVE,
                "occurred": {"start": "2024-02-01"},
                "origin_state": "SY",
                "tactics": ["coercion-by-proxy"],
            },
        )
    )
    writer.flush()
    return ids


def test_an_incident_narrative_is_ciphertext(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    _add_sealed_records(writer, 1)

    ((incident_id, narrative),) = _raw_column(session, "incidents", "narrative")
    assert isinstance(narrative, bytes)
    for fragment in ("Rania", "رانيا", "Damascus"):
        assert fragment.encode() not in narrative
    plaintext = cipher.decrypt(narrative, sealed_context("incidents", "narrative", incident_id))
    assert plaintext.decode() == NARRATIVE


def test_instrument_references_and_evidence_filenames_are_ciphertext(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    _add_sealed_records(writer, 1)

    ((instrument_id, reference),) = _raw_column(session, "legal_instruments", "reference")
    ((evidence_id, filename),) = _raw_column(session, "evidence", "filename")

    assert REFERENCE.encode() not in reference
    assert b"7788123" not in reference
    assert FILENAME.encode() not in filename
    assert b"voicemail" not in filename
    context = sealed_context("legal_instruments", "reference", instrument_id)
    assert cipher.decrypt(reference, context) == REFERENCE.encode()
    assert cipher.decrypt(filename, sealed_context("evidence", "filename", evidence_id)) == (
        FILENAME.encode()
    )


REGISTRY_TABLES = ("incidents", "people", "legal_instruments", "evidence")


def _rotate(session: Session, cipher: FieldCipher, limit: int) -> tuple[int, int]:
    seen = changed = 0
    for spec in SEALED_COLUMNS:
        after: str | None = None
        while True:
            after, batch_seen, batch_changed = reencrypt_batch(session, cipher, spec, after, limit)
            seen += batch_seen
            changed += batch_changed
            if after is None:
                break
    return seen, changed


def test_reencrypt_batch_moves_every_ciphertext_to_the_new_key(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    main_id = _add_person(writer)
    ids = [main_id, *_add_sealed_records(writer, 5)]
    writer.add_person(parse(PersonIn, {"profile": "academic"}))  # no identity: nothing to do
    writer.flush()
    assert key_numbers_in_use(session, cipher) == {1}
    rotated = FieldCipher(cipher.keyring.with_new_data_key())
    assert rotated.keyring.active == 2

    seen, changed = _rotate(session, rotated, limit=2)

    assert changed == 9  # six identities, one reference, one filename, one narrative
    assert seen == 10
    for spec in SEALED_COLUMNS:
        values = _raw_column(session, spec.table, spec.column)
        # This test writes registry records only; intake and access columns have their own.
        assert values or spec.table not in REGISTRY_TABLES, spec
        assert {FieldCipher.key_number(v)[1] for _, v in values} <= {2}, spec
    assert key_numbers_in_use(session, rotated) == {2}
    assert read_identity(session, rotated, main_id) == parse(Identity, IDENTITY)
    for index, person_id in enumerate(ids[1:]):
        assert read_identity(session, rotated, person_id) == parse(Identity, _other_identity(index))
    with pytest.raises(KeyFileError):
        read_identity(session, cipher, main_id)


def test_a_second_rotation_pass_changes_nothing(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    _add_sealed_records(writer, 3)
    rotated = FieldCipher(cipher.keyring.with_new_data_key())
    _rotate(session, rotated, limit=2)

    assert _rotate(session, rotated, limit=2) == (6, 0)


def test_blind_indexes_still_find_people_after_a_rotation(
    writer: RegistryWriter, session: Session, cipher: FieldCipher
) -> None:
    person_id = _add_person(writer)
    rotated = FieldCipher(cipher.keyring.with_new_data_key())
    _rotate(session, rotated, limit=10)

    assert find_people(session, rotated, "document", PASSPORT) == [person_id]
    assert find_people(session, rotated, "name", ARABIC_NAME) == [person_id]
