"""Browser security: the signed session cookie and CSRF tokens.

The session cookie carries a random secret, signed with HAVEN_SECRET_KEY; it is HttpOnly and
SameSite=Strict, and Secure outside development. Every form carries a CSRF token: bound to the
session once there is one, and before that (the sign-in form) to a signed double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response
from itsdangerous import BadSignature, Signer

from haven.errors import Forbidden
from haven.settings import Mode, Settings

SESSION_COOKIE = "haven_session"
CSRF_COOKIE = "haven_csrf"


class CsrfRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "this form has expired or did not come from Haven", hint="reload the page and retry"
        )


def _signer(settings: Settings, purpose: str) -> Signer:
    return Signer(settings.secret_key, salt=f"haven {purpose}")


def _cookie(response: Response, settings: Settings, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=settings.mode is Mode.PRODUCTION,
        path="/",
    )


def set_session_cookie(response: Response, settings: Settings, secret: str) -> None:
    _cookie(response, settings, SESSION_COOKIE, _signer(settings, "session").sign(secret).decode())


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_secret(request: Request, settings: Settings) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    try:
        return _signer(settings, "session").unsign(value).decode()
    except BadSignature:
        return None


def session_csrf(settings: Settings, session_id: str) -> str:
    key = settings.secret_key.encode()
    return hmac.new(key, f"csrf {session_id}".encode(), hashlib.sha256).hexdigest()


def check_session_csrf(settings: Settings, session_id: str, token: str) -> None:
    if not hmac.compare_digest(session_csrf(settings, session_id), token):
        raise CsrfRefused


def anonymous_csrf(request: Request, response: Response, settings: Settings) -> str:
    """The token for a form shown before sign-in; sets its cookie when there is none."""
    current = request.cookies.get(CSRF_COOKIE)
    if current:
        try:
            return _signer(settings, "csrf").unsign(current).decode()
        except BadSignature:
            pass
    token = secrets.token_urlsafe(24)
    _cookie(response, settings, CSRF_COOKIE, _signer(settings, "csrf").sign(token).decode())
    return token


def check_anonymous_csrf(request: Request, settings: Settings, token: str) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    try:
        expected = _signer(settings, "csrf").unsign(cookie).decode()
    except BadSignature:
        raise CsrfRefused from None
    if not token or not hmac.compare_digest(expected, token):
        raise CsrfRefused
