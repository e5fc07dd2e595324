"""``Idempotency-Key``: a retried creating request returns the first answer instead of creating a
second record (draft-ietf-httpapi-idempotency-key-header).

The key is claimed in the same transaction that creates the record, before any work: a
concurrent request with the same key waits for the first to commit (PostgreSQL's unique index;
SQLite's single writer) and then answers with what the first one stored. Nothing is half done
either way: the record and the stored answer commit together or not at all. Keys are scoped to
the organisation and kept for a day.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.db.values import new_id, utcnow
from haven.errors import HavenError, ValidationFailed
from haven.intake.models import IdempotencyKey
from haven.registry.sealed import sealed_context

KEPT_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 200


class KeyReused(HavenError):
    status = 422


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def request_digest(method: str, path: str, payload: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{payload}".encode()).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            hint="a random UUID per logical request is a good key",
        )
    return key


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A creating request as idempotency sees it: the organisation making it, the key it carries
    (None when it carries none) and the digest of what it asks for."""

    organisation_id: str
    key: str | None
    digest: str


def once(
    session: Session, cipher: FieldCipher, request: KeyedRequest, work: Callable[[], Answer]
) -> Answer:
    """Run ``work`` unless this organisation already made this request with this key; then
    return the first answer."""
    if request.key is None:
        return work()
    key = check_key(request.key)
    found = _stored(session, cipher, request, key)
    if found is not None:
        return found
    claim = IdempotencyKey(
        id=new_id(),
        organisation_id=request.organisation_id,
        key=key,
        request_digest=request.digest,
        status_code=0,
        response=b"",
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(claim)
    except IntegrityError:
        # A concurrent request with this key committed first.
        found = _stored(session, cipher, request, key)
        if found is None:
            raise
        return found
    answer = work()
    claim.status_code = answer.status
    payload = json.dumps(answer.body, sort_keys=True, default=str).encode()
    claim.response = cipher.encrypt(
        payload, sealed_context("idempotency_keys", "response", claim.id)
    )
    session.flush()
    return answer


def _stored(
    session: Session, cipher: FieldCipher, request: KeyedRequest, key: str
) -> Answer | None:
    row = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.organisation_id == request.organisation_id, IdempotencyKey.key == key
        )
    )
    if row is None:
        return None
    if row.created_at < utcnow() - KEPT_FOR:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
        session.flush()
        return None
    if row.request_digest != request.digest:
        raise KeyReused(
            "this Idempotency-Key was already used for a different request",
            hint="use a new key for each new request; reuse a key only to retry the same one",
        )
    context = sealed_context("idempotency_keys", "response", row.id)
    body = json.loads(cipher.decrypt(row.response, context))
    return Answer(row.status_code, body, replayed=True)
