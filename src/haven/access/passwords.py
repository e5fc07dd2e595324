"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from haven.errors import ValidationFailed

MINIMUM_LENGTH = 12
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MINIMUM_LENGTH:
        raise ValidationFailed(f"a password needs at least {MINIMUM_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


# Checked against when a login is unknown, so a wrong login costs as long as a wrong password.
DUMMY_HASH = _HASHER.hash("haven timing equaliser, never a real password")
