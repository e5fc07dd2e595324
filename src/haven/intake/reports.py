"""Reports: what a person at risk (or an organisation for them) tells Haven, and the follow-up
with the receipt code.

A report is written as registry records, so the policy gate applies to it like to any record:
an incident labelled TLP:AMBER+STRICT (its narrative sealed) contributed by the organisation that
handles reports, the person it happened to (their name sealed) with the consent the reporter
gave, and the evidence files. The :class:`Report` row adds what only intake needs, sealed where
it identifies anyone. Nothing about the reporter's connection (address, browser) is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from haven.access.consent import Statement, state_consent
from haven.access.models import Consent
from haven.audit.chain import Change, append
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.countries import is_member_state
from haven.domain.deadlines import Deadlines
from haven.domain.enums import (
    AcquisitionMethod,
    MessageSender,
    PerpetratorKind,
    PersonRole,
    RecipientKind,
    ReportChannel,
    ReporterRelation,
    ReportStatus,
    Tlp,
)
from haven.errors import NotFound, ValidationFailed
from haven.intake.files import Checked, EvidenceStore, safe_filename
from haven.intake.models import EvidenceFile, Report, ReportMessage
from haven.intake.receipts import new_receipt_code, receipt_hash
from haven.registry.models import Contributor, Evidence
from haven.registry.schemas import (
    _NO_CONTROLS,
    CountryCode,
    EvidenceIn,
    Identity,
    IncidentIn,
    Name,
    Occurred,
    PersonIn,
    ProfileCode,
    Strict,
    TacticCode,
    text,
)
from haven.registry.sealed import sealed_context
from haven.registry.writer import Actor, RegistryWriter

REPORTER = "reporter"


class ContactIn(Strict):
    """How to reach the reporter safely."""

    method: str = Field(pattern=r"^(email|phone|messenger|other)$")
    address: str = text(200, 1)
    precautions: str | None = Field(default=None, max_length=1000, pattern=_NO_CONTROLS)


class ReportIn(Strict):
    """A report, from the public form or an organisation's API client."""

    what_happened: str = Field(min_length=1, max_length=20_000, pattern=_NO_CONTROLS)
    tactics: tuple[TacticCode, ...] = Field(min_length=1)
    occurred: Occurred
    origin_state: CountryCode
    host_state: CountryCode | None = None
    place: str | None = Field(default=None, max_length=200, pattern=_NO_CONTROLS)
    perpetrator_kind: PerpetratorKind = PerpetratorKind.UNKNOWN
    perpetrator: str | None = Field(default=None, max_length=1000, pattern=_NO_CONTROLS)
    relation: ReporterRelation = ReporterRelation.SELF
    target_name: str | None = Field(default=None, max_length=300, pattern=_NO_CONTROLS)
    target_profile: ProfileCode | None = None
    urgent: bool = False
    contact: ContactIn | None = None
    consent: tuple[RecipientKind, ...] = Field(
        default=(),
        description="Kinds of recipient the person allows to see the report, besides the "
        "organisation that handles it; empty means that organisation only.",
    )
    language: str = Field(
        default="en", max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
    )

    @field_validator("tactics")
    @classmethod
    def _distinct_tactics(cls, tactics: tuple[str, ...]) -> tuple[str, ...]:
        # The incident a report becomes refuses a tactic listed twice; refused here, the
        # reporter is told so instead of meeting a server error.
        if len(set(tactics)) != len(tactics):
            raise ValueError("a tactic is listed twice")
        return tactics


@dataclass(frozen=True, slots=True)
class Receipt:
    report_id: str
    code: str
    files: tuple[tuple[str, str], ...]  # (file name, SHA-256)


@dataclass(frozen=True, slots=True)
class Submission:
    """Where a report goes and who writes it."""

    handler: str  # the contributor (organisation) that handles it
    channel: ReportChannel
    actor: str  # "reporter" on the public form, "user:<id>" through the API
    surface: str
    deadlines: Deadlines = field(default_factory=Deadlines)


