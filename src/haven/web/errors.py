"""What Haven answers when a request fails, and the one log line each server error leaves.

Each handler is a module-level function registered in ``HANDLERS``, which ``create_app``
installs; ``CatchAll`` answers for any exception no handler takes. Every answer with a status of
500 or more carries a random error id, shown to the person who met it and logged as one line
with the exception's type, the method and the route template. The line never holds the
exception's message, the request's values or a traceback: any of them may quote a name, an
address or a narrative.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import psycopg
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven import __version__
from haven.db.engine import database_error
from haven.errors import DatabaseUnavailable, HavenError, ValidationFailed
from haven.registry.schemas import describe_errors
from haven.web.pages import RedirectTo
from haven.web.report import public_error
from haven.web.templating import TEMPLATES

log = logging.getLogger(__name__)

Handler = Callable[[Request, Any], Awaitable[Response]]

UNEXPECTED = HavenError(
    "Haven failed to answer this request",
    hint="try again; if it fails again, tell the people who run Haven and quote the error id",
)


async def haven_error(request: Request, exc: HavenError) -> Response:
    return error_response(request, exc, cause=exc)


async def database_failure(request: Request, exc: Exception) -> Response:
    return error_response(request, database_error(exc), cause=exc)


async def pool_exhausted(request: Request, exc: PoolTimeout) -> Response:
    busy = DatabaseUnavailable(
        "Haven is too busy to answer right now", hint="nothing was changed; try again shortly"
    )
    return error_response(request, busy, cause=exc)


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    # FastAPI's own answer repeats the rejected input: a name, a date of birth.
    return error_response(request, ValidationFailed(describe_errors(exc.errors())), cause=exc)


async def redirect(_request: Request, exc: RedirectTo) -> Response:
    return RedirectResponse(exc.location, status_code=303)


# Looked up along each exception's class hierarchy, so HavenError covers all its subclasses.
HANDLERS: Mapping[type[Exception], Handler] = {
    HavenError: haven_error,
    sqlite3.Error: database_failure,
    psycopg.Error: database_failure,
    DBAPIError: database_failure,
    PoolTimeout: pool_exhausted,
    RequestValidationError: invalid_request,
    RedirectTo: redirect,
}


class CatchAll:
    """A 500 answer for an exception that no handler took, which then goes no further.

    Starlette's ServerErrorMiddleware, even with ``debug=False``, re-raises every exception it
    answers for, and uvicorn logs it with its traceback, whose message and frames may hold the
    request's values. This middleware sits inside the one that adds the security headers, so its
    answers carry them, and outside ``BodyLimit``, which answers 413 for its own exception.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            request = Request(scope, receive)
            # Once the answer has begun (a failure in work run after it), it cannot change.
            error_id = logged(request, exc, status=None if started else 500)
            if not started:
                await _unexpected(request, error_id)(scope, receive, send)


def _unexpected(request: Request, error_id: str) -> Response:
    try:
        return _answer(request, UNEXPECTED, error_id)
    except Exception:
        # The error page itself failed: plain words, and still nothing for the server to log.
        return PlainTextResponse(f"{UNEXPECTED.message} (error id {error_id})", status_code=500)


def error_response(request: Request, error: HavenError, *, cause: BaseException) -> Response:
    """JSON for the API, a page for a browser; the same words either way."""
    error_id = logged(request, cause, status=error.status) if error.status >= 500 else None
    return _answer(request, error, error_id)


def _answer(request: Request, error: HavenError, error_id: str | None) -> Response:
    path = request.url.path
    if path == "/report" or path.startswith("/report/"):
        return public_error(request, error)
    if path.startswith("/api/"):
        body: dict[str, Any] = {"error": error.message}
        if error.hint:
            body["hint"] = error.hint
        if error_id:
            body["error_id"] = error_id
        return JSONResponse(body, status_code=error.status)
    context = {"message": error.message, "hint": error.hint, "version": __version__}
    return TEMPLATES.TemplateResponse(request, "error.html", context, status_code=error.status)


def logged(request: Request, exc: BaseException, *, status: int | None) -> str:
    """Log a server error as one line and return its new error id, which the request's state
    keeps for the error pages (the public report page is rendered by its own module)."""
    error_id = secrets.token_hex(4)
    request.state.error_id = error_id
    route = getattr(request.scope.get("route"), "path", None) or "(no route)"
    kind = exception_type(exc)
    outcome = f"answered {status}" if status is not None else "after the answer had begun"
    log.error(
        "error %s: %s on %s %s, %s",
        error_id,
        kind,
        request.method,
        route,
        outcome,
        extra={"error_id": error_id, "error_type": kind, "route": route},
    )
    return error_id


def exception_type(exc: BaseException) -> str:
    """The exception's qualified type and, for a database error, the driver's type beneath."""
    cls = type(exc)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{name} from {exception_type(exc.orig)}"
    return name
