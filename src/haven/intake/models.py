"""Intake tables: reports from the public form and the API, their messages and evidence files,
retried API requests (``Idempotency-Key``) and rows brought in by an import.

A report is also a registry record: its incident (sealed narrative, tactics, places) and the
person it happened to (sealed identity, consent), so the policy gate governs it like any other
record. What only intake needs (the receipt code's hash, how to reach the reporter, the
conversation) lives here, sealed where it identifies anyone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base
from haven.db.dialect import Guid, UtcDateTime
from haven.db.values import new_id, utcnow
from haven.domain.enums import (
    MessageSender,
    PerpetratorKind,
    ReportChannel,
    ReporterRelation,
    ReportStatus,
)
from haven.registry.models import closed


class Report(Base):
    """A report of transnational repression, handled by one organisation."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_handler_status", "handled_by", "status"),)

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    # SHA-256 of the receipt code: the code has 100 bits of entropy, so its hash cannot be
    # reversed by guessing, and the code itself is never stored.
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    handled_by: Mapped[str] = mapped_column(Guid, ForeignKey("contributors.id"))
    incident_id: Mapped[str] = mapped_column(Guid, ForeignKey("incidents.id"), index=True)
    person_id: Mapped[str] = mapped_column(Guid, ForeignKey("people.id"), index=True)
    channel: Mapped[ReportChannel] = mapped_column(closed(ReportChannel, "report_channel"))
    status: Mapped[ReportStatus] = mapped_column(
        closed(ReportStatus, "report_status"), default=ReportStatus.RECEIVED
    )
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    relation: Mapped[ReporterRelation] = mapped_column(
        closed(ReporterRelation, "reporter_relation")
    )
    perpetrator_kind: Mapped[PerpetratorKind] = mapped_column(
        closed(PerpetratorKind, "perpetrator_kind")
    )
    language: Mapped[str] = mapped_column(String(35))
    # Sealed JSON: how to reach the reporter safely, or nothing when they asked not to be.
    contact: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Sealed JSON: who the reporter believes is behind it, where it happened, who reports.
    details: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Casework: who handles it, by when it must be acknowledged (triaged), and how often a
    # late acknowledgement was escalated.
    assigned_to: Mapped[str | None] = mapped_column(Guid, ForeignKey("users.id"))
    ack_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReportMessage(Base):
    """One message between the reporter and the organisation handling the report."""

    __tablename__ = "report_messages"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    report_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    sender: Mapped[MessageSender] = mapped_column(closed(MessageSender, "message_sender"))
    author_id: Mapped[str | None] = mapped_column(Guid, ForeignKey("users.id"))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EvidenceFile(Base):
    """Where an evidence record's file lies: the original as received (for the chain of custody)
    and, where the format allows, a copy with its metadata removed; both encrypted on disk."""

    __tablename__ = "evidence_files"

    evidence_id: Mapped[str] = mapped_column(Guid, ForeignKey("evidence.id"), primary_key=True)
    report_id: Mapped[str | None] = mapped_column(Guid, ForeignKey("reports.id"), index=True)
    clean_sha256: Mapped[str | None] = mapped_column(String(64))
    clean_size: Mapped[int | None] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyKey(Base):
    """A creating API request and its answer, kept so that a retry returns the first answer
    instead of creating a second record. The answer is sealed: it can hold a receipt code."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(Guid, ForeignKey("contributors.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class ImportedRow(Base):
    """A spreadsheet row already imported by an organisation, by the digest of its mapped values
    (and its place among identical rows), so that importing the same file again adds nothing."""

    __tablename__ = "imported_rows"

    contributor_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("contributors.id"), primary_key=True
    )
    row_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(Guid, ForeignKey("incidents.id"))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
