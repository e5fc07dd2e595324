"""The web application: JSON API under /api/v1 and server-rendered pages."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError

from haven import __version__
from haven.db.engine import database_error
from haven.errors import HavenError
from haven.runtime import Runtime
from haven.web.api.incidents import router as incidents_router
from haven.web.health import router as health_router

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

# Nothing is loaded from another host; pages work without JavaScript.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Haven",
        version=__version__,
        summary="Case registry and alert network for transnational repression.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(HavenError)
    async def haven_error(_request: Request, exc: HavenError) -> JSONResponse:
        body: dict[str, Any] = {"error": exc.message}
        if exc.hint:
            body["hint"] = exc.hint
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(psycopg.Error)
    @app.exception_handler(DBAPIError)
    async def database_failure(_request: Request, exc: Exception) -> JSONResponse:
        error = database_error(exc)
        return JSONResponse({"error": error.message}, status_code=error.status)

    app.include_router(health_router)
    app.include_router(incidents_router)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "home.html", {"version": __version__})

    @app.get("/api/v1/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs(request: Request) -> HTMLResponse:
        operations = [
            {
                "method": method.upper(),
                "path": path,
                "summary": spec.get("summary", ""),
                "description": spec.get("description", ""),
                "responses": sorted(spec.get("responses", {})),
            }
            for path, methods in app.openapi()["paths"].items()
            for method, spec in methods.items()
        ]
        return TEMPLATES.TemplateResponse(
            request, "api_docs.html", {"operations": operations, "version": __version__}
        )

    return app
