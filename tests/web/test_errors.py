"""Failures answer with Haven's own words and an error id, and leave one log line that names the
exception's type, the error id, the method and the route template, and no value.

The routes that fail are added to the application in this module only. The test client raises
any exception that reaches Starlette's ServerErrorMiddleware, which is where uvicorn would log a
traceback; a test that gets an answer instead shows that nothing got that far.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

import httpx2
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Response
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.background import BackgroundTask

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_token,
    create_user,
)
from haven.domain.enums import ContributorKind, Role
from haven.errors import DatabaseUnavailable, NotFound
from haven.runtime import Runtime
from haven.web.app import SECURITY_HEADERS, create_app
from haven.web.deps import SessionDep
from haven.web.errors import UNEXPECTED

SECRET = "Leyla Nurmagambetova, Rue des Alpes 14"
ERROR_ID = re.compile(r"[0-9a-f]{8}")


def _fail(name: str) -> None:
    raise RuntimeError(f"could not handle {name}")


def _broken_dependency() -> str:
    _fail(SECRET)
    return ""


def _add_failing_routes(app: FastAPI) -> None:
    @app.post("/api/v1/probes/{probe_id}")
    def api_probe(probe_id: str, body: dict[str, str]) -> None:
        _fail(body["name"])

    @app.post("/probes/{probe_id}")
    def page_probe(probe_id: str) -> None:
        _fail(SECRET)

    @app.get("/report/probe")
    def report_probe() -> None:
        _fail(SECRET)

    @app.get("/api/v1/probes/{probe_id}/dependency")
    def dependency_probe(
        probe_id: str, _value: Annotated[str, Depends(_broken_dependency)]
    ) -> None:
        pass

    @app.get("/api/v1/probes/{probe_id}/later")
    def later_probe(probe_id: str) -> Response:
        return Response("done", background=BackgroundTask(_fail, SECRET))

    @app.post("/api/v1/probes/{probe_id}/twice")
    def twice_probe(probe_id: str, body: dict[str, str], session: SessionDep) -> None:
        session.execute(text("CREATE TEMPORARY TABLE probe (name VARCHAR(100) PRIMARY KEY)"))
        for _ in range(2):
            session.execute(text("INSERT INTO probe (name) VALUES (:name)"), {"name": body["name"]})

    @app.get("/api/v1/probes/{probe_id}/{status}")
    def haven_probe(probe_id: str, status: int) -> None:
        if status == 503:
            raise DatabaseUnavailable(f"the database is away ({SECRET})")
        if status == 404:
            raise NotFound("no such probe")
        raise PoolTimeout(f"pool of {SECRET}")


@pytest.fixture
def bearer(runtime: Runtime) -> dict[str, str]:
    """A caseworker's token: the probes that take a body are writing API requests, which are
    refused before they are read without one."""
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        new = NewOrganisation("Probe NGO", ContributorKind.NGO)
        organisation_id = create_organisation(session, cipher, new, actor="test")
        user = NewUser(organisation_id, "probe@example.org", "a" * 16, frozenset({Role.CASEWORKER}))
        user_id = create_user(session, cipher, user, actor="test")
        request = TokenRequest(user_id, "probe", frozenset({"read", "write"}), timedelta(days=1))
        secret = create_token(session, cipher, request, actor="test").secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client(runtime: Runtime, bearer: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(runtime)
    _add_failing_routes(app)
    with TestClient(app, headers=bearer) as client:
        yield client


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def _error_lines(logs: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in logs.records if r.name == "haven.web.errors"]


def _assert_no_values(logs: pytest.LogCaptureFixture, *answers: str) -> None:
    for record in logs.records:
        assert SECRET not in record.getMessage(), record.name
        assert (record.exc_info, record.exc_text, record.stack_info) == (None, None, None)
    for answer in answers:
        assert SECRET not in answer


def test_an_unexpected_failure_answers_500_with_an_error_id_and_logs_its_type_only(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    response = client.post("/api/v1/probes/p-4711", json={"name": SECRET})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == UNEXPECTED.message
    assert "quote the error id" in body["hint"]
    assert ERROR_ID.fullmatch(body["error_id"])
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    assert _error_lines(logs) == [
        f"error {body['error_id']}: RuntimeError on POST /api/v1/probes/{{probe_id}}, answered 500"
    ]
    _assert_no_values(logs, response.text)
    assert not any("p-4711" in line for line in _error_lines(logs))


def test_each_failure_gets_an_id_of_its_own(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    ids = {
        client.post("/api/v1/probes/p", json={"name": SECRET}).json()["error_id"] for _ in range(2)
    }
    assert len(ids) == 2
    assert len(_error_lines(logs)) == 2


def test_a_page_that_fails_shows_the_error_page_with_the_id(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    response = client.post("/probes/p-4711", data={"name": SECRET})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    (line,) = _error_lines(logs)
    error_id = line.split()[1].rstrip(":")
    assert f'Error id: <code dir="ltr">{error_id}</code>' in response.text
    assert UNEXPECTED.message in response.text
    assert "POST /probes/{probe_id}" in line
    _assert_no_values(logs, response.text)


def test_a_public_report_page_that_fails_shows_the_public_error_page_with_the_id(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    response = client.get("/report/probe?lang=fr")
    assert response.status_code == 500
    assert 'lang="fr"' in response.text
    assert "Retour au formulaire" in response.text
    (line,) = _error_lines(logs)
    assert line.split()[1].rstrip(":") in response.text
    assert "GET /report/probe" in line
    _assert_no_values(logs, response.text)


def test_a_failing_dependency_is_answered_and_logged_the_same_way(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    response = client.get("/api/v1/probes/p-4711/dependency")
    assert response.status_code == 500
    error_id = response.json()["error_id"]
    assert _error_lines(logs) == [
        f"error {error_id}: RuntimeError on GET /api/v1/probes/{{probe_id}}/dependency, "
        "answered 500"
    ]
    _assert_no_values(logs, response.text)


def test_a_failure_after_the_answer_is_logged_and_goes_no_further(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    response = client.get("/api/v1/probes/p-4711/later")
    assert response.status_code == 200
    assert response.text == "done"
    (line,) = _error_lines(logs)
    assert line.endswith(
        ": RuntimeError on GET /api/v1/probes/{probe_id}/later, after the answer had begun"
    )
    _assert_no_values(logs)


def test_a_database_error_answers_503_and_logs_neither_the_statement_nor_its_values(
    client: TestClient, logs: pytest.LogCaptureFixture, dialect: str
) -> None:
    response = client.post("/api/v1/probes/p-4711/twice", json={"name": SECRET})
    assert response.status_code == 503
    body = response.json()
    driver = "sqlite3.IntegrityError" if dialect == "sqlite" else "psycopg.errors.UniqueViolation"
    refused = driver.rsplit(".", 1)[1]
    assert body["error"] == f"the database refused the operation ({refused}); nothing was written"
    assert body["hint"] == "the log of the database server has the details"
    assert _error_lines(logs) == [
        f"error {body['error_id']}: sqlalchemy.exc.IntegrityError from {driver} on "
        "POST /api/v1/probes/{probe_id}/twice, answered 503"
    ]
    _assert_no_values(logs, response.text)
    assert not any("INSERT" in record.getMessage() for record in logs.records)


def test_a_handled_server_error_keeps_its_status_and_is_logged_with_an_id(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    busy = client.get("/api/v1/probes/p-4711/500")
    assert busy.status_code == 503
    assert busy.json()["error"] == "Haven is too busy to answer right now"
    away = client.get("/api/v1/probes/p-4711/503")
    assert away.status_code == 503
    lines = _error_lines(logs)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "sqlalchemy.exc.TimeoutError on GET /api/v1/probes/{probe_id}/{status}, answered 503",
        "haven.errors.DatabaseUnavailable on GET /api/v1/probes/{probe_id}/{status}, answered 503",
    ]
    assert [busy.json()["error_id"], away.json()["error_id"]] == [
        line.split()[1].rstrip(":") for line in lines
    ]
    # A HavenError's message is Haven's own and names records by id; the log still leaves it out.
    for record in logs.records:
        assert "the database is away" not in record.getMessage()


def test_a_refusal_below_500_is_answered_without_an_id_or_a_log_line(
    client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    response = client.get("/api/v1/probes/p-4711/404")
    assert response.status_code == 404
    assert response.json() == {"error": "no such probe"}
    assert _error_lines(logs) == []
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "Error id" not in page.text


def test_uvicorn_logs_only_the_line_when_a_request_fails(
    runtime: Runtime, logs: pytest.LogCaptureFixture, bearer: dict[str, str]
) -> None:
    app = create_app(runtime)
    _add_failing_routes(app)
    # Port 0: the system picks a free one. log_config=None keeps uvicorn's records flowing to
    # the captured root logger.
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        probe = f"{base}/api/v1/probes/p-4711"
        failed = httpx2.post(probe, json={"name": SECRET}, headers=bearer, timeout=10)
        later = httpx2.get(f"{base}/api/v1/probes/p-4711/later", timeout=10)
    finally:
        server.should_exit = True
        serving.join(timeout=10)
    assert (failed.status_code, later.status_code) == (500, 200)
    assert len(_error_lines(logs)) == 2
    assert [r.getMessage() for r in logs.records if r.levelno >= logging.ERROR] == _error_lines(
        logs
    )
    _assert_no_values(logs, failed.text, later.text)
