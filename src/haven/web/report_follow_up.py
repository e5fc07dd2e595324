"""The follow-up (``/report/follow-up``): with the receipt code, a reporter reads where the
report stands, writes to the caseworker, adds files and changes their consent. A right code is
exchanged for a signed cookie on ``/report`` that lasts FOLLOW_UP_MINUTES."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.orm import Session

from haven.crypto.fields import FieldCipher
from haven.domain.enums import MessageSender, RecipientKind, ReportStatus
from haven.i18n import N_, translations
from haven.intake.files import Checked
from haven.intake.models import Report
from haven.intake.reports import (
    add_files,
    add_message,
    change_consent,
    find_report,
    follow_up,
    kept_on_commit,
)
from haven.registry.models import Incident
from haven.settings import Settings
from haven.web.limits import TooManyRequests
from haven.web.report import (
    CONSENT_KINDS,
    PARSED_FILES,
    Page,
    close_form,
    evidence_store,
    form_uploads,
    intake_limits,
    localised,
    read_files,
    set_cookie,
)
from haven.web.security import CsrfRefused, check_anonymous_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(close_form)])

FOLLOW_UP_COOKIE = "haven_report"
FOLLOW_UP_MINUTES = 30

STATUS_WORDS = {
    ReportStatus.RECEIVED: N_("Received. Nobody has read it yet."),
    ReportStatus.TRIAGED: N_("Read by a caseworker, who is looking into it."),
    ReportStatus.VERIFIED: N_("Checked and confirmed by the caseworker."),
    ReportStatus.NOT_SUBSTANTIATED: N_("The caseworker could not confirm what happened."),
    ReportStatus.REFERRED: N_("Passed on, as you allowed, to those who can help."),
    ReportStatus.ACKNOWLEDGED: N_("The authority it was passed to has confirmed receiving it."),
    ReportStatus.ACTION_RECORDED: N_("The authority has recorded what it did."),
    ReportStatus.CLOSED: N_("Closed."),
    ReportStatus.WITHDRAWN: N_("Withdrawn."),
}


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.secret_key, salt="haven report follow-up")


def _following(request: Request, session: Session, settings: Settings) -> Report | None:
    value = request.cookies.get(FOLLOW_UP_COOKIE)
    if not value:
        return None
    try:
        report_id = _signer(settings).unsign(value, max_age=FOLLOW_UP_MINUTES * 60).decode()
    except BadSignature:
        return None
    return session.get(Report, report_id)


def _follow_up_page(
    page: Page,
    session: Session,
    cipher: FieldCipher,
    report: Report,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    view = follow_up(session, cipher, report)
    return page.render(
        "report_follow_up.html",
        status,
        view=view,
        status_words=STATUS_WORDS[report.status],
        consent_kinds=CONSENT_KINDS,
        sender_reporter=MessageSender.REPORTER,
        **context,
    )


@router.get("/report/follow-up", response_class=HTMLResponse)
def follow_up_form(request: Request) -> HTMLResponse:
    page = Page.of(request)
    cipher = page.runtime.cipher()
    with page.runtime.reading() as session:
        report = _following(request, session, page.runtime.settings)
        if report is not None:
            return _follow_up_page(page, session, cipher, report)
    expired = N_("This form had expired. Please enter your code again.")
    return page.render(
        "report_code.html", error=expired if request.query_params.get("expired") else None
    )


@router.post("/report/follow-up", response_class=HTMLResponse)
async def follow_up_open(request: Request) -> Response:
    page = Page.of(request)
    settings = page.runtime.settings
    form = await request.form(max_files=0, max_fields=10)
    try:
        check_anonymous_csrf(request, settings, str(form.get("csrf") or ""))
    except CsrfRefused:
        return page.render(
            "report_code.html",
            403,
            error=N_("This form had expired. Please enter your code again."),
        )
    refusal = N_("We could not open a report with this code. Check the code and try again.")
    if not intake_limits(request).wrong_codes.allow("all"):
        return page.render(
            "report_code.html", 429, error=N_("Too many tries right now. Please wait a minute.")
        )
    with page.runtime.reading() as session:
        report = find_report(session, str(form.get("code") or ""))
    if report is None:
        return page.render("report_code.html", 404, error=refusal)
    response = RedirectResponse(f"/report/follow-up?lang={page.lang.code}", status_code=303)
    token = _signer(settings).sign(report.id).decode()
    set_cookie(response, settings, FOLLOW_UP_COOKIE, token, "/report")
    return response


@dataclass(frozen=True, slots=True)
class Draft:
    """What the reporter sent on the follow-up page, files already checked."""

    csrf: str
    body: str
    files: list[Checked]
    refusals: list[str]


@router.post("/report/follow-up/message", response_class=HTMLResponse)
async def follow_up_message(request: Request) -> Response:
    page = Page.of(request)
    settings = page.runtime.settings
    form = await request.form(max_files=PARSED_FILES, max_fields=20)
    gettext = translations(page.lang.code).gettext
    checked, refusals = await read_files(await form_uploads(form), settings, gettext)
    draft = Draft(
        str(form.get("csrf") or ""), str(form.get("message") or "").strip(), checked, refusals
    )
    return await run_in_threadpool(_post_message, request, page, draft)


def _post_message(request: Request, page: Page, draft: Draft) -> Response:
    runtime = page.runtime
    gettext = translations(page.lang.code).gettext
    cipher = runtime.cipher()
    store = evidence_store(runtime)
    limits = intake_limits(request)
    with kept_on_commit(store) as written, runtime.transaction() as session:
        report = _require_following(request, session, runtime.settings, draft.csrf)
        if isinstance(report, Response):
            return report

        def again(status: int, error: str) -> HTMLResponse:
            return _follow_up_page(
                page, session, cipher, report, status, error=error, draft=draft.body
            )

        if draft.refusals or (not draft.body and not draft.files):
            words = gettext(N_("Please write a message or add a file."))
            return again(422, " ".join(draft.refusals) or words)
        try:
            limits.code_action(report.id)
        except TooManyRequests:
            return again(
                429,
                gettext(
                    N_("Too many changes with this code in the last hour. Please try again later.")
                ),
            )
        size = sum(c.size + len(c.clean or b"") for c in draft.files)
        if draft.files and (not limits.evidence.take(size) or not store.room_for(size)):
            return again(
                507,
                gettext(
                    N_(
                        "Files cannot be taken right now. Your message was "
                        "not sent yet: please try again later."
                    )
                ),
            )
        if draft.body:
            add_message(session, cipher, report, draft.body, sender=MessageSender.REPORTER)
        if draft.files:
            add_files(session, cipher, report, draft.files, store=store, written=written)
    return RedirectResponse(f"/report/follow-up?lang={page.lang.code}&sent=1", status_code=303)


@router.post("/report/follow-up/consent", response_class=HTMLResponse)
async def follow_up_consent(request: Request) -> Response:
    page = Page.of(request)
    runtime = page.runtime
    form = await request.form(max_files=0, max_fields=20)
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        report = _require_following(request, session, runtime.settings, str(form.get("csrf") or ""))
        if isinstance(report, Response):
            return report
        try:
            intake_limits(request).code_action(report.id)
        except TooManyRequests:
            return _follow_up_page(
                page,
                session,
                cipher,
                report,
                429,
                error=translations(page.lang.code).gettext(
                    N_("Too many changes with this code in the last hour. Please try again later.")
                ),
            )
        granted = frozenset(
            RecipientKind(v) for v in form.getlist("consent") if v in set(RecipientKind)
        )
        incident = session.get(Incident, report.incident_id)
        change_consent(session, report, granted, incident.host_state if incident else None)
    return RedirectResponse(f"/report/follow-up?lang={page.lang.code}&saved=1", status_code=303)


@router.post("/report/follow-up/leave")
async def follow_up_leave(request: Request) -> Response:
    page = Page.of(request)
    response = RedirectResponse(f"/report/follow-up?lang={page.lang.code}", status_code=303)
    response.delete_cookie(FOLLOW_UP_COOKIE, path="/report")
    return response


def _require_following(
    request: Request, session: Session, settings: Settings, csrf: str
) -> Report | Response:
    lang = localised(request).code
    expired = f"/report/follow-up?lang={lang}&expired=1"
    try:
        check_anonymous_csrf(request, settings, csrf)
    except CsrfRefused:
        return RedirectResponse(expired, status_code=303)
    report = _following(request, session, settings)
    if report is None:
        return RedirectResponse(expired, status_code=303)
    return report
