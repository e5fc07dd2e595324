"""The public report form (``/report``) and the follow-up with a receipt code.

No account, no JavaScript needed, nothing from another host, nothing about the connection kept.
Every page is in the reader's language (``?lang=``, then a cookie the switcher sets, then the
browser's ``Accept-Language``). Bad input re-shows the form with everything entered (only files
must be chosen again) and a reason beside the field.
"""

from __future__ import annotations

import calendar
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from haven.casework.notices import report_received
from haven.crypto.fields import FieldCipher
from haven.domain.countries import country_name
from haven.domain.enums import (
    DatePrecision,
    MessageSender,
    PerpetratorKind,
    RecipientKind,
    ReportChannel,
    ReporterRelation,
    ReportStatus,
)
from haven.domain.taxonomy import load_taxonomy
from haven.errors import HavenError
from haven.i18n import LANGUAGES, N_, Language, language, negotiate, translations
from haven.intake.files import Checked, EvidenceStore, FileRefused, StorageFull, check_file
from haven.intake.idempotency import Answer, KeyedRequest, KeyReused, once, request_digest
from haven.intake.models import Report
from haven.intake.reports import (
    Receipt,
    ReportIn,
    Submission,
    add_files,
    add_message,
    change_consent,
    find_report,
    follow_up,
    intake_organisation,
    kept_on_commit,
    submit_report,
)
from haven.registry.models import Incident
from haven.runtime import Runtime
from haven.settings import Mode, Settings
from haven.web.limits import IntakeLimits, TooManyRequests
from haven.web.security import CsrfRefused, anonymous_csrf, check_anonymous_csrf
from haven.web.templating import TEMPLATES


async def _close_form(request: Request) -> AsyncIterator[None]:
    """Uploads are spooled to temporary files that nothing else closes: close them once the
    answer is built, so none stays open until garbage collection."""
    try:
        yield
    finally:
        await request.close()


router = APIRouter(include_in_schema=False, dependencies=[Depends(_close_form)])

LANG_COOKIE = "haven_lang"
FOLLOW_UP_COOKIE = "haven_report"
FOLLOW_UP_MINUTES = 30
HONEYPOT = "website"
SURFACE = "report-form"
# Files read from a form before counting them: more than HAVEN_MAX_FILES may be, so that too
# many get the form back with a reason instead of a bare 400 (BodyLimit caps their bytes).
PARSED_FILES = 51

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
RELATIONS = (
    (ReporterRelation.SELF, N_("Me")),
    (ReporterRelation.RELATIVE, N_("Me, through a relative in my home country")),
    (ReporterRelation.COLLEAGUE, N_("A colleague or someone I know")),
    (ReporterRelation.OTHER, N_("Someone else")),
)
PERPETRATORS = (
    (PerpetratorKind.STATE, N_("The government of a country")),
    (PerpetratorKind.AGENCY, N_("A police, security or intelligence service")),
    (PerpetratorKind.EMBASSY, N_("An embassy or consulate")),
    (PerpetratorKind.PROXY, N_("Someone acting for them (a hired person, a group, a relative)")),
    (PerpetratorKind.UNKNOWN, N_("I do not know")),
)
CONTACT_METHODS = (
    ("", N_("Do not contact me")),
    ("email", N_("E-mail")),
    ("phone", N_("Telephone")),
    ("messenger", N_("A messaging app (say which)")),
    ("other", N_("Another way")),
)
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
            _cookie(response, self.runtime.settings, LANG_COOKIE, self.lang.code, "/")
        return response


def _cookie(response: Response, settings: Settings, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=settings.mode is Mode.PRODUCTION,
        path=path,
    )


def _page(request: Request) -> Page:
    runtime: Runtime = request.app.state.runtime
    return Page(request, runtime, localised(request))


def _limits(request: Request) -> IntakeLimits:
    limits: IntakeLimits = request.app.state.intake_limits
    return limits


