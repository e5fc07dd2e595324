"""The import page: caseworkers and coordinators upload a CSV or XLSX sheet, see every bad row
with its line number, and import the rows, all or none, while a page shows the progress.

An import runs in a thread of its own, in one transaction. What the page shows of it lives in
memory in ``app.state.import_jobs``: counts and a status, never what the cells hold. Only the
organisation that started an import sees it, under an id nobody can guess.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven.access.policy import IDENTITY_ROLES
from haven.crypto.fields import FieldCipher
from haven.db.engine import DRIVER_ERRORS, database_error
from haven.domain.enums import Tlp
from haven.domain.taxonomy import load_taxonomy
from haven.errors import Forbidden, HavenError, NotFound, ValidationFailed
from haven.intake.imports import (
    FREEDOM_HOUSE,
    HAVEN_COLUMNS,
    READY_MAPPINGS,
    ImportCounts,
    ImportRow,
    Problem,
    already_imported,
    check,
    run_import,
)
from haven.registry.writer import Actor
from haven.runtime import Runtime
from haven.web.deps import CipherDep, SessionDep
from haven.web.pages import RuntimeDep, Visitor, VisitorDep, page

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)

MEBIBYTE = 1024 * 1024
# Finished imports are forgotten after an hour; running ones never.
KEPT_SECONDS = 3600
_JOBS_LOCK = threading.Lock()


@dataclass
class ImportJob:
    """An import in the background, as far as its page needs it."""

    id: str
    organisation_id: str
    total: int
    done: int = 0
    status: str = "running"  # running, finished or failed
    imported: int = 0
    already: int = 0
    error: str | None = None
    finished_at: float | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"

    def advance(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def finish(self, counts: ImportCounts) -> None:
        self.imported, self.already = counts.imported, counts.already
        self.done = self.total
        self.finished_at = time.monotonic()
        self.status = "finished"

    def fail(self, reason: str) -> None:
        self.error = reason
        self.finished_at = time.monotonic()
        self.status = "failed"


def _jobs(request: Request) -> dict[str, ImportJob]:
    state = request.app.state
    with _JOBS_LOCK:
        jobs: dict[str, ImportJob] | None = getattr(state, "import_jobs", None)
        if jobs is None:
            jobs = {}
            state.import_jobs = jobs
        return jobs


def _importer(visitor: Visitor) -> str:
    if not visitor.reader.roles & IDENTITY_ROLES or visitor.reader.organisation_id is None:
        raise Forbidden("only caseworkers and coordinators import spreadsheets")
    return visitor.reader.organisation_id


def _mappings() -> list[dict[str, str]]:
    return [
        {
            "value": "freedom-house",
            "label": FREEDOM_HOUSE.name,
            "columns": ", ".join(header for _, header in FREEDOM_HOUSE.columns),
        },
        {
            "value": "haven",
            "label": HAVEN_COLUMNS.name,
            "columns": ", ".join(header for _, header in HAVEN_COLUMNS.columns),
        },
    ]


@dataclass(frozen=True, slots=True)
class Shown:
    """What the import page shows besides its fixed choices: what was chosen and what came of it."""

    status: int = 200
    mapping: str = "freedom-house"
    tlp: Tlp = Tlp.AMBER
    error: str | None = None
    problems: Sequence[Problem] = ()
    summary: str | None = None
    notice: str | None = None


def _imports_page(request: Request, visitor: Visitor, shown: Shown) -> HTMLResponse:
    labels = {term.code: term.label for term in load_taxonomy().tlp.terms}
    return page(
        request,
        "imports.html",
        status=shown.status,
        visitor=visitor,
        mappings=_mappings(),
        chosen_mapping=shown.mapping,
        tlps=[(label.value, labels.get(label.value, label.value)) for label in Tlp],
        chosen_tlp=shown.tlp.value,
        error=shown.error,
        problems=shown.problems,
        summary=shown.summary,
        notice=shown.notice,
    )


@dataclass(frozen=True, slots=True)
class Upload:
    """The upload form's fields."""

    file: UploadFile
    mapping: str
    tlp: Tlp
    check_only: bool
    csrf: str


