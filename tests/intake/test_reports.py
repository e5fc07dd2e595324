"""Reports as registry records: what a report writes, what is sealed, the follow-up with a
receipt code, consent through the policy gate, and files removed when a report is not saved."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import haven.models  # noqa: F401  (every table in the metadata)
from haven.access.models import Consent
from haven.access.policy import Reader, visible
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id
from haven.domain.enums import (
    ContributorKind,
    MessageSender,
    PersonRole,
    RecipientKind,
    ReportChannel,
    ReporterRelation,
    ReportStatus,
    Role,
    Tlp,
)
from haven.errors import ValidationFailed
from haven.intake.files import Checked, EvidenceStore, check_file
from haven.intake.models import EvidenceFile, Report, ReportMessage
from haven.intake.receipts import receipt_hash
from haven.intake.reports import (
    ReportIn,
    Submission,
    add_message,
    change_consent,
    find_report,
    follow_up,
    kept_on_commit,
    open_json,
    submit_report,
)
from haven.registry.contributors import ensure_contributor
from haven.registry.models import Evidence, Incident, IncidentEvidence, IncidentPerson, Person
from haven.registry.sealed import read_identity, sealed_context
from haven.runtime import Runtime

TARGET = "Zerafshan Quillborough-Nakamura"
NARRATIVE = "Two men from the Thornvale consulate waited outside my flat and named my sister."
PLACE = "Wolkenhain-am-Spreebogen"
PERPETRATOR = "Colonel Brisbane-Okafor of the Thornvale embassy"
CONTACT = "quillborough.safe@example.net"
PRECAUTIONS = "Only write after 21:00, my phone is checked by Varnholm"
MESSAGE = "The second call came from Ostrakhan prison on Tuesday"
FILENAME = "kestrelmoor-voicemail-transcript.txt"
FILE_TEXT = "Transcript: Ilvermorrow said my passport will be cancelled."
SECRETS = (
    TARGET,
    "Quillborough",
    NARRATIVE,
    "Thornvale",
    PLACE,
    "Wolkenhain",
    PERPETRATOR,
    "Brisbane-Okafor",
    CONTACT,
    PRECAUTIONS,
    "Varnholm",
    MESSAGE,
    "Ostrakhan",
    FILENAME,
    "kestrelmoor",
    FILE_TEXT,
    "Ilvermorrow",
)

REPORT: dict[str, Any] = {
    "what_happened": NARRATIVE,
    "tactics": ["intimidation", "coercion-by-proxy"],
    "occurred": {"start": "2024-03-01", "precision": "month"},
    "origin_state": "by",
    "host_state": "de",
    "place": PLACE,
    "perpetrator_kind": "embassy",
    "perpetrator": PERPETRATOR,
    "relation": "self",
    "target_name": TARGET,
    "target_profile": "journalist",
    "urgent": True,
    "contact": {"method": "email", "address": CONTACT, "precautions": PRECAUTIONS},
    "consent": ["ngo"],
    "language": "de",
}


def _report(**changes: Any) -> ReportIn:
    return ReportIn.model_validate({**REPORT, **changes})


def _handler(session: Session, cipher: FieldCipher, name: str = "Exile Legal Aid") -> str:
    return ensure_contributor(session, cipher, name, ContributorKind.NGO, "DE", actor="test")


def _submission(handler: str) -> Submission:
    return Submission(handler, ReportChannel.PUBLIC_FORM, "reporter", "report-form")


def _store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence-store", reserve_bytes=0)


def _jpeg() -> Checked:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "HavenProbeCam"
    Image.new("RGB", (16, 16), (10, 200, 10)).save(out, "JPEG", exif=exif)
    return check_file("garden.jpg", out.getvalue(), max_bytes=1 << 20)


def _text_file() -> Checked:
    return check_file(FILENAME, FILE_TEXT.encode(), max_bytes=1 << 20)


# -- what a report writes --------------------------------------------------------------------


def test_a_report_writes_a_strict_incident_its_target_and_a_received_report(
    cipher: FieldCipher, session: Session
) -> None:
    handler = _handler(session, cipher)

    receipt = submit_report(session, cipher, _report(), _submission(handler))

    report = session.get(Report, receipt.report_id)
    assert report is not None
    assert report.status is ReportStatus.RECEIVED
    assert report.urgent is True
    assert report.channel is ReportChannel.PUBLIC_FORM
    assert report.relation is ReporterRelation.SELF
    assert report.handled_by == handler
    assert report.language == "de"
    assert report.receipt_hash == receipt_hash(receipt.code)

    incident = session.get(Incident, report.incident_id)
    assert incident is not None
    assert incident.tlp is Tlp.AMBER_STRICT
    assert incident.contributor_id == handler
    assert incident.origin_state == "BY"
    assert incident.host_state == "DE"
    assert incident.narrative is not None
    context = sealed_context("incidents", "narrative", incident.id)
    assert cipher.decrypt(incident.narrative, context).decode() == NARRATIVE

    links = session.scalars(
        select(IncidentPerson).where(IncidentPerson.incident_id == incident.id)
    ).all()
    assert [(link.person_id, link.role) for link in links] == [
        (report.person_id, PersonRole.TARGET)
    ]
    person = session.get(Person, report.person_id)
    assert person is not None
    assert person.tlp is Tlp.AMBER_STRICT
    assert person.profile == "journalist"
    identity = read_identity(session, cipher, report.person_id)
    assert identity is not None
    assert [name.value for name in identity.names] == [TARGET]

    assert open_json(cipher, "contact", report) == {
        "method": "email",
        "address": CONTACT,
        "precautions": PRECAUTIONS,
    }
    assert open_json(cipher, "details", report) == {"perpetrator": PERPETRATOR, "place": PLACE}


def test_a_report_through_a_relative_adds_the_relative_targeted_by_proxy(
    cipher: FieldCipher, session: Session
) -> None:
    handler = _handler(session, cipher)

    receipt = submit_report(
        session, cipher, _report(relation="relative-in-home-country"), _submission(handler)
    )

    report = session.get(Report, receipt.report_id)
    assert report is not None
    assert report.relation is ReporterRelation.RELATIVE
    links = session.scalars(
        select(IncidentPerson).where(IncidentPerson.incident_id == report.incident_id)
    ).all()
    by_role = {link.role: link for link in links}
    assert set(by_role) == {PersonRole.TARGET, PersonRole.RELATIVE_TARGETED}
    assert by_role[PersonRole.TARGET].person_id == report.person_id
    relative = by_role[PersonRole.RELATIVE_TARGETED]
    assert relative.person_id != report.person_id
    assert relative.on_behalf_of_id == report.person_id
    relative_person = session.get(Person, relative.person_id)
    assert relative_person is not None
    assert relative_person.tlp is Tlp.AMBER_STRICT


def test_a_report_without_urgency_or_contact_keeps_none(
    cipher: FieldCipher, session: Session
) -> None:
    handler = _handler(session, cipher)

    receipt = submit_report(
        session, cipher, _report(urgent=False, contact=None, place=None), _submission(handler)
    )

    report = session.get(Report, receipt.report_id)
    assert report is not None
    assert report.urgent is False
    assert report.contact is None
    assert open_json(cipher, "contact", report) is None
    assert open_json(cipher, "details", report) == {"perpetrator": PERPETRATOR, "place": None}


def _consents(session: Session, person_id: str) -> dict[str, tuple[bool, str]]:
    rows = session.scalars(select(Consent).where(Consent.person_id == person_id))
    return {row.recipient_kind: (row.granted, row.member_state) for row in rows}


def test_consent_is_stated_for_every_kind_with_only_the_chosen_ones_granted(
    cipher: FieldCipher, session: Session
) -> None:
    handler = _handler(session, cipher)

    chosen = submit_report(
        session, cipher, _report(consent=["ngo", "authority"]), _submission(handler)
    )
    nothing = submit_report(session, cipher, _report(consent=[]), _submission(handler))

    first = session.get(Report, chosen.report_id)
    second = session.get(Report, nothing.report_id)
    assert first is not None
    assert second is not None
    assert _consents(session, first.person_id) == {
        "ngo": (True, ""),
        "authority": (True, "DE"),  # of the member state where it happened only
        "eu-body": (False, ""),
        "company": (False, ""),
    }
    assert _consents(session, second.person_id) == {
        "ngo": (False, ""),
        "authority": (False, ""),  # refused for every member state, not only where it happened
        "eu-body": (False, ""),
        "company": (False, ""),
    }


def test_evidence_files_become_strict_evidence_records_and_encrypted_files(
    cipher: FieldCipher, session: Session, tmp_path: Path
) -> None:
    handler = _handler(session, cipher)
    store = _store(tmp_path)
    files = [_text_file(), _jpeg()]
    written: list[str] = []

    receipt = submit_report(
        session, cipher, _report(), _submission(handler), files, store=store, written=written
    )

    assert receipt.files == tuple((f.filename, f.sha256) for f in files)
    report = session.get(Report, receipt.report_id)
    assert report is not None
    linked = set(
        session.scalars(
            select(IncidentEvidence.evidence_id).where(
                IncidentEvidence.incident_id == report.incident_id
            )
        )
    )
    assert linked == set(written)
    assert len(written) == 2
    stored = {row.evidence_id: row for row in session.scalars(select(EvidenceFile))}
    assert set(stored) == set(written)
    for evidence_id, checked in zip(written, files, strict=True):
        evidence = session.get(Evidence, evidence_id)
        assert evidence is not None
        assert evidence.tlp is Tlp.AMBER_STRICT
        assert evidence.sha256 == checked.sha256
        assert evidence.media_type == checked.kind.media_type
        assert stored[evidence_id].report_id == report.id
        assert stored[evidence_id].clean_sha256 == checked.clean_sha256
        assert store.get(cipher, evidence_id, "original") == checked.content
        assert store.path(evidence_id, "clean").exists() == (checked.clean is not None)
    text_id, picture_id = written
    assert store.get(cipher, picture_id, "clean") == files[1].clean
    assert stored[text_id].clean_sha256 is None

    view = follow_up(session, cipher, report)
    assert sorted((f.filename, f.cleaned) for f in view.files) == [
        ("garden.jpg", True),
        (FILENAME, False),
    ]


def test_files_without_a_store_are_refused(cipher: FieldCipher, session: Session) -> None:
    handler = _handler(session, cipher)
    with pytest.raises(ValidationFailed):
        submit_report(session, cipher, _report(), _submission(handler), [_text_file()])


# -- the receipt code and the follow-up ------------------------------------------------------


def test_find_report_forgives_how_the_code_is_typed_and_nothing_else(
    cipher: FieldCipher, session: Session
) -> None:
    handler = _handler(session, cipher)
    receipt = submit_report(session, cipher, _report(), _submission(handler))
    other = submit_report(session, cipher, _report(), _submission(handler))
    typed = receipt.code.lower().replace("-", " ")

    found = find_report(session, typed)

    assert found is not None
    assert found.id == receipt.report_id
    assert find_report(session, f"  {receipt.code.replace('-', '')}  ") is not None
    found_other = find_report(session, other.code)
    assert found_other is not None
    assert found_other.id == other.report_id
    last = receipt.code[-1]
    wrong = receipt.code[:-1] + ("0" if last != "0" else "1")
    assert find_report(session, wrong) is None
    assert find_report(session, receipt.code[:-1]) is None
    assert find_report(session, "") is None
    assert find_report(session, receipt.report_id) is None


def test_follow_up_shows_the_conversation_in_order_with_its_senders(
    cipher: FieldCipher, session: Session
) -> None:
    handler = _handler(session, cipher)
    receipt = submit_report(session, cipher, _report(consent=["eu-body"]), _submission(handler))
    report = session.get(Report, receipt.report_id)
    assert report is not None
    sent = [
        (MessageSender.REPORTER, "First: they called again."),
        (MessageSender.ORGANISATION, "Thank you, we have read it."),
        (MessageSender.REPORTER, "  Second: a letter came.  "),
    ]
    for sender, body in sent:
        add_message(session, cipher, report, body, sender=sender)

    view = follow_up(session, cipher, report)

    assert [(m.sender, m.body) for m in view.messages] == [
        (MessageSender.REPORTER, "First: they called again."),
        (MessageSender.ORGANISATION, "Thank you, we have read it."),
        (MessageSender.REPORTER, "Second: a letter came."),
    ]
    assert [m.sent_at for m in view.messages] == sorted(m.sent_at for m in view.messages)
    assert view.report.id == report.id
    assert view.consent == frozenset({RecipientKind.EU_BODY})
    assert view.files == ()
    bodies = [bytes(b) for b in session.scalars(select(ReportMessage.body))]
    assert len(bodies) == 3
    assert all(b"letter" not in body and b"called" not in body for body in bodies)


@pytest.mark.parametrize("body", ["", "   ", "\n\t "])
def test_an_empty_message_is_refused(cipher: FieldCipher, session: Session, body: str) -> None:
    handler = _handler(session, cipher)
    receipt = submit_report(session, cipher, _report(), _submission(handler))
    report = session.get(Report, receipt.report_id)
    assert report is not None

    with pytest.raises(ValidationFailed, match="empty"):
        add_message(session, cipher, report, body, sender=MessageSender.REPORTER)

    assert session.scalar(select(func.count()).select_from(ReportMessage)) == 0


def test_a_message_over_20000_characters_is_refused(cipher: FieldCipher, session: Session) -> None:
    handler = _handler(session, cipher)
    receipt = submit_report(session, cipher, _report(), _submission(handler))
    report = session.get(Report, receipt.report_id)
    assert report is not None
    add_message(session, cipher, report, "x" * 20_000, sender=MessageSender.REPORTER)
    with pytest.raises(ValidationFailed, match="longer"):
        add_message(session, cipher, report, "x" * 20_001, sender=MessageSender.REPORTER)


# -- consent through the policy gate ---------------------------------------------------------


def _reader(organisation_id: str, kind: ContributorKind, member_state: str | None) -> Reader:
    return Reader(
        user_id=new_id(),
        organisation_id=organisation_id,
        organisation_kind=kind,
        member_state=member_state,
        roles=frozenset({Role.CASEWORKER}),
        groups=frozenset(),
        surface="test",
    )


def _sees(session: Session, reader: Reader, incident_id: str) -> bool:
    found = session.scalar(
        select(Incident.id).where(Incident.id == incident_id, visible(reader, Incident))
    )
    return found is not None


def test_consent_decides_who_else_sees_a_report_and_the_handler_always_does(
    cipher: FieldCipher, session: Session
) -> None:
    handler_id = _handler(session, cipher)
    ngo_id = ensure_contributor(session, cipher, "Other NGO", ContributorKind.NGO, actor="test")
    de_id = ensure_contributor(
        session, cipher, "Bundeskriminalamt", ContributorKind.AUTHORITY, "DE", actor="test"
    )
    fr_id = ensure_contributor(
        session, cipher, "Police nationale", ContributorKind.AUTHORITY, "FR", actor="test"
    )
    handler = _reader(handler_id, ContributorKind.NGO, "DE")
    ngo = _reader(ngo_id, ContributorKind.NGO, None)
    german = _reader(de_id, ContributorKind.AUTHORITY, "DE")
    french = _reader(fr_id, ContributorKind.AUTHORITY, "FR")
    public = Reader.public("test")
    receipt = submit_report(session, cipher, _report(consent=["ngo"]), _submission(handler_id))
    report = session.get(Report, receipt.report_id)
    assert report is not None
    incident_id = report.incident_id

    def seen() -> set[str]:
        readers = {"handler": handler, "ngo": ngo, "de": german, "fr": french, "public": public}
        return {name for name, reader in readers.items() if _sees(session, reader, incident_id)}

    # AMBER+STRICT: the handling organisation only, whatever the consent.
    assert seen() == {"handler"}

    # Once the handler shares it more widely (a referral), consent is the limit.
    session.execute(update(Incident).where(Incident.id == incident_id).values(tlp=Tlp.GREEN))
    assert seen() == {"handler", "ngo"}

    change_consent(session, report, frozenset({RecipientKind.AUTHORITY}), "DE")
    assert seen() == {"handler", "de"}

    change_consent(session, report, frozenset({RecipientKind.AUTHORITY, RecipientKind.NGO}), "DE")
    assert seen() == {"handler", "ngo", "de"}

    change_consent(session, report, frozenset(), "DE")
    assert seen() == {"handler"}
    assert follow_up(session, cipher, report).consent == frozenset()


def test_without_any_consent_only_the_handling_organisation_sees_a_shared_report(
    cipher: FieldCipher, session: Session
) -> None:
    handler_id = _handler(session, cipher)
    ngo_id = ensure_contributor(session, cipher, "Other NGO", ContributorKind.NGO, actor="test")
    receipt = submit_report(session, cipher, _report(consent=[]), _submission(handler_id))
    report = session.get(Report, receipt.report_id)
    assert report is not None
    session.execute(update(Incident).where(Incident.id == report.incident_id).values(tlp=Tlp.GREEN))

    assert _sees(session, _reader(handler_id, ContributorKind.NGO, "DE"), report.incident_id)
    assert not _sees(session, _reader(ngo_id, ContributorKind.NGO, None), report.incident_id)

    change_consent(session, report, frozenset({RecipientKind.NGO}), "DE")
    assert _sees(session, _reader(ngo_id, ContributorKind.NGO, None), report.incident_id)


# -- files do not outlive a report that was not saved ----------------------------------------


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_kept_on_commit_removes_the_files_of_a_failed_transaction(
    runtime: Runtime, cipher: FieldCipher, tmp_path: Path
) -> None:
    with runtime.transaction() as session:
        handler = _handler(session, cipher)
    store = _store(tmp_path)
    files = [_text_file(), _jpeg()]
    seen_during: list[Path] = []

    def fail_after_the_files() -> None:
        with kept_on_commit(store) as written, runtime.transaction() as session:
            submit_report(
                session,
                cipher,
                _report(),
                _submission(handler),
                files,
                store=store,
                written=written,
            )
            seen_during.extend(_all_files(store.root))
            raise RuntimeError("after the files were written")

    with pytest.raises(RuntimeError, match="after the files"):
        fail_after_the_files()

    assert len(seen_during) == 3  # two originals and the picture's clean copy
    assert _all_files(store.root) == []
    with runtime.reading() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 0
        assert session.scalar(select(func.count()).select_from(Evidence)) == 0

    # A transaction that commits keeps its files.
    with kept_on_commit(store) as written, runtime.transaction() as session:
        submit_report(
            session, cipher, _report(), _submission(handler), files, store=store, written=written
        )
    assert len(_all_files(store.root)) == 3
    assert {p.name.split(".")[0] for p in _all_files(store.root)} == set(written)


# -- nothing identifying is readable at rest -------------------------------------------------


def test_nothing_identifying_and_no_receipt_code_is_readable_at_rest(
    *,
    runtime: Runtime,
    cipher: FieldCipher,
    database_url: str,
    dialect: str,
    tmp_path: Path,
    dump_tables: Callable[[Session], str],
) -> None:
    store = _store(tmp_path)
    with runtime.transaction() as session:
        handler = _handler(session, cipher)
    with kept_on_commit(store) as written, runtime.transaction() as session:
        receipt = submit_report(
            session,
            cipher,
            _report(relation="relative-in-home-country", consent=["ngo", "authority"]),
            _submission(handler),
            [_text_file()],
            store=store,
            written=written,
        )
    with runtime.transaction() as session:
        report = find_report(session, receipt.code)
        assert report is not None
        add_message(session, cipher, report, MESSAGE, sender=MessageSender.REPORTER)
    code_forms = (receipt.code, receipt.code.replace("-", ""), receipt.code.lower())

    with runtime.transaction() as session:
        dump = dump_tables(session)
        view = follow_up(session, cipher, report)

    # The scan sees the data: the report's id, its hash and the handler's name are there.
    assert receipt.report_id in dump
    digest = receipt_hash(receipt.code)
    assert digest is not None
    assert digest in dump
    assert "Exile Legal Aid" in dump
    # And the sealed values are really there, just not readable.
    assert [m.body for m in view.messages] == [MESSAGE]
    assert [f.filename for f in view.files] == [FILENAME]
    leaked = [value for value in (*SECRETS, *code_forms) if value in dump]
    assert leaked == []

    files = _all_files(store.root)
    assert len(files) == 1
    for path in files:
        assert not any(s in str(path) for s in SECRETS)
        raw = path.read_bytes()
        assert not [s for s in SECRETS if s.encode() in raw]

    if dialect != "sqlite":
        return
    runtime.close()  # checkpoints the write-ahead log into the database file
    database = Path(str(make_url(database_url).database))
    raw = b"".join(
        f.read_bytes() for f in (database, database.with_name(database.name + "-wal")) if f.exists()
    )
    assert len(raw) > 50_000
    assert digest.encode() in raw
    assert not [s for s in (*SECRETS, *code_forms) if s.encode() in raw]


def test_consent_to_authorities_needs_a_member_state_where_it_happened(
    session: Session, cipher: FieldCipher
) -> None:
    handler = _handler(session, cipher)
    receipt = submit_report(
        session,
        cipher,
        _report(consent=["ngo", "authority"], host_state="TR"),
        _submission(handler),
    )
    report = session.get(Report, receipt.report_id)
    assert report is not None
    granted = {
        row.recipient_kind: (row.granted, row.member_state)
        for row in session.scalars(select(Consent).where(Consent.person_id == report.person_id))
    }
    assert granted["ngo"] == (True, "")
    assert granted["authority"] == (False, "")
