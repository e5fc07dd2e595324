"""Request dependencies: the runtime, a transaction, and who is reading."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.accounts import reader_for, token_hash
from haven.access.models import ApiToken, User
from haven.access.policy import Reader
from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.errors import Unauthorized
from haven.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _cipher: Annotated[FieldCipher, Depends(get_cipher)],
    _reader: Annotated[Reader, Depends(get_reader)],
) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns and before the answer
    is sent (a 201 means the record is stored), rolled back on error. The cipher and the
    reader are settled first: loading the cipher may write, which must not wait for this
    transaction, and a request never holds two pooled connections at once, which could
    exhaust the pool with every request waiting for another."""
    with runtime.transaction() as session:
        yield session


def get_read_session(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _reader: Annotated[Reader, Depends(get_reader)],
) -> Iterator[Session]:
    """A read-only transaction, for requests that change nothing and record no read."""
    with runtime.reading() as session:
        yield session


def get_cipher(runtime: Annotated[Runtime, Depends(get_runtime)]) -> FieldCipher:
    return runtime.cipher()


def get_reader(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Reader:
    """The reader behind a bearer token, or the public when there is none. Its short read
    transaction ends before the handler's begins, so a request never holds two connections."""
    settled: Reader | None = getattr(request.state, "bearer_reader", None)
    if settled is not None:
        return settled
    header = request.headers.get("authorization")
    if header is None:
        return Reader.public("api")
    return _bearer_reader(runtime, header)


def settle_bearer(request: Request) -> None:
    """Check the token of a request that needs one before anything of its body is read (see
    :class:`haven.web.bodylimit.TokenFirst`); :func:`get_reader` then takes the reader from here."""
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthorized(
            "this request needs an API token", hint="send an Authorization: Bearer <token> header"
        )
    request.state.bearer_reader = _bearer_reader(get_runtime(request), header)


def _bearer_reader(runtime: Runtime, header: str) -> Reader:
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("use an Authorization: Bearer <token> header")
    with runtime.reading() as session:
        return _token_reader(session, secret)


def _token_reader(session: Session, secret: str) -> Reader:
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash(secret.strip()))
    )
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        raise Unauthorized("the API token is unknown, expired or revoked")
    user = session.get(User, token.user_id)
    if user is None or user.disabled_at is not None:
        raise Unauthorized("the API token is unknown, expired or revoked")
    return reader_for(session, user, surface="api", scopes=frozenset(token.scopes))


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
ReaderDep = Annotated[Reader, Depends(get_reader)]
CipherDep = Annotated[FieldCipher, Depends(get_cipher)]
