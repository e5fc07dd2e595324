"""Who may read what: users, API tokens, sharing groups, record shares and people's consent.

Organisations that use Haven are the registry's contributors (:class:`Contributor`): an NGO, a
member-state authority with the member state it serves, an EU body or a technology company.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base
from haven.db.dialect import Guid, UtcDateTime
from haven.db.values import new_id, utcnow


class User(Base):
    """A person who signs in. Staff are targets too: the login (an e-mail address) is stored
    encrypted and found through its blind index."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(Guid, ForeignKey("contributors.id"), index=True)
    login_index: Mapped[str] = mapped_column(String(64), unique=True)
    login: Mapped[bytes] = mapped_column(LargeBinary)
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    system_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The last time step a code was accepted for: a code is good once, never replayed.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    # Wrong second-factor codes, counted apart: a correct password must not reset them.
    failed_second_factors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiToken(Base):
    """A machine client's bearer token: shown once, stored as its SHA-256, scoped and expiring."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(Guid, ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # What the token is for, encrypted: it may name a partner or a project.
    name: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SharingGroup(Base):
    """A named set of organisations, administered by the organisation that owns it."""

    __tablename__ = "sharing_groups"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner_id: Mapped[str] = mapped_column(Guid, ForeignKey("contributors.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SharingGroupMember(Base):
    __tablename__ = "sharing_group_members"

    group_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("sharing_groups.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("contributors.id"), primary_key=True, index=True
    )


class RecordShare(Base):
    """A TLP:AMBER record shared with a sharing group."""

    __tablename__ = "record_shares"
    __table_args__ = (Index("ix_record_shares_group", "group_id", "entity"),)

    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(Guid, primary_key=True)
    group_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("sharing_groups.id", ondelete="CASCADE"), primary_key=True
    )


class RecordRecipient(Base):
    """A named recipient of a TLP:RED record."""

    __tablename__ = "record_recipients"
    __table_args__ = (Index("ix_record_recipients_user", "user_id", "entity"),)

    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(Guid, primary_key=True)
    user_id: Mapped[str] = mapped_column(Guid, ForeignKey("users.id"), primary_key=True)


class Consent(Base):
    """A person's current consent for one kind of recipient (for authorities: of one member
    state, or of any when ``member_state`` is empty). Every change is also kept in
    :class:`ConsentEvent`; a revocation takes effect with the transaction that records it."""

    __tablename__ = "consents"

    person_id: Mapped[str] = mapped_column(
        Guid, ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    recipient_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    member_state: Mapped[str] = mapped_column(String(2), primary_key=True, default="")
    granted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsentEvent(Base):
    """Append-only history of consent decisions."""

    __tablename__ = "consent_events"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(Guid, ForeignKey("people.id"), index=True)
    recipient_kind: Mapped[str] = mapped_column(String(20))
    member_state: Mapped[str] = mapped_column(String(2), default="")
    granted: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random secret; the database only its SHA-256, so
    a copy of the database signs nobody in."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(Guid, ForeignKey("users.id"), index=True)
    # False until the second factor was given (or enrolled, for a user who must have one).
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RecoveryCode(Base):
    """A one-time code that stands in for the second factor when the device is lost."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(Guid, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(Guid, ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
