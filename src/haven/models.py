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
from haven.db.meta import Meta
from haven.intake.models import EvidenceFile, IdempotencyKey, ImportedRow, Report, ReportMessage
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
    "Consent",
    "ConsentEvent",
    "Contributor",
    "Evidence",
    "EvidenceFile",
    "IdempotencyKey",
    "ImportedRow",
    "Incident",
    "IncidentEvidence",
    "IncidentInstrument",
    "IncidentOrganisation",
    "IncidentPerson",
    "IncidentTactic",
    "LegalInstrument",
    "Meta",
    "Organisation",
    "Person",
    "PersonLookup",
    "RecordRecipient",
    "RecordShare",
    "Report",
    "ReportMessage",
    "SharingGroup",
    "SharingGroupMember",
    "User",
]
