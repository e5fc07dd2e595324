"""Organisations, users, API tokens and sharing groups: creating them and resolving a reader."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from haven.access.integrity import MEMBERS, USER_ACCESS, access_state_change
from haven.access.models import ApiToken, SharingGroup, SharingGroupMember, User
from haven.access.passwords import DUMMY_HASH, hash_password, verify_password
from haven.access.policy import Reader
from haven.audit.chain import Change, append, record_digest
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.enums import ContributorKind, Role
from haven.errors import NotFound, ValidationFailed
from haven.registry.contributors import ensure_contributor
from haven.registry.models import Contributor
from haven.registry.paging import is_record_id
from haven.registry.sealed import sealed_context

TOKEN_PREFIX = "hvn_"  # noqa: S105 (a prefix that lets secret scanners spot leaked tokens)
TOKEN_SCOPES = frozenset({"read", "write"})


def login_index(cipher: FieldCipher, login: str) -> str:
    return cipher.blind_index("login", login)


@dataclass(frozen=True, slots=True)
class NewOrganisation:
    """An organisation that uses Haven; an authority names the member state it serves."""

    name: str
    kind: ContributorKind
    member_state: str | None = None


def create_organisation(
    session: Session, cipher: FieldCipher, new: NewOrganisation, *, actor: str
) -> str:
    name, kind, member_state = new.name, new.kind, new.member_state
    if kind is ContributorKind.AUTHORITY and member_state is None:
        raise ValidationFailed("an authority serves a member state: give its country code")
    if session.scalar(select(Contributor.id).where(Contributor.name == name)) is not None:
        raise ValidationFailed(f"an organisation called {name!r} exists already")
    return ensure_contributor(session, cipher, name, kind, member_state, actor=actor)


@dataclass(frozen=True, slots=True)
class NewUser:
    organisation_id: str
    login: str
    password: str
    roles: frozenset[Role]
    system_admin: bool = False


def create_user(session: Session, cipher: FieldCipher, new: NewUser, *, actor: str) -> str:
    if session.get(Contributor, new.organisation_id) is None:
        raise NotFound(f"no organisation {new.organisation_id}")
    login, organisation_id = new.login, new.organisation_id
    index = login_index(cipher, login)
    if session.scalar(select(User.id).where(User.login_index == index)) is not None:
        raise ValidationFailed("that login is taken")
    user_id = new_id()
    state = {
        "id": user_id,
        "organisation_id": organisation_id,
        "login_index": index,
        "login": cipher.encrypt(login.encode(), f"users.login:{user_id}"),
        "password_hash": hash_password(new.password),
        "roles": sorted(role.value for role in new.roles),
        "system_admin": new.system_admin,
        "failed_sign_ins": 0,
        "created_at": utcnow(),
    }
    session.execute(insert(User), [state])
    digest_state = {k: v for k, v in state.items() if k != "password_hash"}
    append(
        session,
        [
            Change(
                actor,
                "create",
                "users",
                user_id,
                after=record_digest(cipher, "users", digest_state),
            ),
            access_state_change(session, USER_ACCESS, (user_id,), actor=actor),
        ],
    )
    return user_id


def set_roles(session: Session, user_id: str, roles: frozenset[Role], *, actor: str) -> None:
    """Give a user these roles in place of those they had."""
    user = session.get(User, user_id) if is_record_id(user_id) else None
    if user is None:
        raise NotFound("no such user")
    user.roles = sorted(role.value for role in roles)
    session.flush()
    append(
        session,
        [
            Change(actor, "set-roles", "users", user_id),
            access_state_change(session, USER_ACCESS, (user_id,), actor=actor),
        ],
    )


def check_password(session: Session, cipher: FieldCipher, login: str, password: str) -> User | None:
    """The user whose login and password these are, or None; equally slow either way."""
    user = session.scalar(select(User).where(User.login_index == login_index(cipher, login)))
    if user is None:
        verify_password(DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    secret: str
    expires_at: datetime


def token_hash(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenRequest:
    user_id: str
    name: str
    scopes: frozenset[str]
    lifetime: timedelta


def create_token(
    session: Session, cipher: FieldCipher, request: TokenRequest, *, actor: str
) -> IssuedToken:
    user_id, name, wanted = request.user_id, request.name, set(request.scopes)
    if not wanted or not wanted <= TOKEN_SCOPES:
        raise ValidationFailed(f"scopes must be among {', '.join(sorted(TOKEN_SCOPES))}")
    if session.get(User, user_id) is None:
        raise NotFound(f"no user {user_id}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = new_id()
    expires_at = utcnow() + request.lifetime
    state = {
        "id": token_id,
        "user_id": user_id,
        "token_hash": token_hash(secret),
        "name": cipher.encrypt(name.encode(), sealed_context("api_tokens", "name", token_id)),
        "scopes": sorted(wanted),
        "expires_at": expires_at,
        "created_at": utcnow(),
    }
    session.execute(insert(ApiToken), [state])
    # The sealed name enters the digest as a keyed digest of its plaintext (as stored_state does).
    digest_state = {**state, "name": cipher.digest(name.encode())}
    append(
        session,
        [
            Change(
                actor,
                "create",
                "api_tokens",
                token_id,
                after=record_digest(cipher, "api_tokens", digest_state),
            )
        ],
    )
    return IssuedToken(token_id, secret, expires_at)


def token_name(cipher: FieldCipher, token: ApiToken) -> str:
    return cipher.decrypt(token.name, sealed_context("api_tokens", "name", token.id)).decode()


@dataclass(frozen=True, slots=True)
class TokenView:
    """A user's API token as their account page lists it, its name decrypted."""

    id: str
    name: str
    scopes: list[str]
    expires_at: datetime
    revoked_at: datetime | None


