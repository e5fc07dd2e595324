"""Signing in: passwords with lock-out, the TOTP second factor, recovery codes and sessions.

A second factor (RFC 6238 TOTP) is mandatory for every role that can see identifying data.
Messages about a failed attempt never say whether the login exists. A failure is returned, not
raised, so that the caller commits the failure count that leads to a lock-out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from haven.access.accounts import check_password, login_index
from haven.access.models import RecoveryCode, User, WebSession
from haven.access.policy import IDENTITY_ROLES
from haven.audit.chain import Change, append
from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.domain.enums import Role
from haven.errors import HavenError, ValidationFailed
from haven.registry.paging import is_record_id

MAX_FAILURES = 5
LOCK_OUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
RECOVERY_CODES = 10
ISSUER = "Haven"


class SignInRefused(HavenError):
    status = 401


# The same words whether the account exists or not (see web/limits.py for unknown logins).
LOCKED = SignInRefused(
    "too many failed attempts: this account is locked",
    hint="try again in 15 minutes, or ask your administrator",
)


class Next(StrEnum):
    """Where a session goes after the password."""

    DONE = "done"
    SECOND_FACTOR = "second-factor"
    ENROL = "enrol"


@dataclass(frozen=True, slots=True)
class Started:
    secret: str
    next: Next


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# Roles that can see identifying data, and administrators, who can give a role that does.
SECOND_FACTOR_ROLES = IDENTITY_ROLES | {Role.ADMINISTRATOR}


def needs_second_factor(user: User) -> bool:
    return bool({Role(r) for r in user.roles} & SECOND_FACTOR_ROLES) or user.system_admin


def _locked(user: User) -> SignInRefused | None:
    if user.locked_until is not None and user.locked_until > utcnow():
        return LOCKED
    return None


def _lock(session: Session, user: User) -> None:
    user.locked_until = utcnow() + LOCK_OUT
    append(session, [Change("sign-in", "lock", "users", user.id, surface="web")])


def _failed(session: Session, user: User) -> None:
    user.failed_sign_ins += 1
    if user.failed_sign_ins >= MAX_FAILURES:
        user.failed_sign_ins = 0
        _lock(session, user)


def _failed_code(session: Session, user: User) -> None:
    # Counted apart from passwords and reset only by a correct code: someone who holds the
    # password could otherwise sign in again before every fifth guess and never be locked.
    user.failed_second_factors += 1
    if user.failed_second_factors >= MAX_FAILURES:
        user.failed_second_factors = 0
        _lock(session, user)


def sign_in(
    session: Session, cipher: FieldCipher, login: str, password: str
) -> Started | SignInRefused:
    """Check a password and open a session, locking the account after repeated failures."""
    user = session.scalar(
        select(User).where(User.login_index == login_index(cipher, login)).with_for_update()
    )
    if user is not None and (refusal := _locked(user)) is not None:
        return refusal
    if (
        check_password(session, cipher, login, password) is None
        or user is None
        or user.disabled_at is not None
    ):
        if user is not None:
            _failed(session, user)
        return SignInRefused("wrong login or password")
    user.failed_sign_ins = 0
    user.locked_until = None
    if user.totp_secret is not None:
        step = Next.SECOND_FACTOR
    else:
        step = Next.ENROL if needs_second_factor(user) else Next.DONE
    return Started(_open(session, user, verified=step is Next.DONE), step)


def _open(session: Session, user: User, *, verified: bool) -> str:
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            id=new_id(),
            secret_hash=_hash(secret),
            user_id=user.id,
            verified=verified,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    append(session, [Change(f"user:{user.id}", "sign-in", "users", user.id, surface="web")])
    return secret


def find_session(session: Session, secret: str) -> WebSession | None:
    """The live session behind a cookie's secret, if any."""
    found = session.scalar(select(WebSession).where(WebSession.secret_hash == _hash(secret)))
    if found is None or found.revoked_at is not None or found.expires_at <= utcnow():
        return None
    return found


def _totp(cipher: FieldCipher, user: User) -> pyotp.TOTP:
    if user.totp_secret is None:
        raise ValidationFailed("no second factor is set up for this account")
    seed = cipher.decrypt(user.totp_secret, f"users.totp_secret:{user.id}").decode()
    return pyotp.TOTP(seed)


