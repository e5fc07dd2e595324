"""The handling organisation's side of reports: the list of reports received, one report with
its conversation and files, and replies the reporter reads with their receipt code.

Only caseworkers and coordinators of the organisation that handles a report see it; every page
that shows its sealed content writes the read to the audit chain.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.models import User
from haven.access.policy import IDENTITY_ROLES, record_reads
from haven.casework.models import CaseLink
from haven.casework.notices import referral_sent
from haven.casework.workflow import (
    MOVES,
    add_note,
    assign,
    link,
    move,
    notes,
    refer,
    referrals_of,
    timeline,
)
from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.countries import country_name
from haven.domain.enums import ContributorKind, MessageSender, ReferralAsk, ReportStatus, Role
from haven.errors import Forbidden, NotFound
from haven.intake.cases import case_follow_up, cases, get_case, handled, may_read_person
from haven.intake.files import EvidenceStore
from haven.intake.models import EvidenceFile, Report
from haven.intake.reports import add_message, open_json
from haven.registry.models import Contributor, Incident, IncidentTactic
from haven.registry.paging import is_record_id
from haven.registry.sealed import read_identity, sealed_context
from haven.web.deps import CipherDep, SessionDep
from haven.web.pages import RuntimeDep, SignedInDep, Visitor, VisitorDep, page

router = APIRouter(include_in_schema=False)


class ReplyForm(BaseModel):
    message: str = Field(max_length=20_000)
    csrf: str = ""


def _handler(visitor: Visitor) -> str:
    if not visitor.reader.roles & IDENTITY_ROLES or visitor.reader.organisation_id is None:
        raise Forbidden("only caseworkers and coordinators read reports")
    return visitor.reader.organisation_id


class CaseFilter(BaseModel):
    model_config = {"extra": "forbid"}

    # Empty means "any": a form's select sends "" for its first option.
    status: ReportStatus | Literal[""] = ""
    urgent: Literal["true", "false", ""] = ""
    assigned: Literal["me", "nobody", ""] = ""


@router.get("/reports", response_class=HTMLResponse)
def reports_list(
    request: Request,
    visitor: VisitorDep,
    session: SessionDep,
    filters: Annotated[CaseFilter, Query()],
) -> HTMLResponse:
    """The inbox (new and overdue cases) above the list of cases, with filters."""
    _handler(visitor)
    query = (
        cases(visitor.reader).order_by(Report.urgent.desc(), Report.received_at.desc()).limit(200)
    )
    if filters.status:
        query = query.where(Report.status == filters.status)
    if filters.urgent:
        query = query.where(Report.urgent.is_(filters.urgent == "true"))
    if filters.assigned == "me":
        query = query.where(Report.assigned_to == visitor.user.id)
    elif filters.assigned == "nobody":
        query = query.where(Report.assigned_to.is_(None))
    reports: list[tuple[Report, Incident]] = [
        (report, incident) for report, incident in session.execute(query)
    ]
    tactics: dict[str, list[str]] = {}
    if reports:
        ids = [incident.id for _, incident in reports]
        for incident_id, tactic in session.execute(
            select(IncidentTactic.incident_id, IncidentTactic.tactic).where(
                IncidentTactic.incident_id.in_(ids)
            )
        ):
            tactics.setdefault(incident_id, []).append(tactic)
    now = utcnow()
    fresh = session.scalars(
        select(Report)
        .where(handled(visitor.reader), Report.status == ReportStatus.RECEIVED)
        .order_by(Report.urgent.desc(), Report.ack_due_at)
        .limit(100)
    ).all()
    return page(
        request,
        "reports.html",
        visitor=visitor,
        reports=reports,
        tactics=tactics,
        country=country_name,
        inbox=fresh,
        now=now,
        filters=filters,
        statuses=list(ReportStatus),
    )


def _report(session: SessionDep, visitor: Visitor, report_id: str) -> Report:
    _handler(visitor)
    return get_case(session, visitor.reader, report_id)


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request, report_id: str, visitor: VisitorDep, session: SessionDep, cipher: CipherDep
) -> HTMLResponse:
    _handler(visitor)
    report = get_case(session, visitor.reader, report_id)
    incident = session.get(Incident, report.incident_id)
    if incident is None:
        raise NotFound("no such report")
    narrative = ""
    if incident.narrative is not None:
        context = sealed_context("incidents", "narrative", incident.id)
        narrative = cipher.decrypt(incident.narrative, context).decode()
    identity = (
        read_identity(session, cipher, report.person_id)
        if may_read_person(session, visitor.reader, report)
        else None
    )
    view = case_follow_up(session, cipher, visitor.reader, report)
    record_reads(session, visitor.reader, "reports", [report.id])
    record_reads(session, visitor.reader, "incidents", [incident.id])
    if identity is not None:
        record_reads(session, visitor.reader, "people", [report.person_id])
    tactics = session.scalars(
        select(IncidentTactic.tactic).where(IncidentTactic.incident_id == incident.id)
    )
    return page(
        request,
        "report.html",
        visitor=visitor,
        report=report,
        incident=incident,
        narrative=narrative,
        identity=identity,
        contact=open_json(cipher, "contact", report),
        details=open_json(cipher, "details", report) or {},
        view=view,
        tactics=sorted(tactics),
        country=country_name,
        sender_reporter=MessageSender.REPORTER,
        timeline=timeline(session, report),
        moves=sorted(MOVES[report.status]),
        notes=notes(session, cipher, report),
        links=session.scalars(select(CaseLink).where(CaseLink.report_id == report.id)).all(),
        referrals=referrals_of(session, report),
        colleagues=_colleagues(session, cipher, report.handled_by),
        organisations=session.scalars(
            select(Contributor)
            .where(Contributor.id != report.handled_by, Contributor.kind != ContributorKind.SYSTEM)
            .order_by(Contributor.name)
        ).all(),
        asks=list(ReferralAsk),
        names={c.id: c.name for c in session.scalars(select(Contributor))},
        now=utcnow(),
    )


def _colleagues(
    session: Session, cipher: FieldCipher, organisation_id: str
) -> list[tuple[str, str]]:
    users = session.scalars(select(User).where(User.organisation_id == organisation_id))
    return [
        (user.id, cipher.decrypt(user.login, f"users.login:{user.id}").decode())
        for user in users
        if set(user.roles) & {Role.CASEWORKER.value, Role.COORDINATOR.value}
        and user.disabled_at is None
    ]


class MoveForm(BaseModel):
    to: ReportStatus
    csrf: str = ""


class AssignForm(BaseModel):
    user_id: str = Field(default="", max_length=40)
    csrf: str = ""


class NoteForm(BaseModel):
    body: str = Field(max_length=20_000)
    csrf: str = ""


class LinkForm(BaseModel):
    entity: str = Field(max_length=40)
    record_id: str = Field(max_length=40)
    csrf: str = ""


class ReferForm(BaseModel):
    organisation_id: str = Field(max_length=40)
    asks: list[ReferralAsk] = []
    csrf: str = ""


def _back(report: Report) -> RedirectResponse:
    return RedirectResponse(f"/reports/{report.id}", status_code=303)


@router.post("/reports/{report_id}/move")
def case_move(
    report_id: str, visitor: VisitorDep, session: SessionDep, form: Annotated[MoveForm, Form()]
) -> Response:
    visitor.require_csrf(form.csrf)
    report = _report(session, visitor, report_id)
    move(session, visitor.reader, report, form.to)
    return _back(report)


@router.post("/reports/{report_id}/assign")
def case_assign(
    report_id: str, visitor: VisitorDep, session: SessionDep, form: Annotated[AssignForm, Form()]
) -> Response:
    visitor.require_csrf(form.csrf)
    report = _report(session, visitor, report_id)
    assign(session, visitor.reader, report, form.user_id or None)
    return _back(report)


@router.post("/reports/{report_id}/note")
def case_note(
    report_id: str,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
    form: Annotated[NoteForm, Form()],
) -> Response:
    visitor.require_csrf(form.csrf)
    report = _report(session, visitor, report_id)
    add_note(session, cipher, visitor.reader, report, form.body)
    return _back(report)


@router.post("/reports/{report_id}/link")
def case_link(
    report_id: str, visitor: VisitorDep, session: SessionDep, form: Annotated[LinkForm, Form()]
) -> Response:
    visitor.require_csrf(form.csrf)
    report = _report(session, visitor, report_id)
    if not is_record_id(form.record_id):
        raise NotFound(f"no such {form.entity} record")
    link(session, visitor.reader, report, form.entity, form.record_id)
    return _back(report)


@router.post("/reports/{report_id}/refer")
def case_refer(
    report_id: str,
    *,
    visitor: VisitorDep,
    session: SessionDep,
    runtime: RuntimeDep,
    form: Annotated[ReferForm, Form()],
) -> Response:
    visitor.require_csrf(form.csrf)
    report = _report(session, visitor, report_id)
    if not is_record_id(form.organisation_id):
        raise NotFound("no such organisation to refer to")
    referral = refer(
        session,
        visitor.reader,
        report,
        form.organisation_id,
        form.asks,
        deadlines=runtime.settings.deadlines,
    )
    referral_sent(session, runtime.cipher(), referral, report)
    return _back(report)


@router.post("/reports/{report_id}/reply")
def report_reply(
    report_id: str,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
    form: Annotated[ReplyForm, Form()],
) -> Response:
    visitor.require_csrf(form.csrf)
    report = _report(session, visitor, report_id)
    add_message(
        session,
        cipher,
        report,
        form.message,
        sender=MessageSender.ORGANISATION,
        author_id=visitor.user.id,
    )
    return RedirectResponse(f"/reports/{report.id}", status_code=303)


# A download is never shown as a page: no script runs, nothing loads, nothing is guessed.
DOWNLOAD_POLICY = "sandbox; default-src 'none'"


def _attachment(filename: str) -> str:
    """A Content-Disposition that saves the file under its name (RFC 6266): ``filename*`` in
    UTF-8 for browsers, and a plain ASCII ``filename`` for clients that know only that."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/reports/{report_id}/files/{evidence_id}")
def report_file(
    report_id: str,
    evidence_id: str,
    here: SignedInDep,
    runtime: RuntimeDep,
    copy: Annotated[str, Query(pattern="^(clean|original)$")] = "clean",
) -> Response:
    """A file as a download: the copy without metadata by default, the original on request."""
    session, cipher, reader = here.session, here.cipher, here.visitor.reader
    report = _report(session, here.visitor, report_id)
    stored = session.get(EvidenceFile, evidence_id) if is_record_id(evidence_id) else None
    if stored is None or stored.report_id != report.id:
        raise NotFound("no such file")
    files = case_follow_up(session, cipher, reader, report).files
    view = next((f for f in files if f.evidence_id == evidence_id), None)
    if view is None:
        raise NotFound("no such file")
    which = copy if view.cleaned else "original"
    store = EvidenceStore(runtime.settings.resolved_evidence_dir, reserve_bytes=0)
    content = store.get(cipher, evidence_id, which)
    record_reads(session, reader, "evidence", [evidence_id])
    return Response(
        content,
        media_type=view.media_type,
        headers={
            "Content-Disposition": _attachment(view.filename or "file"),
            "Content-Security-Policy": DOWNLOAD_POLICY,
            "X-Content-Type-Options": "nosniff",
        },
    )
