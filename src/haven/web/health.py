"""Liveness and readiness: is the database reachable and its schema current."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from haven import __version__
from haven.db.migrate import is_current
from haven.errors import HavenError
from haven.runtime import Runtime

router = APIRouter()


class Health(BaseModel):
    status: str
    version: str
    database: str
    schema_current: bool


@router.get(
    "/healthz",
    summary="Health check",
    description="200 when the database answers and its schema is current, 503 otherwise.",
    responses={503: {"model": Health}},
)
def healthz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    try:
        current = is_current(runtime.engine)
        database = "ok"
    except (SQLAlchemyError, HavenError):
        current, database = False, "unreachable"
    healthy = database == "ok" and current
    body = Health(
        status="ok" if healthy else "unavailable",
        version=__version__,
        database=database,
        schema_current=current,
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
