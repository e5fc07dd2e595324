"""Closed vocabularies that the database enforces with CHECK constraints.

Open vocabularies that grow with the field (tactics, target profiles, state responsibility) live in
the versioned taxonomy instead; these change only with a migration.
"""

from __future__ import annotations

from enum import StrEnum


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 (FIRST), https://www.first.org/tlp/."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


class DatePrecision(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    RANGE = "range"


class HostInvolvement(StrEnum):
    NONE = "none"
    COMPLICIT = "complicit"
    ACTIVE = "active"
    UNKNOWN = "unknown"


class Accusation(StrEnum):
    TERRORISM = "terrorism"
    EXTREMISM = "extremism"
    STATE_SECURITY = "state-security"
    FRAUD = "fraud"
    OTHER = "other"


class IncidentStatus(StrEnum):
    REPORTED = "reported"
    UNDER_REVIEW = "under-review"
    VERIFIED = "verified"
    NOT_SUBSTANTIATED = "not-substantiated"
    ARCHIVED = "archived"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


class AgeBand(StrEnum):
    MINOR = "under-18"
    YOUNG = "18-29"
    ADULT = "30-44"
    MIDDLE = "45-64"
    SENIOR = "65-plus"


class OrganisationKind(StrEnum):
    """Actors in the registry (who did what), not the organisations that use Haven."""

    STATE_AGENCY = "state-agency"
    PROXY = "proxy"
    COMPANY = "company"
    SURVEILLANCE_VENDOR = "surveillance-vendor"
    NGO = "ngo"
    AUTHORITY = "authority"


class ContributorKind(StrEnum):
    """Organisations that contribute records to Haven."""

    NGO = "ngo"
    AUTHORITY = "authority"
    EU_BODY = "eu-body"
    COMPANY = "company"
    SYSTEM = "system"


class InstrumentKind(StrEnum):
    RED_NOTICE = "red-notice"
    DIFFUSION = "diffusion"
    EXTRADITION_REQUEST = "extradition-request"
    PASSPORT_CANCELLATION = "passport-cancellation"
    CONSULAR_DENIAL = "consular-denial"
    ARREST_WARRANT = "arrest-warrant"


class InstrumentStatus(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"  # e.g. by the Commission for the Control of Interpol's Files
    EXECUTED = "executed"
    UNKNOWN = "unknown"


class PersonRole(StrEnum):
    TARGET = "target"
    RELATIVE_TARGETED = "relative-targeted-by-proxy"
    PERPETRATOR = "perpetrator"
    PROXY = "proxy"
    WITNESS = "witness"
    SOURCE = "source"


class Relationship(StrEnum):
    """How a relative targeted by proxy is related to the person the pressure is aimed at."""

    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    SPOUSE = "spouse"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    OTHER_RELATIVE = "other-relative"


class OrganisationRole(StrEnum):
    PERPETRATOR = "perpetrator"
    PROXY = "proxy"
    INSTIGATING_AGENCY = "instigating-agency"
    WITNESS = "witness"
    SOURCE = "source"


class AcquisitionMethod(StrEnum):
    """How a piece of evidence was obtained (Berkeley Protocol on Digital Open Source
    Investigations)."""

    SUBMITTED_BY_REPORTER = "submitted-by-reporter"
    ONLINE_CAPTURE = "online-capture"
    DEVICE_EXTRACTION = "device-extraction"
    DOCUMENT_REQUEST = "document-request"
    INTERVIEW = "interview"
    OTHER = "other"


class Role(StrEnum):
    CASEWORKER = "caseworker"
    COORDINATOR = "coordinator"  # assigns and refers
    ANALYST = "analyst"  # aggregates only, never identities
    AUDITOR = "auditor"  # reads the audit log
    ADMINISTRATOR = "administrator"  # of their own organisation


class RecipientKind(StrEnum):
    """Kinds of recipient a person consents to, per the European Parliament's notion of who may
    act on a case."""

    NGO = "ngo"
    AUTHORITY = "authority"
    EU_BODY = "eu-body"
    COMPANY = "company"


class ReportStatus(StrEnum):
    """Where a report stands, as its reporter sees it on the follow-up page."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    VERIFIED = "verified"
    NOT_SUBSTANTIATED = "not-substantiated"
    REFERRED = "referred"
    ACKNOWLEDGED = "acknowledged"
    ACTION_RECORDED = "action-recorded"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class ReportChannel(StrEnum):
    PUBLIC_FORM = "public-form"
    API = "api"


class ReporterRelation(StrEnum):
    """Who was targeted, from the reporter's side."""

    SELF = "self"
    RELATIVE = "relative-in-home-country"
    COLLEAGUE = "colleague"
    OTHER = "other"


class PerpetratorKind(StrEnum):
    """Who the reporter believes is behind it."""

    STATE = "state"
    AGENCY = "agency"
    EMBASSY = "embassy"
    PROXY = "proxy"
    UNKNOWN = "unknown"


class MessageSender(StrEnum):
    REPORTER = "reporter"
    ORGANISATION = "organisation"


class CaseEventKind(StrEnum):
    STATUS = "status"
    ASSIGNMENT = "assignment"
    NOTE = "note"
    LINK = "link"
    REFERRAL = "referral"
    ACKNOWLEDGEMENT = "acknowledgement"
    ACTION = "action"
    ESCALATION = "escalation"


class ReferralAsk(StrEnum):
    """What a referral asks of its recipient."""

    PROTECTION = "protection"
    INVESTIGATION = "investigation"
    LEGAL_AID = "legal-aid"
    DIGITAL_SECURITY = "digital-security"


class ReferralStatus(StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACTION_RECORDED = "action-recorded"


class AuthorityAction(StrEnum):
    """What an authority did, in a fixed vocabulary."""

    PROTECTION_MEASURES = "protection-measures"
    INVESTIGATION_OPENED = "investigation-opened"
    PROSECUTION = "prosecution"
    DIPLOMATIC_STEP = "diplomatic-step"
    NO_ACTION = "no-action"
