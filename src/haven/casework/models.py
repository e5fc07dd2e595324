"""Casework tables: a report's timeline, internal notes, links to registry records, and
referrals to authorities and other organisations with their acknowledgement and action."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base
from haven.db.dialect import Guid, UtcDateTime
from haven.db.values import new_id, utcnow
from haven.domain.enums import AuthorityAction, CaseEventKind, ReferralStatus
from haven.registry.models import closed


class CaseEvent(Base):
    """One step in a case's life: who did what, when. Never changed, never removed."""

    __tablename__ = "case_events"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    report_id: Mapped[str] = mapped_column(Guid, ForeignKey("reports.id"), index=True)
    kind: Mapped[CaseEventKind] = mapped_column(closed(CaseEventKind, "case_event_kind"))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str | None] = mapped_column(String(40))
    # What the step was about, without names: "user:<id>", "incidents:<id>", an action code.
    detail: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CaseNote(Base):
    """An internal note: read by the handling organisation only, never by the reporter."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    report_id: Mapped[str] = mapped_column(Guid, ForeignKey("reports.id"), index=True)
    author_id: Mapped[str] = mapped_column(Guid, ForeignKey("users.id"))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    written_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CaseLink(Base):
    """A registry record the case concerns: an earlier incident, a person, a perpetrator."""

    __tablename__ = "case_links"

    report_id: Mapped[str] = mapped_column(Guid, ForeignKey("reports.id"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(Guid, primary_key=True)
    linked_by: Mapped[str] = mapped_column(String(200))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Referral(Base):
    """A case passed to a member-state authority or another organisation, within the person's
    consent, asking for protection, an investigation, legal aid or digital-security help."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    report_id: Mapped[str] = mapped_column(Guid, ForeignKey("reports.id"), index=True)
    to_organisation: Mapped[str] = mapped_column(Guid, ForeignKey("contributors.id"), index=True)
    asks: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ReferralStatus] = mapped_column(
        closed(ReferralStatus, "referral_status"), default=ReferralStatus.SENT
    )
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_by: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[AuthorityAction | None] = mapped_column(
        closed(AuthorityAction, "authority_action")
    )
    # Why, in the authority's words: may name people, so it is sealed.
    action_reason: Mapped[bytes | None] = mapped_column(LargeBinary)
    action_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    action_by: Mapped[str | None] = mapped_column(String(200))
