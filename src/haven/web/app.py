"""The web application: JSON API under /api/v1 and server-rendered pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from haven import __version__
from haven.runtime import Runtime
from haven.web.admin import router as admin_router
from haven.web.api.incidents import router as incidents_router
from haven.web.api.organisations import router as organisations_router
from haven.web.api.people import router as people_router
from haven.web.api.reports import router as api_reports_router
from haven.web.bodylimit import BodyLimit
from haven.web.errors import HANDLERS, CatchAll
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
_WITH_FILES = ("/report", "/reports", "/imports", "/api/v1/reports")

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
    # Forms with files may carry max_files files of max_file_mb each; anything else is small.
    with_files = settings.max_files * settings.max_file_mb * MEBIBYTE + 2 * MEBIBYTE
    app.add_middleware(
        BodyLimit,
        limit_for=lambda path: with_files if path.startswith(_WITH_FILES) else 4 * MEBIBYTE,
    )
    # A later middleware wraps an earlier one. CatchAll wraps BodyLimit, which turns its own
    # exception into a 413 first; the security headers wrap CatchAll, so its answers carry them.
    app.add_middleware(CatchAll)
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        own_policy = response.headers.get("Content-Security-Policy")
        response.headers.update(SECURITY_HEADERS)
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
