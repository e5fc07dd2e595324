"""/api/v1/reports: handing in a report, who may, bad input, and Idempotency-Key (replays,
reuse, scoping, concurrent retries on a real server)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from haven.db.base import Base
from haven.db.values import utcnow
from haven.domain.enums import ReportStatus, Role
from haven.intake.models import IdempotencyKey, Report
from haven.intake.reports import find_report
from haven.registry.models import Incident, Person
from haven.runtime import Runtime

Member = Callable[..., tuple[str, dict[str, str]]]
TARGET = "Dilnoza Karimova-Westerhaus"
REPORT: dict[str, Any] = {
    "what_happened": "Her brother in Tashkent was questioned about her articles.",
    "tactics": ["coercion-by-proxy"],
    "occurred": {"start": "2024-05-01", "precision": "month"},
    "origin_state": "uz",
    "host_state": "de",
    "relation": "relative-in-home-country",
    "target_name": TARGET,
    "target_profile": "journalist",
    "urgent": True,
    "consent": ["ngo"],
}
CODE_SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}")
INCIDENT = {
    "title": "Summons of a relative",
    "narrative": "The police summoned her father.",
    "occurred": {"start": "2024-02-01", "precision": "month"},
    "origin_state": "tj",
    "tactics": ["coercion-by-proxy"],
    "tlp": "amber+strict",
}


def _count(runtime: Runtime, model: type[Base]) -> int:
    with runtime.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _counts(runtime: Runtime) -> dict[str, int]:
    models: list[type[Base]] = [Report, Incident, Person, IdempotencyKey]
    return {model.__name__: _count(runtime, model) for model in models}


def _key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def test_a_caseworker_hands_in_a_report_and_reads_its_status(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    ngo = organisation("Exile Legal Aid")
    _, headers = member(ngo, Role.CASEWORKER)

    created = client.post("/api/v1/reports", json=REPORT, headers=headers)

    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "incident_id", "person_id", "receipt_code"}
    assert CODE_SHAPE.fullmatch(body["receipt_code"])
    assert created.headers["location"] == f"/api/v1/reports/{body['id']}"
    assert "idempotent-replayed" not in created.headers

    status = client.get(created.headers["location"], headers=headers)
    assert status.status_code == 200, status.text
    shown = status.json()
    assert shown["id"] == body["id"]
    assert shown["status"] == ReportStatus.RECEIVED.value
    assert shown["urgent"] is True
    assert shown["channel"] == "api"
    assert shown["incident_id"] == body["incident_id"]
    assert shown["person_id"] == body["person_id"]
    with runtime.reading() as session:
        report = find_report(session, body["receipt_code"])
        assert report is not None
        assert report.id == body["id"]
        assert report.handled_by == ngo
    # The report's incident is strict: its organisation reads it, with the narrative.
    incident = client.get(f"/api/v1/incidents/{body['incident_id']}", headers=headers).json()
    assert incident["tlp"] == "amber+strict"
    assert incident["narrative"] == REPORT["what_happened"]


def test_a_coordinator_may_hand_in_a_report_too(
    client: TestClient, organisation: Callable[..., str], member: Member
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.COORDINATOR)
    assert client.post("/api/v1/reports", json=REPORT, headers=headers).status_code == 201


def test_analysts_read_only_tokens_and_the_public_cannot_hand_in_reports(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    ngo = organisation("Exile Legal Aid")
    _, analyst = member(ngo, Role.ANALYST)
    _, reading = member(ngo, Role.CASEWORKER, scopes=frozenset({"read"}))

    refused = client.post("/api/v1/reports", json=REPORT, headers=analyst)
    read_only = client.post("/api/v1/reports", json=REPORT, headers=reading)
    public = client.post("/api/v1/reports", json=REPORT)
    malformed = client.post("/api/v1/reports", json=REPORT, headers={"Authorization": "Basic x"})

    assert refused.status_code == 403
    assert "caseworkers and coordinators" in refused.json()["error"]
    assert read_only.status_code == 403
    assert "may only read" in read_only.json()["error"]
    # Without a token, or with another kind of credential, nothing is read.
    assert public.status_code == 401
    assert public.headers["WWW-Authenticate"] == "Bearer"
    assert malformed.status_code == 401
    assert _count(runtime, Report) == 0
    assert _count(runtime, Incident) == 0


def test_a_report_is_shown_to_its_organisation_only(
    client: TestClient, organisation: Callable[..., str], member: Member
) -> None:
    _, author = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    _, outsider = member(organisation("Other NGO"), Role.CASEWORKER)
    location = client.post("/api/v1/reports", json=REPORT, headers=author).headers["location"]

    assert client.get(location, headers=outsider).status_code == 404
    assert client.get(location).status_code == 403
    missing = client.get("/api/v1/reports/01a00000-0000-7000-8000-000000000000", headers=author)
    malformed = client.get("/api/v1/reports/not-an-id", headers=author)
    assert missing.status_code == malformed.status_code == 404
    assert missing.json() == malformed.json()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"origin_state": "XX", "tactics": ["mind-control"]}, id="codes"),
        pytest.param({"target_name": TARGET + "\x07"}, id="control-character"),
        pytest.param({"target_name": TARGET * 20}, id="too-long"),
        pytest.param({"contact": {"method": "pigeon", "address": TARGET}}, id="contact"),
        pytest.param({"consent": ["everyone"], "what_happened": ""}, id="consent"),
        pytest.param({"unexpected": TARGET}, id="unknown-field"),
    ],
)
def test_an_invalid_report_is_refused_without_repeating_it(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Member,
    changes: dict[str, Any],
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)

    response = client.post(
        "/api/v1/reports", json={**REPORT, **changes}, headers=_key(headers, "bad-1")
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith("body.")
    for fragment in ("Dilnoza", "Karimova", "Westerhaus", "Tashkent", "pigeon", "everyone"):
        assert fragment not in response.text
    assert _counts(runtime) == {"Report": 0, "Incident": 0, "Person": 0, "IdempotencyKey": 0}


# -- Idempotency-Key -------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_answer_and_creates_nothing(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    keyed = _key(headers, "4d7a9c1e-report-0001")

    first = client.post("/api/v1/reports", json=REPORT, headers=keyed)
    after_first = _counts(runtime)
    again = client.post("/api/v1/reports", json=REPORT, headers=keyed)
    third = client.post("/api/v1/reports", json=REPORT, headers=keyed)

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert after_first == {"Report": 1, "Incident": 1, "Person": 2, "IdempotencyKey": 1}
    for retry in (again, third):
        assert retry.status_code == 201, retry.text
        assert retry.json() == first.json()
        assert retry.json()["receipt_code"] == first.json()["receipt_code"]
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.headers["location"] == first.headers["location"]
    assert _counts(runtime) == after_first
    # Without a key, the same body is a new report.
    fresh = client.post("/api/v1/reports", json=REPORT, headers=headers)
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first.json()["id"]
    assert _count(runtime, Report) == 2


def test_the_same_key_with_another_body_is_refused_clearly(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    keyed = _key(headers, "key-reused")
    first = client.post("/api/v1/reports", json=REPORT, headers=keyed)
    assert first.status_code == 201
    before = _counts(runtime)

    other = client.post("/api/v1/reports", json={**REPORT, "urgent": False}, headers=keyed)

    assert other.status_code == 422
    body = other.json()
    assert "Idempotency-Key was already used for a different request" in body["error"]
    assert "new key" in body["hint"]
    assert "idempotent-replayed" not in other.headers
    assert first.json()["receipt_code"] not in other.text
    assert _counts(runtime) == before
    # The first answer is still what a true retry gets.
    assert client.post("/api/v1/reports", json=REPORT, headers=keyed).json() == first.json()


def test_keys_are_scoped_to_the_organisation(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    _, first_org = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    _, colleague = member(organisation("Refugee Support Network"), Role.CASEWORKER)
    shared_key = "retry-0001"

    mine = client.post("/api/v1/reports", json=REPORT, headers=_key(first_org, shared_key))
    theirs = client.post("/api/v1/reports", json=REPORT, headers=_key(colleague, shared_key))

    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["receipt_code"] != mine.json()["receipt_code"]
    assert _count(runtime, Report) == 2
    assert _count(runtime, IdempotencyKey) == 2
    # Another organisation reusing the key with a different body is not "reuse" either.
    other_body = client.post(
        "/api/v1/reports",
        json={**REPORT, "urgent": False},
        headers=_key(member(organisation("Third NGO"), Role.CASEWORKER)[1], shared_key),
    )
    assert other_body.status_code == 201
    assert _count(runtime, Report) == 3


def test_a_key_is_forgotten_after_a_day(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    keyed = _key(headers, "old-key")
    first = client.post("/api/v1/reports", json=REPORT, headers=keyed).json()
    with runtime.transaction() as session:
        session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, minutes=1))
        )

    later = client.post("/api/v1/reports", json={**REPORT, "urgent": False}, headers=keyed)

    assert later.status_code == 201, later.text
    assert "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first["id"]
    assert _count(runtime, Report) == 2
    assert _count(runtime, IdempotencyKey) == 1


def test_a_key_of_200_characters_is_accepted(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)

    response = client.post("/api/v1/reports", json=REPORT, headers=_key(headers, "k" * 200))

    assert response.status_code == 201, response.text
    assert _count(runtime, IdempotencyKey) == 1


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("k" * 201, id="201-characters"),
        pytest.param("k" * 1000, id="1000-characters"),
        pytest.param("", id="empty"),
    ],
)
def test_a_key_longer_than_200_characters_is_refused(
    client: TestClient,
    runtime: Runtime,
    organisation: Callable[..., str],
    member: Member,
    key: str,
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)

    response = client.post("/api/v1/reports", json=REPORT, headers=_key(headers, key))

    assert response.status_code == 422, response.text
    assert "Idempotency-Key must be 1 to 200 printable ASCII characters" in response.json()["error"]
    assert _counts(runtime) == {"Report": 0, "Incident": 0, "Person": 0, "IdempotencyKey": 0}


def test_an_incident_created_with_a_key_is_created_once(
    client: TestClient, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    keyed = _key(headers, "incident-0001")

    first = client.post("/api/v1/incidents", json=INCIDENT, headers=keyed)
    again = client.post("/api/v1/incidents", json=INCIDENT, headers=keyed)
    changed = client.post("/api/v1/incidents", json={**INCIDENT, "title": "Other"}, headers=keyed)

    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/api/v1/incidents/{first.json()['id']}"
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert changed.status_code == 422
    assert _count(runtime, Incident) == 1
    assert _count(runtime, IdempotencyKey) == 1


# -- concurrent retries on a real server -----------------------------------------------------

THREADS = 8


def test_concurrent_retries_with_one_key_create_one_report(
    live_server: str, runtime: Runtime, organisation: Callable[..., str], member: Member
) -> None:
    _, headers = member(organisation("Exile Legal Aid"), Role.CASEWORKER)
    keyed = _key(headers, "concurrent-0001")
    start = threading.Barrier(THREADS)
    answers: list[tuple[int, dict[str, Any], bool]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            start.wait(timeout=30)
            response = httpx2.post(
                f"{live_server}/api/v1/reports", json=REPORT, headers=keyed, timeout=60
            )
            replayed = response.headers.get("idempotent-replayed") == "true"
            with lock:
                answers.append((response.status_code, response.json(), replayed))
        except BaseException as exc:  # reported below, with the thread's error
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert len(answers) == THREADS
    assert [status for status, _, _ in answers] == [201] * THREADS, answers
    assert len({body["id"] for _, body, _ in answers}) == 1
    assert len({body["receipt_code"] for _, body, _ in answers}) == 1
    # One request did the work; every other one got its answer back.
    assert sorted(replayed for _, _, replayed in answers) == [False] + [True] * (THREADS - 1)
    assert _counts(runtime) == {"Report": 1, "Incident": 1, "Person": 2, "IdempotencyKey": 1}
