"""The receiving side of referrals: an authority's (or another organisation's) list of cases
referred to it, the case as the policy gate lets it see it, and the acknowledgement and action
forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.access.policy import IDENTITY_ROLES
from haven.access.reads import get_incident
from haven.casework.models import Referral
from haven.casework.notices import referral_answered
from haven.casework.workflow import ActionTaken, acknowledge, record_action
from haven.crypto.fields import FieldCipher
from haven.db.values import utcnow
from haven.domain.countries import country_name
from haven.domain.enums import AuthorityAction
from haven.errors import Forbidden, NotFound
from haven.intake.models import Report
from haven.notify.events import EventKind
from haven.registry.models import Contributor
from haven.registry.paging import is_record_id
from haven.web.deps import CipherDep, SessionDep
from haven.web.pages import Visitor, VisitorDep, page

router = APIRouter(include_in_schema=False)


class AcknowledgeForm(BaseModel):
    csrf: str = ""


class ActionForm(BaseModel):
    action: AuthorityAction
    reason: str = Field(default="", max_length=5_000)
    csrf: str = ""


def _organisation(visitor: Visitor) -> str:
    if not visitor.reader.roles & IDENTITY_ROLES or visitor.reader.organisation_id is None:
        raise Forbidden("only caseworkers and coordinators handle referrals")
    return visitor.reader.organisation_id


@router.get("/referrals", response_class=HTMLResponse)
def referrals_list(request: Request, visitor: VisitorDep, session: SessionDep) -> HTMLResponse:
    organisation = _organisation(visitor)
    rows = session.scalars(
        select(Referral)
        .where(Referral.to_organisation == organisation)
        .order_by(Referral.status, Referral.due_at)
        .limit(500)
    ).all()
    names = {c.id: c.name for c in session.scalars(select(Contributor))}
    reports = (
        {
            r.id: r
            for r in session.scalars(
                select(Report).where(Report.id.in_([x.report_id for x in rows]))
            )
        }
        if rows
        else {}
    )
    return page(
        request,
        "referrals.html",
        visitor=visitor,
        referrals=rows,
        reports=reports,
        names=names,
        now=utcnow(),
    )


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
def referral_page(
    request: Request,
    referral_id: str,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
) -> HTMLResponse:
    organisation = _organisation(visitor)
    referral = session.get(Referral, referral_id) if is_record_id(referral_id) else None
    if referral is None or referral.to_organisation != organisation:
        raise NotFound("no such referral")
    report = session.get(Report, referral.report_id)
    if report is None:
        raise NotFound("no such referral")
    # Through the gate: the referral opens the case to this organisation, within consent.
    view = get_incident(session, cipher, visitor.reader, report.incident_id)
    sender = session.get(Contributor, report.handled_by)
    return page(
        request,
        "referral.html",
        visitor=visitor,
        referral=referral,
        report=report,
        view=view,
        sender=sender.name if sender else "",
        country=country_name,
        actions=list(AuthorityAction),
        now=utcnow(),
    )


@router.post("/referrals/{referral_id}/acknowledge")
def referral_acknowledge(
    referral_id: str,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
    form: Annotated[AcknowledgeForm, Form()],
) -> Response:
    visitor.require_csrf(form.csrf)
    _organisation(visitor)
    if not is_record_id(referral_id):
        raise NotFound("no such referral")
    referral = acknowledge(session, visitor.reader, referral_id)
    _tell_sender(session, cipher, referral, EventKind.REFERRAL_ACKNOWLEDGED)
    return RedirectResponse(f"/referrals/{referral_id}", status_code=303)


@router.post("/referrals/{referral_id}/action")
def referral_action(
    referral_id: str,
    visitor: VisitorDep,
    session: SessionDep,
    cipher: CipherDep,
    form: Annotated[ActionForm, Form()],
) -> Response:
    visitor.require_csrf(form.csrf)
    _organisation(visitor)
    if not is_record_id(referral_id):
        raise NotFound("no such referral")
    referral = record_action(
        session, cipher, visitor.reader, referral_id, ActionTaken(form.action, form.reason)
    )
    _tell_sender(session, cipher, referral, EventKind.ACTION_RECORDED)
    return RedirectResponse(f"/referrals/{referral_id}", status_code=303)


def _tell_sender(
    session: Session, cipher: FieldCipher, referral: Referral, kind: EventKind
) -> None:
    report = session.get(Report, referral.report_id)
    if report is not None:
        referral_answered(session, cipher, referral, report, kind)
