"""Answers every request gets: HSTS in production, and a 405 that names the methods of its
path in an ``Allow`` header."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from haven.access.accounts import (
    NewOrganisation,
    NewUser,
    TokenRequest,
    create_organisation,
    create_token,
    create_user,
)
from haven.domain.enums import ContributorKind, Role
from haven.runtime import Runtime
from haven.settings import Mode
from haven.web.app import STRICT_TRANSPORT, create_app


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """A client with a caseworker's token: writing API requests need one to reach routing."""
    cipher = runtime.cipher()
    with runtime.transaction() as session:
        new = NewOrganisation("Exile Legal Aid", ContributorKind.NGO)
        organisation_id = create_organisation(session, cipher, new, actor="test")
        user = NewUser(organisation_id, "cw@example.org", "a" * 16, frozenset({Role.CASEWORKER}))
        user_id = create_user(session, cipher, user, actor="test")
        request = TokenRequest(user_id, "test", frozenset({"read", "write"}), timedelta(days=1))
        secret = create_token(session, cipher, request, actor="test").secret
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(runtime), headers=headers) as client:
        yield client


PATHS = ("/", "/healthz", "/report", "/api/v1/openapi.json", "/no-such-page", "/static/x.css")


def test_production_answers_carry_strict_transport_security(runtime: Runtime) -> None:
    # model_copy skips the production checks (secret, key file), which are not the point here.
    runtime.settings = runtime.settings.model_copy(update={"mode": Mode.PRODUCTION})
    with TestClient(create_app(runtime), base_url="https://haven.test") as client:
        answers = [client.get(path) for path in PATHS]
        # Refusals too: the 401 the token check answers before the application runs.
        answers.append(client.post("/api/v1/reports", json={}))
        answers.append(client.options("/api/v1/incidents"))
    assert STRICT_TRANSPORT == "max-age=63072000; includeSubDomains"
    for answer in answers:
        assert answer.headers["Strict-Transport-Security"] == STRICT_TRANSPORT, answer.url


def test_development_sends_no_strict_transport_security(client: TestClient) -> None:
    for path in PATHS:
        assert "Strict-Transport-Security" not in client.get(path).headers


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/api/v1/incidents", "GET, POST"),
        ("PATCH", "/api/v1/incidents/0190f0e0-0000-7000-8000-000000000001", "GET, PUT"),
        ("OPTIONS", "/report", "GET, POST"),
        ("DELETE", "/healthz", "GET"),
        ("POST", "/static/style.css", "GET, HEAD"),
    ],
)
def test_a_405_names_every_method_of_its_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == allowed


def test_the_api_405_is_in_havens_words(client: TestClient) -> None:
    answer = client.options("/api/v1/incidents")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, POST"
    assert answer.json() == {
        "error": "OPTIONS is not answered here",
        "hint": "this address answers GET, POST",
    }