def intake_organisation(session: Session) -> str | None:
    """The organisation that receives reports from the public form, if one is set."""
    return session.scalar(select(Contributor.id).where(Contributor.handles_reports.is_(True)))


def set_intake_organisation(session: Session, contributor_id: str, *, actor: str) -> None:
    for contributor in session.scalars(select(Contributor)):
        contributor.handles_reports = contributor.id == contributor_id
    session.flush()
    append(session, [Change(actor, "handle-reports", "contributors", contributor_id)])


@contextmanager
def kept_on_commit(store: EvidenceStore) -> Iterator[list[str]]:
    """Collect the ids of evidence files written inside a transaction; if it fails, their files
    are removed again, so no file outlives a report that was not saved."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for evidence_id in written:
            store.discard(evidence_id)
        raise


def submit_report(
    session: Session,
    cipher: FieldCipher,
    data: ReportIn,
    submission: Submission,
    files: Sequence[Checked] = (),
    *,
    store: EvidenceStore | None = None,
    written: list[str] | None = None,
) -> Receipt:
    """Write a report and its records in the caller's transaction; returns the receipt code,
    which is shown once and never stored."""
    now = utcnow()
    writer = RegistryWriter(
        session,
        cipher,
        Actor(submission.handler, submission.actor, submission.surface),
        defer_audit=True,
    )
    incident_id = writer.add_incident(
        IncidentIn(
            title=f"Report received {now.date().isoformat()}",
            narrative=data.what_happened,
            narrative_language=data.language,
            occurred=data.occurred,
            reported_on=now.date(),
            origin_state=data.origin_state,
            host_state=data.host_state,
            tactics=data.tactics,
            tlp=Tlp.AMBER_STRICT,
        )
    )
    identity = Identity(names=(Name(value=data.target_name),)) if data.target_name else None
    person_id = writer.add_person(
        PersonIn(identity=identity, profile=data.target_profile, tlp=Tlp.AMBER_STRICT)
    )
    writer.link_person(incident_id, person_id, PersonRole.TARGET)
    if data.relation is ReporterRelation.RELATIVE:
        # The pressure reaches the person through a relative in the home country.
        relative_id = writer.add_person(PersonIn(tlp=Tlp.AMBER_STRICT))
        writer.link_person(
            incident_id, relative_id, PersonRole.RELATIVE_TARGETED, on_behalf_of=person_id
        )
    evidence_ids = [
        _add_evidence(writer, incident_id, checked, submission.actor, now) for checked in files
    ]
    writer.flush()
    consent = _record_consent(
        session, person_id, frozenset(data.consent), data.host_state, submission.actor
    )
    code = new_receipt_code()
    report = Report(
        id=new_id(),
        receipt_hash=receipt_hash(code),
        handled_by=submission.handler,
        incident_id=incident_id,
        person_id=person_id,
        channel=submission.channel,
        status=ReportStatus.RECEIVED,
        urgent=data.urgent,
        relation=data.relation,
        perpetrator_kind=data.perpetrator_kind,
        language=data.language,
        received_at=now,
        updated_at=now,
        ack_due_at=submission.deadlines.due(now, data.urgent),
        escalation_level=0,
    )
    report.contact = _seal_json(cipher, "contact", report.id, _contact(data))
    report.details = _seal_json(
        cipher, "details", report.id, {"perpetrator": data.perpetrator, "place": data.place}
    )
    session.add(report)
    session.flush()
    filing = None if store is None or written is None else _Filing(store, written)
    _store_files(session, cipher, report.id, zip(evidence_ids, files, strict=True), filing)
    created = Change(submission.actor, "create", "reports", report.id, surface=submission.surface)
    # One append, last: the chain's head stays locked only until the commit that follows.
    append(session, [*writer.deferred, *consent, created])
    return Receipt(report.id, code, tuple((c.filename, c.sha256) for c in files))


def _contact(data: ReportIn) -> dict[str, Any] | None:
    return None if data.contact is None else data.contact.model_dump()


def _add_evidence(
    writer: RegistryWriter, incident_id: str, checked: Checked, actor: str, now: datetime
) -> str:
    evidence_id = writer.add_evidence(
        EvidenceIn(
            # Made safe again here: a Checked built by hand must not fail the report.
            filename=safe_filename(checked.filename),
            media_type=checked.kind.media_type,
            size_bytes=checked.size,
            sha256=checked.sha256,
            acquired_at=now,
            acquisition_method=AcquisitionMethod.SUBMITTED_BY_REPORTER,
            acquired_by=actor,
            tlp=Tlp.AMBER_STRICT,
        )
    )
    writer.link_evidence(incident_id, evidence_id)
    return evidence_id


@dataclass(frozen=True, slots=True)
class _Filing:
    """Where a report's files go, and the ids written so far (see :func:`kept_on_commit`)."""

    store: EvidenceStore
    written: list[str]


