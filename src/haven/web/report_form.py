"""The public report form (``/report``): a report from anyone, with no account, in the reader's
language; one press of the send button makes one report."""

from __future__ import annotations

import calendar
import re
import secrets
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from haven.casework.notices import report_received
from haven.domain.countries import country_name
from haven.domain.enums import DatePrecision, PerpetratorKind, ReportChannel, ReporterRelation
from haven.domain.taxonomy import load_taxonomy
from haven.i18n import LANGUAGES, N_, Language, translations
from haven.intake.files import Checked, EvidenceStore, StorageFull
from haven.intake.idempotency import Answer, KeyedRequest, KeyReused, once, request_digest
from haven.intake.models import Report
from haven.intake.reports import (
    Receipt,
    ReportIn,
    Submission,
    intake_organisation,
    kept_on_commit,
    submit_report,
)
from haven.runtime import Runtime
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
    read_files,
)
from haven.web.security import CsrfRefused, check_anonymous_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(close_form)])

HONEYPOT = "website"
SURFACE = "report-form"
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


# -- the form --------------------------------------------------------------------------------


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request) -> HTMLResponse:
    page = Page.of(request)
    return page.render(
        "report_form.html", values={}, errors={}, **_choices(page.lang, page.runtime.settings)
    )


@router.post("/report", response_class=HTMLResponse)
async def report_submit(request: Request) -> Response:
    page = Page.of(request)
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
    uploads = await form_uploads(form)
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
        intake_limits(request).report()
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
    store = evidence_store(runtime)
    if checked and (not intake_limits(request).evidence.take(size) or not store.room_for(size)):
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
