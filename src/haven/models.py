"""Every table Haven owns, imported in one place so the metadata is complete."""

from haven.access.models import (
    ApiToken,
    Consent,
    ConsentEvent,
    RecordRecipient,
    RecordShare,
    SharingGroup,
    SharingGroupMember,
    User,
)
from haven.audit.models import AuditEntry, AuditHead
from haven.casework.models import CaseEvent, CaseLink, CaseNote, Referral
from haven.db.meta import Meta
from haven.insight.models import (
    HostRegion,
    MethodCount,
    PlaceCount,
    ProfileCount,
    TacticCount,
    TacticMethod,
    TraitCount,
)
from haven.intake.models import EvidenceFile, IdempotencyKey, ImportedRow, Report, ReportMessage
from haven.notify.models import InboxItem, OutboxMessage, Subscription, Webhook
from haven.registry.history import RecordVersion
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

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "CaseEvent",
    "CaseLink",
    "CaseNote",
    "Consent",
    "ConsentEvent",
    "Contributor",
    "Evidence",
    "EvidenceFile",
    "HostRegion",
    "IdempotencyKey",
    "ImportedRow",
    "InboxItem",
    "Incident",
    "IncidentEvidence",
    "IncidentInstrument",
    "IncidentOrganisation",
    "IncidentPerson",
    "IncidentTactic",
    "LegalInstrument",
    "Meta",
    "MethodCount",
    "Organisation",
    "OutboxMessage",
    "Person",
    "PersonLookup",
    "PlaceCount",
    "ProfileCount",
    "RecordRecipient",
    "RecordShare",
    "RecordVersion",
    "Referral",
    "Report",
    "ReportMessage",
    "SharingGroup",
    "SharingGroupMember",
    "Subscription",
    "TacticCount",
    "TacticMethod",
    "TraitCount",
    "User",
    "Webhook",
]
