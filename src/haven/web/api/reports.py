"""/api/v1/reports: organisations hand in reports they received, retried safely with an
``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from haven.casework.notices import report_received
from haven.domain.enums import ReportChannel
from haven.intake.cases import get_case
from haven.intake.idempotency import Answer, KeyedRequest, once, request_digest
from haven.intake.reports import ReportIn, Submission, own_report, submit_report
from haven.registry.paging import require_record_id
from haven.runtime import Runtime
from haven.web.api.authoring import AuthoringDep, author
from haven.web.deps import ReaderDep, ReadSessionDep, get_runtime

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A unique key per logical request; a retry with the same key and body "
        "returns the first answer and creates nothing new (kept for 24 hours).",
    ),
]


class ReportCreated(BaseModel):
    id: str
    incident_id: str
    person_id: str
    receipt_code: str = Field(
        description="Give this to the reporter: with it they follow the report up at "
        "/report/follow-up. It is shown only in this answer (and its retries)."
    )


class ReportOut(BaseModel):
    id: str
    status: str
    urgent: bool
    channel: str
    incident_id: str
    person_id: str
    received_at: datetime
    updated_at: datetime


def replayable(answer: Answer, location: str | None = None) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if location and answer.status == 201:
        headers["Location"] = location
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.post(
    "",
    summary="Hand in a report",
    status_code=201,
    response_model=ReportCreated,
    responses={422: {"description": "Invalid report, or an Idempotency-Key reused."}},
)
def create(
    data: ReportIn,
    request: AuthoringDep,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """The report is handled by the caller's organisation and labelled TLP:AMBER+STRICT; its
    person's consent is as ``consent`` says."""
    actor = author(request.reader)

    def work() -> Answer:
        submission = Submission(
            actor.contributor_id, ReportChannel.API, actor.name, "api", runtime.settings.deadlines
        )
        receipt = submit_report(request.session, request.cipher, data, submission)
        report = own_report(request.session, receipt.report_id, actor.contributor_id)
        report_received(request.session, request.cipher, report)
        created = ReportCreated(
            id=report.id,
            incident_id=report.incident_id,
            person_id=report.person_id,
            receipt_code=receipt.code,
        )
        return Answer(201, created.model_dump())

    digest = request_digest("POST", "/api/v1/reports", data.model_dump_json())
    keyed = KeyedRequest(actor.contributor_id, idempotency_key, digest)
    answer = once(request.session, request.cipher, keyed, work)
    return replayable(answer, f"/api/v1/reports/{answer.body.get('id')}")


@router.get(
    "/{report_id}",
    summary="One report's status",
    response_model=ReportOut,
    responses={404: {"description": "No such report handled by the caller's organisation."}},
)
def detail(report_id: str, session: ReadSessionDep, reader: ReaderDep) -> ReportOut:
    author(reader)
    require_record_id(report_id, "no such report")
    report = get_case(session, reader, report_id)
    return ReportOut(
        id=report.id,
        status=report.status.value,
        urgent=report.urgent,
        channel=report.channel.value,
        incident_id=report.incident_id,
        person_id=report.person_id,
        received_at=report.received_at,
        updated_at=report.updated_at,
    )