def _store(runtime: Runtime) -> EvidenceStore:
    settings = runtime.settings
    return EvidenceStore(
        settings.resolved_evidence_dir, reserve_bytes=settings.disk_reserve_mb * 1024 * 1024
    )


# -- choices shown on the form ---------------------------------------------------------------


@cache
def _countries(code: str) -> tuple[tuple[str, str], ...]:
    import pycountry  # noqa: PLC0415  (only the form needs the full list)

    spec = LANGUAGES[code]
    named = [(c.alpha_2, country_name(c.alpha_2, spec.catalogue)) for c in pycountry.countries]
    return tuple(sorted(named, key=lambda pair: pair[1].casefold()))


def _choices(lang: Language, settings: Settings) -> dict[str, Any]:
    taxonomy = load_taxonomy()
    return {
        "countries": _countries(lang.code),
        "tactics": [(t.code, t.plain) for t in taxonomy.tactics],
        "profiles": [(p.code, p.label) for p in taxonomy.target_profiles.terms],
        "relations": RELATIONS,
        "perpetrators": PERPETRATORS,
        "contact_methods": CONTACT_METHODS,
        "consent_kinds": CONSENT_KINDS,
        "months": range(1, 13),
        "this_year": date.today().year,
        "max_files": settings.max_files,
        "submission": secrets.token_urlsafe(18),
    }


# -- reading the form ------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TEXT_FIELDS = (
    "submission",
    "urgent",
    "relation",
    "target_name",
    "target_profile",
    "what_happened",
    "year",
    "month",
    "day",
    "origin_state",
    "host_state",
    "place",
    "perpetrator_kind",
    "perpetrator",
    "contact_method",
    "contact_address",
    "contact_precautions",
)
_FIELD_OF_ERROR = {
    "what_happened": "what_happened",
    "tactics": "tactics",
    "occurred": "when",
    "origin_state": "origin_state",
    "host_state": "host_state",
    "target_profile": "target_profile",
    "contact": "contact",
}
_ERROR_WORDS = {
    "what_happened": N_("Please tell us what happened."),
    "tactics": N_("Please choose at least one thing that happened."),
    "when": N_("Please give the year, and the month and day if you know them."),
    "origin_state": N_("Please choose the country you believe is behind it."),
    "host_state": N_("Please choose a country from the list."),
    "target_profile": N_("Please choose from the list."),
    "contact": N_("Please say how we can reach you, or choose not to be contacted."),
    "text": N_("Please check this field: it is too long or holds characters we cannot keep."),
}


def form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: str(form.get(name) or "") for name in _TEXT_FIELDS}
    values["tactics"] = [str(v) for v in form.getlist("tactics")]
    values["consent"] = [str(v) for v in form.getlist("consent")]
    return values


def _occurred(values: dict[str, Any]) -> dict[str, Any] | None:
    try:
        year = int(values["year"])
        month = int(values["month"]) if values["month"] else None
        day = int(values["day"]) if values["day"] else None
        if not 1900 <= year <= date.today().year:
            return None
        if month is None:
            return {"start": date(year, 1, 1), "precision": DatePrecision.YEAR}
        if day is None:
            return {"start": date(year, month, 1), "precision": DatePrecision.MONTH}
        if day > calendar.monthrange(year, month)[1]:
            return None
        return {"start": date(year, month, day), "precision": DatePrecision.DAY}
    except ValueError:
        return None


