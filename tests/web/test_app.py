from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_haven_serve_binds_the_given_host_and_port(settings: Settings) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HAVEN_DATABASE_URL": settings.database_url,
        "HAVEN_KEY_FILE": str(settings.resolved_key_file),
        "HAVEN_DATA_DIR": str(settings.data_dir),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "haven", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                response = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.2)
        assert response is not None, server.stderr.read() if server.stderr else ""
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in out
