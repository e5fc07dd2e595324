"""Who is reading, as the policy gate needs to know it."""

from __future__ import annotations

from dataclasses import dataclass

from haven.domain.enums import ContributorKind, RecipientKind, Role

RECORD_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR, Role.ANALYST})
IDENTITY_ROLES = frozenset({Role.CASEWORKER, Role.COORDINATOR})

_RECIPIENT_KIND = {
    ContributorKind.NGO: RecipientKind.NGO,
    ContributorKind.AUTHORITY: RecipientKind.AUTHORITY,
    ContributorKind.EU_BODY: RecipientKind.EU_BODY,
    ContributorKind.COMPANY: RecipientKind.COMPANY,
}


@dataclass(frozen=True, slots=True)
class Reader:
    """A user of an organisation (or the public), through one surface."""

    user_id: str | None
    organisation_id: str | None
    organisation_kind: ContributorKind | None
    member_state: str | None
    roles: frozenset[Role]
    groups: frozenset[str]
    surface: str
    scopes: frozenset[str] = frozenset({"read"})

    @classmethod
    def public(cls, surface: str) -> Reader:
        return cls(None, None, None, None, frozenset(), frozenset(), surface)

    @property
    def is_public(self) -> bool:
        return self.organisation_id is None

    @property
    def recipient_kind(self) -> RecipientKind | None:
        if self.organisation_kind is None:
            return None
        return _RECIPIENT_KIND.get(self.organisation_kind)

    @property
    def reads_records(self) -> bool:
        if "read" not in self.scopes:
            return False
        return self.is_public or bool(self.roles & RECORD_ROLES)

    @property
    def reads_identities(self) -> bool:
        return not self.is_public and bool(self.roles & IDENTITY_ROLES)

    @property
    def reads_narratives(self) -> bool:
        """Free text may name people, so it follows the identity rule."""
        return self.reads_identities

    @property
    def is_state_authority(self) -> bool:
        """An authority of a member state, which urgent cases there reach."""
        return self.organisation_kind is ContributorKind.AUTHORITY and bool(self.member_state)

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}" if self.user_id else "public"
