"""The web application: JSON API under /api/v1 and server-rendered pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

from haven import __version__
from haven.errors import HavenError
from haven.runtime import Runtime
from haven.settings import Mode
from haven.web.admin import router as admin_router
from haven.web.api.incidents import router as incidents_router
from haven.web.api.organisations import router as organisations_router
from haven.web.api.people import router as people_router
from haven.web.api.reports import router as api_reports_router
from haven.web.bodylimit import BodyLimit, TokenFirst, routed
from haven.web.errors import HANDLERS, CatchAll, error_response
from haven.web.health import router as health_router
from haven.web.imports import router as imports_router
from haven.web.insight import api as open_api_router
from haven.web.insight import insight_api as insight_api_router
from haven.web.insight import router as insight_router
from haven.web.limits import IntakeLimits, RateStore, SignInLimits
from haven.web.notify import router as notify_router
from haven.web.pages import router as pages_router
from haven.web.referrals import router as referrals_router
from haven.web.report_follow_up import router as report_follow_up_router
from haven.web.report_form import router as report_form_router
from haven.web.reports import router as reports_router
from haven.web.templating import TEMPLATES

MEBIBYTE = 1024 * 1024
# The multipart forms that carry files: the public report, its follow-up messages, the import.
_WITH_FILES = frozenset({"/report", "/report/follow-up/message", "/imports"})
# Production is served over HTTPS only (RFC 6797): browsers keep to it for two years.
STRICT_TRANSPORT = "max-age=63072000; includeSubDomains"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

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
    # Pages carry narratives, identities, recovery codes and new passwords: keep no copy.
    "Cache-Control": "no-store",
}


class MethodNotAllowed(HavenError):
    status = 405


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """405 in Haven's words, with an ``Allow`` header (RFC 9110, section 15.5.6) that names every
    method of the path: Starlette's names only those of the first route that matched it."""
    allowed = ", ".join(allowed_methods(request))
    refusal = MethodNotAllowed(
        f"{request.method} is not answered here", hint=f"this address answers {allowed}"
    )
    response = error_response(request, refusal, cause=exc)
    response.headers["Allow"] = allowed
    return response


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this path."""
    scope = request.scope
    # A mount that matched has moved the root path on; the routes are matched from the app's.
    root_path = scope.get("app_root_path", scope.get("root_path", ""))
    allowed = []
    for method in _METHODS:
        probe = {**scope, "method": method, "root_path": root_path}
        route = routed(request.app, probe)
        # A mount takes every method at its paths; the one here serves static files.
        if route is not None and (not isinstance(route, Mount) or method in ("GET", "HEAD")):
            allowed.append(method)
    return allowed


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Haven",
        version=__version__,
        summary="Case registry and alert network for transnational repression.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry logs would carry exception messages and stack traces.
        telemetry={"logs": False},
    )
    app.state.runtime = runtime
    settings = runtime.settings
    store = RateStore(settings.rate_limit_storage, secret=settings.secret_key)
    app.state.sign_in_limits = SignInLimits(store=store)
    app.state.intake_limits = IntakeLimits(
        reports_per_minute=settings.reports_per_minute,
        evidence_bytes_per_hour=settings.evidence_mb_per_hour * MEBIBYTE,
        store=store,
    )
    # Forms with files may carry max_files files of max_file_mb each; the JSON API takes small
    # bodies, other pages a little more.
    with_files = settings.max_files * settings.max_file_mb * MEBIBYTE + 2 * MEBIBYTE
    api_body = settings.max_api_body_kb * 1024

    def limit_for(path: str) -> int:
        if path in _WITH_FILES:
            return with_files
        return api_body if path.startswith("/api/") else 4 * MEBIBYTE

    # A later middleware wraps an earlier one. BodyLimit wraps TokenFirst, whose check reads no
    # body; CatchAll wraps BodyLimit, which turns its own exception into a 413 first; the
    # security headers wrap CatchAll, so its answers carry them.
    app.add_middleware(TokenFirst)
    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_middleware(CatchAll)
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(405, method_not_allowed)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        own_policy = response.headers.get("Content-Security-Policy")
        response.headers.update(SECURITY_HEADERS)
        if runtime.settings.mode is Mode.PRODUCTION:
            response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT
        if own_policy is not None and own_policy != SECURITY_HEADERS["Content-Security-Policy"]:
            # A browser enforces every policy it is sent, so a route's own (an evidence
            # download's sandbox) narrows the site's and can never widen it.
            response.headers.append("Content-Security-Policy", own_policy)
        return response

    app.include_router(health_router)
    app.include_router(incidents_router)
    app.include_router(pages_router)
    app.include_router(report_form_router)
    app.include_router(report_follow_up_router)
    app.include_router(reports_router)
    app.include_router(referrals_router)
    app.include_router(admin_router)
    app.include_router(imports_router)
    app.include_router(notify_router)
    app.include_router(insight_router)
    app.include_router(open_api_router)
    app.include_router(insight_api_router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(people_router)
    app.include_router(organisations_router)
    app.include_router(api_reports_router)

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