def _store_files(
    session: Session,
    cipher: FieldCipher,
    report_id: str,
    files: Iterable[tuple[str, Checked]],
    filing: _Filing | None,
) -> None:
    for evidence_id, checked in files:
        if filing is None:
            raise ValidationFailed("files need an evidence store")
        filing.written.append(evidence_id)
        filing.store.put(cipher, evidence_id, "original", checked.content)
        if checked.clean is not None:
            filing.store.put(cipher, evidence_id, "clean", checked.clean)
        session.add(
            EvidenceFile(
                evidence_id=evidence_id,
                report_id=report_id,
                clean_sha256=checked.clean_sha256,
                clean_size=None if checked.clean is None else len(checked.clean),
            )
        )
    session.flush()


def _seal_json(cipher: FieldCipher, column: str, report_id: str, value: Any) -> bytes | None:
    if value is None:
        return None
    payload = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    return cipher.encrypt(payload, sealed_context("reports", column, report_id))


def open_json(cipher: FieldCipher, column: str, report: Report) -> Any:
    sealed = getattr(report, column)
    if sealed is None:
        return None
    return json.loads(cipher.decrypt(sealed, sealed_context("reports", column, report.id)))


# -- follow-up -------------------------------------------------------------------------------


def find_report(session: Session, code: str) -> Report | None:
    """The report a receipt code belongs to; None for a code that is wrong in any way."""
    digest = receipt_hash(code)
    if digest is None:
        return None
    return session.scalar(select(Report).where(Report.receipt_hash == digest))


@dataclass(frozen=True, slots=True)
class Message:
    sender: MessageSender
    body: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class FileView:
    evidence_id: str
    filename: str
    media_type: str
    size: int
    sha256: str
    cleaned: bool


@dataclass(frozen=True, slots=True)
class FollowUp:
    report: Report
    messages: tuple[Message, ...]
    files: tuple[FileView, ...]
    consent: frozenset[RecipientKind]


def follow_up(
    session: Session,
    cipher: FieldCipher,
    report: Report,
    files_where: ColumnElement[bool] | None = None,
) -> FollowUp:
    """What the reporter sees: status, the conversation, their files and their consent. Staff
    see it through :func:`haven.intake.cases.case_follow_up`, which passes the gate's condition
    on the evidence (``files_where``)."""
    rows = session.scalars(
        select(ReportMessage)
        .where(ReportMessage.report_id == report.id)
        .order_by(ReportMessage.sent_at, ReportMessage.id)
    )
    messages = tuple(
        Message(
            row.sender,
            cipher.decrypt(row.body, sealed_context("report_messages", "body", row.id)).decode(),
            row.sent_at,
        )
        for row in rows
    )
    granted = session.scalars(
        select(Consent.recipient_kind).where(
            Consent.person_id == report.person_id, Consent.granted.is_(True)
        )
    )
    return FollowUp(
        report,
        messages,
        report_files(session, cipher, report.id, files_where),
        frozenset(map(RecipientKind, granted)),
    )


