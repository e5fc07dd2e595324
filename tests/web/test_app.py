from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from haven.runtime import Runtime, open_runtime
from haven.settings import Settings
from haven.web.app import SECURITY_HEADERS, create_app


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def test_health_reports_a_reachable_current_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["schema_current"] is True


def test_health_is_unavailable_before_migrations(tmp_path: Path) -> None:
    runtime = open_runtime(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/new.db"))
    try:
        with TestClient(create_app(runtime)) as client:
            response = client.get("/healthz")
    finally:
        runtime.close()
    assert response.status_code == 503
    assert response.json()["schema_current"] is False


def test_the_openapi_document_is_served_under_api_v1(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Haven"
    assert "/healthz" in document["paths"]


def test_the_docs_page_lists_operations_and_loads_nothing_from_elsewhere(
    client: TestClient,
) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "GET /healthz" in response.text
    assert "http://" not in response.text
    assert "https://" not in response.text


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/healthz", "/api/v1/openapi.json", "/no-such-page"):
        response = client.get(path)
        for header, value in SECURITY_HEADERS.items():
            assert response.headers[header] == value, (path, header)


def test_haven_serve_binds_the_given_host_and_port(live_server: str) -> None:
    response = httpx2.get(f"{live_server}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