def verify_second_factor(
    session: Session, cipher: FieldCipher, web: WebSession, code: str
) -> SignInRefused | None:
    """Accept a current TOTP code (once) or an unused recovery code for a pending session.
    Wrong codes (of either kind) lock the account after MAX_FAILURES, whatever passwords are
    given in between."""
    user = session.get(User, web.user_id, with_for_update=True)
    if user is None:
        return SignInRefused("this session has ended")
    if (refusal := _locked(user)) is not None:
        return refusal
    code = "".join(code.split())
    if code.isdigit():
        try:
            step: int | None = _totp(cipher, user).verify_and_get_timecode(code, valid_window=1)
        except pyotp.exceptions.OTPVerificationError:
            step = None
        if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
            user.totp_last_step = step
            _verified(web, user)
            return None
    elif _use_recovery_code(session, user, code):
        _verified(web, user)
        return None
    _failed_code(session, user)
    return SignInRefused("that code is wrong or was already used")


def _verified(web: WebSession, user: User) -> None:
    web.verified = True
    user.failed_second_factors = 0


def _use_recovery_code(session: Session, user: User, code: str) -> bool:
    wanted = _hash(code.lower())
    for candidate in session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ):
        if hmac.compare_digest(candidate.code_hash, wanted):
            # Only the request that marks the code used may use it, however many race.
            marked = session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == candidate.id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
            )
            if getattr(marked, "rowcount", 0) != 1:
                return False
            append(session, [Change(f"user:{user.id}", "recovery-code", "users", user.id)])
            return True
    return False


def _recovery_code() -> str:
    """Ten lower-case letters (47 bits): never all digits, so never taken for a TOTP code."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


@dataclass(frozen=True, slots=True)
class Enrolment:
    seed: str
    uri: str


def begin_enrolment(login: str) -> Enrolment:
    seed = pyotp.random_base32()
    return Enrolment(seed, pyotp.TOTP(seed).provisioning_uri(name=login, issuer_name=ISSUER))


def finish_enrolment(
    session: Session, cipher: FieldCipher, web: WebSession, seed: str, code: str
) -> list[str]:
    """Store the second factor once the user proved their device has it; returns recovery
    codes, to be shown once."""
    user = session.get(User, web.user_id, with_for_update=True)
    if user is None:
        raise SignInRefused("this session has ended")
    if user.totp_secret is not None:
        # Replacing a second factor would let a password alone take the account over.
        raise SignInRefused(
            "this account has a second factor already",
            hint="an administrator resets it with `haven users reset-2fa` if the device is lost",
        )
    totp = pyotp.TOTP(seed)
    code = "".join(code.split())
    try:
        step = totp.verify_and_get_timecode(code, valid_window=1)
    except pyotp.exceptions.OTPVerificationError:
        raise SignInRefused("that code does not match: check the clock of your device") from None
    user.totp_secret = cipher.encrypt(seed.encode(), f"users.totp_secret:{user.id}")
    user.totp_last_step = step
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    session.execute(
        update(RecoveryCode).where(RecoveryCode.user_id == user.id).values(used_at=utcnow())
    )
    session.add_all(RecoveryCode(id=new_id(), user_id=user.id, code_hash=_hash(c)) for c in codes)
    web.verified = True
    append(session, [Change(f"user:{user.id}", "enrol-2fa", "users", user.id, surface="web")])
    return codes


def reset_second_factor(session: Session, user: User, *, actor: str) -> None:
    """Remove a user's second factor and end their sessions; they enrol again at sign-in."""
    user.totp_secret = None
    user.totp_last_step = None
    session.execute(
        update(RecoveryCode).where(RecoveryCode.user_id == user.id).values(used_at=utcnow())
    )
    revoke_sessions(session, user.id, actor=actor)
    append(session, [Change(actor, "reset-2fa", "users", user.id)])


def revoke_sessions(session: Session, user_id: str, *, actor: str, only: str | None = None) -> int:
    if not is_record_id(user_id) or (only is not None and not is_record_id(only)):
        return 0
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if only is not None:
        query = query.where(WebSession.id == only)
    result = session.execute(query.values(revoked_at=utcnow()))
    append(session, [Change(actor, "revoke-sessions", "users", user_id)])
    return int(getattr(result, "rowcount", 0))


def touch(web: WebSession, now: datetime | None = None) -> None:
    web.last_seen_at = now or utcnow()