def report_files(
    session: Session,
    cipher: FieldCipher,
    report_id: str,
    where: ColumnElement[bool] | None = None,
) -> tuple[FileView, ...]:
    """A report's files: all of them for the reporter, who sent them; for staff only those the
    gate's condition ``where`` (``visible(reader, Evidence)``) lets them see."""
    rows = session.execute(
        select(Evidence, EvidenceFile)
        .join(EvidenceFile, EvidenceFile.evidence_id == Evidence.id)
        .where(EvidenceFile.report_id == report_id, true() if where is None else where)
        .order_by(Evidence.id)
    )
    views = []
    for evidence, stored in rows:
        name = ""
        if evidence.filename is not None:
            context = sealed_context("evidence", "filename", evidence.id)
            name = cipher.decrypt(evidence.filename, context).decode()
        views.append(
            FileView(
                evidence.id,
                name,
                evidence.media_type,
                evidence.size_bytes,
                evidence.sha256,
                stored.clean_sha256 is not None,
            )
        )
    return tuple(views)


def add_message(
    session: Session,
    cipher: FieldCipher,
    report: Report,
    body: str,
    *,
    sender: MessageSender,
    author_id: str | None = None,
) -> str:
    body = body.strip()
    if not body:
        raise ValidationFailed("the message is empty")
    if len(body) > 20_000:
        raise ValidationFailed("the message is longer than 20,000 characters")
    message_id = new_id()
    sealed = cipher.encrypt(body.encode(), sealed_context("report_messages", "body", message_id))
    session.add(
        ReportMessage(
            id=message_id,
            report_id=report.id,
            sender=sender,
            author_id=author_id,
            body=sealed,
            sent_at=utcnow(),
        )
    )
    report.updated_at = utcnow()
    session.flush()
    actor = REPORTER if sender is MessageSender.REPORTER else f"user:{author_id}"
    append(session, [Change(actor, "create", "report_messages", message_id)])
    return message_id


def add_files(
    session: Session,
    cipher: FieldCipher,
    report: Report,
    files: Sequence[Checked],
    *,
    store: EvidenceStore,
    written: list[str],
) -> None:
    """Evidence the reporter adds later, linked to the report's incident."""
    handler = Actor(report.handled_by, REPORTER, "report-follow-up")
    writer = RegistryWriter(session, cipher, handler)
    now = utcnow()
    ids = [_add_evidence(writer, report.incident_id, c, REPORTER, now) for c in files]
    writer.flush()
    _store_files(session, cipher, report.id, zip(ids, files, strict=True), _Filing(store, written))
    report.updated_at = now


def change_consent(
    session: Session, report: Report, granted: frozenset[RecipientKind], host_state: str | None
) -> None:
    """Set the reporter's consent anew; withdrawing all of it leaves the report with the
    organisation that handles it only."""
    append(session, _record_consent(session, report.person_id, granted, host_state, REPORTER))
    report.updated_at = utcnow()


def _record_consent(
    session: Session,
    person_id: str,
    granted: frozenset[RecipientKind],
    host_state: str | None,
    actor: str,
) -> list[Change]:
    """A statement for every kind of recipient. Consent to authorities is consent to those of
    the EU member state where it happened, and cannot be given here without one (a caseworker
    records a wider consent with the person, if they give it). A kind left out is withdrawn for
    every member state, whatever the host state now is."""
    in_union = host_state is not None and is_member_state(host_state)
    statements = []
    for kind in RecipientKind:
        if kind not in granted:
            statements.append(Statement(kind, False))
        elif kind is not RecipientKind.AUTHORITY:
            statements.append(Statement(kind, True))
        elif in_union:
            statements.append(Statement(kind, True, host_state))
        elif not _states_authority(session, person_id):
            # Wished for but not possible without a member state: recorded as not given, and
            # an earlier grant the person made is left as it was.
            statements.append(Statement(kind, False))
    return state_consent(session, person_id, statements, actor=actor)


def _states_authority(session: Session, person_id: str) -> bool:
    found = session.scalar(
        select(Consent.person_id).where(
            Consent.person_id == person_id,
            Consent.recipient_kind == RecipientKind.AUTHORITY.value,
        )
    )
    return found is not None


def own_report(session: Session, report_id: str, handler: str) -> Report:
    """A report the caller's organisation just received (its receipt in hand), to tell of it."""
    report = session.get(Report, report_id)
    if report is None or report.handled_by != handler:
        raise NotFound("no such report")
    return report