def read_report(values: dict[str, Any], lang: Language) -> tuple[ReportIn | None, dict[str, str]]:
    """The report the form describes, or the reasons it does not, by field."""
    errors: dict[str, str] = {}
    occurred = _occurred(values)
    if occurred is None:
        errors["when"] = _ERROR_WORDS["when"]
    contact: dict[str, Any] | None = None
    if values["contact_method"]:
        if not values["contact_address"].strip():
            errors["contact"] = _ERROR_WORDS["contact"]
        contact = {
            "method": values["contact_method"],
            "address": values["contact_address"],
            "precautions": values["contact_precautions"] or None,
        }
    data = {
        "what_happened": values["what_happened"],
        "tactics": tuple(values["tactics"]),
        "occurred": occurred or {"start": date.today()},
        "origin_state": values["origin_state"],
        "host_state": values["host_state"] or None,
        "place": values["place"] or None,
        "perpetrator_kind": values["perpetrator_kind"] or PerpetratorKind.UNKNOWN,
        "perpetrator": values["perpetrator"] or None,
        "relation": values["relation"] or ReporterRelation.SELF,
        "target_name": values["target_name"] or None,
        "target_profile": values["target_profile"] or None,
        "urgent": values["urgent"] == "yes",
        "contact": contact,
        "consent": tuple(values["consent"]),
        "language": lang.code,
    }
    try:
        report = ReportIn.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_input=False):
            name = str(error["loc"][0]) if error["loc"] else "text"
            key = _FIELD_OF_ERROR.get(name, name)
            errors.setdefault(key, _ERROR_WORDS.get(key, _ERROR_WORDS["text"]))
        return None, errors
    if errors:
        return None, errors
    return report, {}


async def _uploads(form: FormData) -> list[UploadFile]:
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


# -- the form --------------------------------------------------------------------------------


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request) -> HTMLResponse:
    page = _page(request)
    return page.render(
        "report_form.html", values={}, errors={}, **_choices(page.lang, page.runtime.settings)
    )


@router.post("/report", response_class=HTMLResponse)
async def report_submit(request: Request) -> Response:
    page = _page(request)
    runtime = page.runtime
    settings = runtime.settings
    form = await request.form(max_files=PARSED_FILES, max_fields=200)
    values = form_values(form)
    gettext = translations(page.lang.code).gettext

    file_errors: list[str] = []

    def again(status: int, errors: dict[str, str], notice: str | None = None) -> HTMLResponse:
        return page.render(
            "report_form.html",
            status,
            values=values,
            errors=errors,
            notice=notice,
            file_errors=file_errors,
            **_choices(page.lang, settings),
        )

    try:
        check_anonymous_csrf(request, settings, str(form.get("csrf") or ""))
    except CsrfRefused:
        return again(
            403,
            {},
            N_(
                "This form had expired. Nothing was sent yet: please check "
                "what you entered and send it again."
            ),
        )
    if form.get(HONEYPOT):
        return again(422, {}, N_("Please leave the field marked “leave empty” empty."))
    report, errors = read_report(values, page.lang)
    uploads = await _uploads(form)
    checked, refusals = await read_files(uploads, settings, gettext)
    file_errors.extend(refusals)
    if report is None or errors or file_errors:
        return again(422, errors, N_("Some answers need another look; they are marked below."))
    handler = await run_in_threadpool(_intake_organisation, runtime)
    if handler is None:
        return again(
            503,
            {},
            N_(
                "This service is not taking reports yet. Please contact the "
                "organisation that runs it another way."
            ),
        )
    try:
        _limits(request).report()
    except TooManyRequests:
        return again(
            429,
            {},
            N_(
                "Many reports are arriving right now and yours could not be "
                "taken. Please wait a minute and send it again; nothing you "
                "entered was lost."
            ),
        )
    kept_files = checked
    files_deferred = False
    size = sum(c.size + len(c.clean or b"") for c in checked)
    store = _store(runtime)
    if checked and (not _limits(request).evidence.take(size) or not store.room_for(size)):
        kept_files, files_deferred = [], True
    # Encryption, file writes and the database run off the event loop.
    sending = Sending(values["submission"], report, kept_files)
    receipt = await run_in_threadpool(_submit, runtime, handler, sending, store)
    return page.render(
        "report_receipt.html",
        receipt=receipt,
        urgent=report.urgent,
        files_deferred=files_deferred,
    )


