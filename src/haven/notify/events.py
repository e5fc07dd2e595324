"""What happened, as notification sees it: no names, no narrative, no place, only what a rule
can match on and what a message may say (its kind, reference and link)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from haven.domain.enums import Tlp


class EventKind(StrEnum):
    REPORT_RECEIVED = "report-received"
    RECORD_CREATED = "record-created"
    REFERRAL_RECEIVED = "referral-received"
    REFERRAL_ACKNOWLEDGED = "referral-acknowledged"
    ACTION_RECORDED = "action-recorded"
    DEADLINE_APPROACHING = "deadline-approaching"
    DEADLINE_PASSED = "deadline-passed"


@dataclass(frozen=True, slots=True)
class Event:
    """A change worth telling someone about, raised in the transaction that made it."""

    kind: EventKind
    entity: str  # the table of the record to look at: "reports", "referrals", "incidents"
    record_id: str
    reference: str  # short and meaningless outside Haven, e.g. "R-2026-1F3A9C"
    link: str  # path on this Haven, e.g. "/cases/<id>"
    tlp: Tlp
    incident_id: str | None = None  # whose visibility (label and consent) decides who is told
    host_state: str | None = None
    origin_state: str | None = None
    tactics: tuple[str, ...] = ()
    urgent: bool = False
    # Registry records appearing in the change, for watch lists.
    person_ids: tuple[str, ...] = ()
    organisation_ids: tuple[str, ...] = ()
    # Addressed directly: a referral's receiving organisation, the coordinators of a late case.
    organisation_id: str | None = None
    user_ids: tuple[str, ...] = ()
