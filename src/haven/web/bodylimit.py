"""What a request may send before Haven reads it.

A writing request to the API must show a valid bearer token before any of its body is read, and
every body has a cap, checked while it arrives: an oversized upload is cut off after the limit,
before it is parsed or spooled to disk, whether or not it announced its length.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import Request, Response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven.web.deps import settle_bearer
from haven.web.errors import HANDLERS

MEBIBYTE = 1024 * 1024
# The requests through which the API changes something; each of them needs a token.
WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, limit)
            return
        received = 0
        over = started = False

        async def counting() -> Message:
            nonlocal received, over
            if over:
                # Whatever reads on is told the client has gone: nothing more is taken in.
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if over and not started:
                # The application's own answer to a body cut short (FastAPI says 400, "error
                # parsing the body") gives way to the 413 below.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, tracking)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _refuse(scope, send, limit)


def routed(app: Starlette, scope: Scope) -> BaseRoute | None:
    """The route that takes a request of this method at this path, if there is one (asked of
    the routes themselves: an included router keeps its routes to itself)."""
    return next(
        (route for route in app.router.routes if route.matches(scope)[0] is Match.FULL), None
    )


class TokenFirst:
    """A writing request to the API without a valid bearer token is answered 401 before any of
    its body is read. FastAPI reads and parses a body before it resolves a route's dependencies,
    so the check cannot wait for them: anyone could otherwise make Haven take in and parse
    bodies up to the limit without showing who they are. The reader the token names is kept for
    the request's dependencies, so the token is looked up once. A request no route takes goes
    on to its 404 or 405, which read no body either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITING_METHODS
            or not scope["path"].startswith("/api/")
            or routed(scope["app"], scope) is None
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            await run_in_threadpool(settle_bearer, request)
        except Exception as exc:
            response = await _handled(request, exc)
            if response.status_code == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            # The body is never read: the connection cannot carry another request after it.
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _handled(request: Request, exc: Exception) -> Response:
    """The answer Haven's exception handlers give, as they would inside the application."""
    for kind in type(exc).__mro__:
        handler = HANDLERS.get(kind)
        if handler is not None:
            return await handler(request, exc)
    raise exc


def _size(limit: int) -> str:
    if limit >= MEBIBYTE:
        return f"{limit // MEBIBYTE} MB"
    return f"{max(1, limit // 1024)} KB"


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    if scope["path"].startswith("/api/"):
        document = {
            "error": f"the request is larger than {_size(limit)}",
            "hint": "send a smaller request",
        }
        body = json.dumps(document).encode()
        kind = b"application/json"
    else:
        body = (
            "<!doctype html><meta charset=utf-8><title>Too large</title>"
            f"<h1>Too large</h1><p>The request is larger than {_size(limit)}: send fewer or "
            "smaller files. Go back to keep what you wrote.</p>"
        ).encode()
        kind = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
