"""Receipt codes: what a reporter keeps to follow their report up, without an account.

A code is 20 characters of Crockford's base 32 (100 bits), shown once in groups of five. Only
its SHA-256 is stored. Reading it back forgives what people get wrong when copying a code: case,
spaces and dashes, and O, I and L for 0, 1 and 1.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 20
GROUP = 5
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_receipt_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def canonical(code: str) -> str | None:
    """The code as generated, or None when it cannot be one."""
    compact = "".join(code.split()).replace("-", "").upper().translate(_CONFUSABLE)
    if len(compact) != LENGTH or any(char not in ALPHABET for char in compact):
        return None
    return "-".join(compact[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def receipt_hash(code: str) -> str | None:
    """The stored form of a code as typed, or None when it cannot be a code."""
    form = canonical(code)
    if form is None:
        return None
    return hashlib.sha256(f"haven receipt {form}".encode()).hexdigest()