def upload_form(
    file: Annotated[UploadFile, File()],
    mapping: Annotated[str, Form(max_length=40)] = "freedom-house",
    tlp: Annotated[Tlp, Form()] = Tlp.AMBER,
    check_only: Annotated[bool, Form()] = False,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Upload:
    return Upload(file, mapping, tlp, check_only, csrf)


@dataclass(frozen=True, slots=True)
class Importing:
    """What an upload works with: the request's transaction (for a check-only run), the cipher
    and the runtime (its settings cap the file; it runs the import in a thread of its own)."""

    session: Session
    cipher: FieldCipher
    runtime: Runtime


def get_importing(session: SessionDep, cipher: CipherDep, runtime: RuntimeDep) -> Importing:
    return Importing(session, cipher, runtime)


UploadDep = Annotated[Upload, Depends(upload_form)]
ImportingDep = Annotated[Importing, Depends(get_importing)]


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, visitor: VisitorDep) -> HTMLResponse:
    _importer(visitor)
    return _imports_page(request, visitor, Shown())


@router.post("/imports", response_class=HTMLResponse)
def imports_upload(
    request: Request, visitor: VisitorDep, importing: ImportingDep, form: UploadDep
) -> Response:
    """Check every row; list the bad ones (importing nothing), or start the import."""
    organisation_id = _importer(visitor)
    visitor.require_csrf(form.csrf)
    shown = Shown(mapping=form.mapping, tlp=form.tlp)
    settings = importing.runtime.settings
    limit = settings.max_file_mb * MEBIBYTE
    data = form.file.file.read(limit + 1)
    try:
        if len(data) > limit:
            raise ValidationFailed(
                f"the file is larger than {settings.max_file_mb} MB",
                hint="split it into several files",
            )
        if not data:
            raise ValidationFailed("the file is empty", hint="choose a CSV or XLSX file")
        chosen = READY_MAPPINGS.get(form.mapping)
        if chosen is None:
            raise ValidationFailed("choose one of the column mappings offered")
        checked = check(data, chosen, tlp=form.tlp)
    except ValidationFailed as refusal:
        return _imports_page(request, visitor, replace(shown, status=422, error=refusal.one_line()))
    if not checked.ok:
        refused = replace(shown, status=422, problems=checked.problems, summary=checked.summary())
        return _imports_page(request, visitor, refused)
    if form.check_only:
        known = already_imported(importing.session, importing.cipher, organisation_id, checked.rows)
        notice = (
            f"All {checked.lines} rows are good: {len(checked.rows) - known} would be imported "
            f"({known} already imported). Nothing was imported."
        )
        return _imports_page(request, visitor, replace(shown, notice=notice))
    actor = Actor(organisation_id, visitor.reader.actor, "web")
    job = _start(request, importing.runtime, actor, checked.rows)
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


def _start(
    request: Request, runtime: Runtime, actor: Actor, rows: Sequence[ImportRow]
) -> ImportJob:
    jobs = _jobs(request)
    job = ImportJob(secrets.token_urlsafe(18), actor.contributor_id, total=len(rows))
    now = time.monotonic()
    with _JOBS_LOCK:
        for stale in [
            key
            for key, old in jobs.items()
            if old.finished_at is not None and now - old.finished_at > KEPT_SECONDS
        ]:
            del jobs[stale]
        jobs[job.id] = job
    worker = threading.Thread(
        target=_run, args=(runtime, actor, rows, job), name="haven-import", daemon=True
    )
    worker.start()
    return job


def _run(runtime: Runtime, actor: Actor, rows: Sequence[ImportRow], job: ImportJob) -> None:
    """Import in a transaction of its own; the job learns the counts or why nothing was
    imported, never a cell's content."""
    try:
        cipher = runtime.cipher()
        with runtime.transaction() as session:
            counts = run_import(session, cipher, actor, rows, progress=job.advance)
    except IntegrityError:
        job.fail(
            "another import of the same rows was written at the same time, so nothing was "
            "imported (import the file again to add what is still missing)"
        )
    except DRIVER_ERRORS as exc:
        job.fail(database_error(exc).one_line())
    except HavenError as exc:
        job.fail(exc.one_line())
    except Exception as exc:
        # The message might quote a cell; the type is enough to look for the cause.
        logger.error("import %s failed: %s", job.id, type(exc).__name__)
        job.fail("the import failed; nothing was imported")
    else:
        job.finish(counts)


@router.get("/imports/{job_id}", response_class=HTMLResponse)
def import_progress(request: Request, job_id: str, visitor: VisitorDep) -> HTMLResponse:
    organisation_id = _importer(visitor)
    job = _jobs(request).get(job_id)
    if job is None or job.organisation_id != organisation_id:
        raise NotFound("no such import", hint="imports are shown for an hour after they end")
    return page(request, "import_progress.html", visitor=visitor, job=job)
