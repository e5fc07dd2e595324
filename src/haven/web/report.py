"""What the public report pages share: the form at ``/report`` (:mod:`haven.web.report_form`)
and the follow-up with a receipt code (:mod:`haven.web.report_follow_up`).

No account, no JavaScript needed, nothing from another host, nothing about the connection kept.
Every page is in the reader's language (``?lang=``, then a cookie the switcher sets, then the
browser's ``Accept-Language``). Bad input re-shows the form with everything entered (only files
must be chosen again) and a reason beside the field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from haven.domain.enums import RecipientKind
from haven.errors import HavenError
from haven.i18n import LANGUAGES, N_, Language, language, negotiate
from haven.intake.files import Checked, EvidenceStore, FileRefused, check_file
from haven.runtime import Runtime
from haven.settings import Mode, Settings
from haven.web.limits import IntakeLimits
from haven.web.security import anonymous_csrf
from haven.web.templating import TEMPLATES


async def close_form(request: Request) -> AsyncIterator[None]:
    """Uploads are spooled to temporary files that nothing else closes: close them once the
    answer is built, so none stays open until garbage collection."""
    try:
        yield
    finally:
        await request.close()


LANG_COOKIE = "haven_lang"
# Files read from a form before counting them: more than HAVEN_MAX_FILES may be, so that too
# many get the form back with a reason instead of a bare 400 (BodyLimit caps their bytes).
PARSED_FILES = 51

CONSENT_KINDS = (
    (RecipientKind.NGO, N_("Other organisations that help people at risk")),
    (
        RecipientKind.AUTHORITY,
        N_("Public authorities (police, prosecutors) of the EU country where it happened"),
    ),
    (RecipientKind.EU_BODY, N_("EU bodies")),
    (
        RecipientKind.COMPANY,
        N_("Technology companies, to stop accounts or content used against you"),
    ),
)
FILE_REASONS = {
    "too-large": N_("%(name)s is too large: a file may be at most %(limit)s MB."),
    "empty": N_("%(name)s is empty."),
    "kind": N_("%(name)s is not a kind of file we accept (pictures, PDF, audio, video, text)."),
    "disguised": N_(
        "%(name)s does not contain what its name says. Files whose name and "
        "content disagree are refused."
    ),
    "unreadable": N_("%(name)s could not be read."),
    "too-many": N_("Please send at most %(count)s files at a time."),
}


def localised(request: Request) -> Language:
    chosen = language(request.query_params.get("lang")) or language(
        request.cookies.get(LANG_COOKIE)
    )
    return chosen or negotiate(request.headers.get("accept-language"))


@dataclass
class Page:
    """A public page being built: its language, CSRF token and cookies to set."""

    request: Request
    runtime: Runtime
    lang: Language
    cookies: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, request: Request) -> Page:
        runtime: Runtime = request.app.state.runtime
        return cls(request, runtime, localised(request))

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        holder = Response()
        token = anonymous_csrf(self.request, holder, self.runtime.settings)
        response = TEMPLATES.TemplateResponse(
            self.request,
            name,
            {
                "lang": self.lang,
                "languages": LANGUAGES.values(),
                "csrf": token,
                "path": self.request.url.path,
                **context,
            },
            status_code=status,
        )
        for header, value in holder.raw_headers:
            if header == b"set-cookie":
                response.raw_headers.append((header, value))
        if self.request.query_params.get("lang") and language(
            self.request.query_params.get("lang")
        ):
            set_cookie(response, self.runtime.settings, LANG_COOKIE, self.lang.code, "/")
        return response


def set_cookie(response: Response, settings: Settings, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=settings.mode is Mode.PRODUCTION,
        path=path,
    )


def intake_limits(request: Request) -> IntakeLimits:
    limits: IntakeLimits = request.app.state.intake_limits
    return limits


def evidence_store(runtime: Runtime) -> EvidenceStore:
    settings = runtime.settings
    return EvidenceStore(
        settings.resolved_evidence_dir, reserve_bytes=settings.disk_reserve_mb * 1024 * 1024
    )


async def form_uploads(form: FormData) -> list[UploadFile]:
    return [
        item
        for item in form.getlist("evidence")
        if isinstance(item, UploadFile) and (item.filename or item.size)
    ]


async def read_files(
    uploads: Sequence[UploadFile], settings: Settings, gettext: Any
) -> tuple[list[Checked], list[str]]:
    """Check every uploaded file; the refusals are in the reader's language."""
    if len(uploads) > settings.max_files:
        return [], [gettext(FILE_REASONS["too-many"]) % {"count": settings.max_files}]
    limit = settings.max_file_mb * 1024 * 1024
    checked: list[Checked] = []
    refusals: list[str] = []
    for upload in uploads:
        content = await upload.read(limit + 1)
        try:
            checked.append(check_file(upload.filename or "", content, max_bytes=limit))
        except FileRefused as refused:
            words = gettext(FILE_REASONS[refused.reason])
            refusals.append(words % {"name": refused.name, "limit": settings.max_file_mb})
    return checked, refusals


def public_error(request: Request, error: HavenError) -> HTMLResponse:
    """An error on a public page, in the reader's language where the message is known."""
    page = Page.of(request)
    return page.render("report_error.html", error.status, message=error.message, hint=error.hint)