def tokens_of(session: Session, cipher: FieldCipher, user_id: str) -> list[TokenView]:
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at)
    )
    return [
        TokenView(t.id, token_name(cipher, t), list(t.scopes), t.expires_at, t.revoked_at)
        for t in tokens
    ]


@dataclass(frozen=True, slots=True)
class NewGroup:
    """A sharing group, owned by one organisation, which is always among its members."""

    name: str
    owner_id: str
    members: Iterable[str] = ()


def create_sharing_group(
    session: Session, cipher: FieldCipher, new: NewGroup, *, actor: str
) -> str:
    name, owner_id, members = new.name, new.owner_id, new.members
    if session.scalar(select(SharingGroup.id).where(SharingGroup.name == name)) is not None:
        raise ValidationFailed(f"a sharing group called {name!r} exists already")
    group_id = new_id()
    session.execute(
        insert(SharingGroup),
        [{"id": group_id, "name": name, "owner_id": owner_id, "created_at": utcnow()}],
    )
    organisations = sorted({owner_id, *members})
    session.execute(
        insert(SharingGroupMember),
        [{"group_id": group_id, "organisation_id": org} for org in organisations],
    )
    state = {"id": group_id, "name": name, "owner_id": owner_id, "members": organisations}
    append(
        session,
        [
            Change(
                actor,
                "create",
                "sharing_groups",
                group_id,
                after=record_digest(cipher, "sharing_groups", state),
            ),
            access_state_change(session, MEMBERS, (group_id,), actor=actor),
        ],
    )
    return group_id


def reader_for(
    session: Session, user: User, *, surface: str, scopes: frozenset[str] = TOKEN_SCOPES
) -> Reader:
    organisation = session.get(Contributor, user.organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation {user.organisation_id}")
    groups = session.scalars(
        select(SharingGroupMember.group_id).where(
            SharingGroupMember.organisation_id == user.organisation_id
        )
    )
    return Reader(
        user_id=user.id,
        organisation_id=organisation.id,
        organisation_kind=organisation.kind,
        member_state=organisation.member_state,
        roles=frozenset(Role(role) for role in user.roles),
        groups=frozenset(groups),
        surface=surface,
        scopes=scopes,
    )


def revoke_token(session: Session, token_id: str, *, user_id: str | None, actor: str) -> None:
    """Revoke a token at once; with ``user_id``, only if it is that user's own."""
    token = session.get(ApiToken, token_id) if is_record_id(token_id) else None
    if token is None or (user_id is not None and token.user_id != user_id):
        raise NotFound("no such token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        append(session, [Change(actor, "revoke", "api_tokens", token_id)])