def _intake_organisation(runtime: Runtime) -> str | None:
    with runtime.reading() as session:
        return intake_organisation(session)


@dataclass(frozen=True, slots=True)
class Sending:
    """One press of the form's send button. A reload of the receipt page or a second click
    sends the same token and gets the first receipt again instead of making a second report."""

    token: str
    report: ReportIn
    files: list[Checked]


def _submit(runtime: Runtime, handler: str, sending: Sending, store: EvidenceStore) -> Receipt:
    submission = Submission(
        handler, ReportChannel.PUBLIC_FORM, "reporter", SURFACE, runtime.settings.deadlines
    )
    # The cipher first: loading it may write, which must not happen inside our transaction.
    cipher = runtime.cipher()
    payload = sending.report.model_dump_json() + "".join(c.sha256 for c in sending.files)
    digest = request_digest("POST", "/report", payload)
    key = f"report-form:{sending.token}" if _TOKEN.fullmatch(sending.token) else None

    def attempt(files: list[Checked], key: str | None) -> Receipt:
        with kept_on_commit(store) as written, runtime.transaction() as session:

            def work() -> Answer:
                receipt = submit_report(
                    session,
                    cipher,
                    sending.report,
                    submission,
                    files,
                    store=store,
                    written=written,
                )
                stored = session.get(Report, receipt.report_id)
                if stored is not None:
                    report_received(session, cipher, stored)
                body = {"id": receipt.report_id, "code": receipt.code, "files": receipt.files}
                return Answer(201, body)

            answer = once(session, cipher, KeyedRequest(handler, key, digest), work)
        files_seen = tuple((str(name), str(sha)) for name, sha in answer.body["files"])
        return Receipt(str(answer.body["id"]), str(answer.body["code"]), files_seen)

    try:
        try:
            return attempt(sending.files, key)
        except KeyReused:
            # The same form page, changed after sending and sent again: a new report.
            return attempt(sending.files, None)
    except StorageFull:
        return attempt([], None)


# -- the follow-up ---------------------------------------------------------------------------


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
    page = _page(request)
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
    page = _page(request)
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
    if not _limits(request).wrong_codes.allow("all"):
        return page.render(
            "report_code.html", 429, error=N_("Too many tries right now. Please wait a minute.")
        )
    with page.runtime.reading() as session:
        report = find_report(session, str(form.get("code") or ""))
    if report is None:
        return page.render("report_code.html", 404, error=refusal)
    response = RedirectResponse(f"/report/follow-up?lang={page.lang.code}", status_code=303)
    token = _signer(settings).sign(report.id).decode()
    _cookie(response, settings, FOLLOW_UP_COOKIE, token, "/report")
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
    page = _page(request)
    settings = page.runtime.settings
    form = await request.form(max_files=PARSED_FILES, max_fields=20)
    gettext = translations(page.lang.code).gettext
    checked, refusals = await read_files(await _uploads(form), settings, gettext)
    draft = Draft(
        str(form.get("csrf") or ""), str(form.get("message") or "").strip(), checked, refusals
    )
    return await run_in_threadpool(_post_message, request, page, draft)


def _post_message(request: Request, page: Page, draft: Draft) -> Response:
    runtime = page.runtime
    gettext = translations(page.lang.code).gettext
    cipher = runtime.cipher()
    store = _store(runtime)
    limits = _limits(request)
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
    page = _page(request)
    runtime = page.runtime
    form = await request.form(max_files=0, max_fields=20)
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        report = _require_following(request, session, runtime.settings, str(form.get("csrf") or ""))
        if isinstance(report, Response):
            return report
        try:
            _limits(request).code_action(report.id)
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
    page = _page(request)
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


def public_error(request: Request, error: HavenError) -> HTMLResponse:
    """An error on a public page, in the reader's language where the message is known."""
    page = _page(request)
    return page.render("report_error.html", error.status, message=error.message, hint=error.hint)
