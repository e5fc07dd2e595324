"""The handling organisation's side of reports: the list of reports received, one report with
its conversation and files, and replies the reporter reads with their receipt code.

Only caseworkers and coordinators of the organisation that handles a report see it; every page
that shows its sealed content writes the read to the audit chain.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from haven.access.policy import IDENTITY_ROLES, record_reads
from haven.domain.countries import country_name
from haven.domain.enums import MessageSender
from haven.errors import Forbidden, NotFound
from haven.intake.files import EvidenceStore
from haven.intake.models import EvidenceFile, Report
from haven.intake.reports import add_message, follow_up, get_report, open_json
from haven.registry.models import Incident, IncidentTactic
from haven.registry.paging import is_record_id
from haven.registry.sealed import read_identity, sealed_context
from haven.web.deps import CipherDep, SessionDep
from haven.web.pages import RuntimeDep, Visitor, VisitorDep, page

router = APIRouter(include_in_schema=False)


class ReplyForm(BaseModel):
    message: str = Field(max_length=20_000)
    csrf: str = ""


def _handler(visitor: Visitor) -> str:
    if not visitor.reader.roles & IDENTITY_ROLES or visitor.reader.organisation_id is None:
        raise Forbidden("only caseworkers and coordinators read reports")
    return visitor.reader.organisation_id


@router.get("/reports", response_class=HTMLResponse)
def reports_list(request: Request, visitor: VisitorDep, session: SessionDep) -> HTMLResponse:
    handler = _handler(visitor)
    rows = session.execute(
        select(Report, Incident)
        .join(Incident, Incident.id == Report.incident_id)
        .where(Report.handled_by == handler)
        .order_by(Report.urgent.desc(), Report.received_at.desc())
        .limit(200)
    )
    reports = list(rows)
    tactics: dict[str, list[str]] = {}
    if reports:
        ids = [incident.id for _, incident in reports]
        for incident_id, tactic in session.execute(
            select(IncidentTactic.incident_id, IncidentTactic.tactic).where(
                IncidentTactic.incident_id.in_(ids)
            )
        ):
            tactics.setdefault(incident_id, []).append(tactic)
    return page(
        request,
        "reports.html",
        visitor=visitor,
        reports=reports,
        tactics=tactics,
        country=country_name,
    )


def _report(session: SessionDep, visitor: Visitor, report_id: str) -> Report:
    if not is_record_id(report_id):
        raise NotFound("no such report")
    return get_report(session, report_id, _handler(visitor))


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request, report_id: str, visitor: VisitorDep, session: SessionDep, cipher: CipherDep
) -> HTMLResponse:
    report = _report(session, visitor, report_id)
    incident = session.get(Incident, report.incident_id)
    if incident is None:
        raise NotFound("no such report")
    narrative = ""
    if incident.narrative is not None:
        context = sealed_context("incidents", "narrative", incident.id)
        narrative = cipher.decrypt(incident.narrative, context).decode()
    identity = read_identity(session, cipher, report.person_id)
    view = follow_up(session, cipher, report)
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
    )


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


@router.get("/reports/{report_id}/files/{evidence_id}")
def report_file(
    report_id: str,
    evidence_id: str,
    *,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
    runtime: RuntimeDep,
    copy: Annotated[str, Query(pattern="^(clean|original)$")] = "clean",
) -> Response:
    """A file as a download: the copy without metadata by default, the original on request."""
    report = _report(session, visitor, report_id)
    stored = session.get(EvidenceFile, evidence_id) if is_record_id(evidence_id) else None
    if stored is None or stored.report_id != report.id:
        raise NotFound("no such file")
    view = next(f for f in follow_up(session, cipher, report).files if f.evidence_id == evidence_id)
    which = copy if view.cleaned else "original"
    settings = runtime.settings
    store = EvidenceStore(settings.resolved_evidence_dir, reserve_bytes=0)
    content = store.get(cipher, evidence_id, which)
    record_reads(session, visitor.reader, "evidence", [evidence_id])
    return Response(
        content,
        media_type=view.media_type,
        headers={
            "Content-Disposition": "attachment",
            "Content-Security-Policy": "sandbox",
        },
    )
